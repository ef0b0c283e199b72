import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const StoreErrorCode = defineErrorCodes('store', {
  ERR_STORE_LOCKED:
    'Another process already writes to this --data-dir (a second vouch serve on the same directory): stop it, or give this one its own directory or a PostgreSQL --database.',
  ERR_STORE_OPEN:
    'The store cannot be opened: the data directory or database file is not usable, or the database URL is malformed; the message names the cause.',
  ERR_STORE_UNAVAILABLE: 'The database did not answer (PostgreSQL down, unreachable socket, refused login); retry when it is back.',
  ERR_STORE_SCHEMA_NEWER:
    'The database was migrated by a newer Vouch (it holds schema migrations this build does not know): run the newer version, or restore a backup.',
  ERR_STORE_INVALID: 'A value given to the store is out of its domain (bad name, id, size, page limit or JSON); the message names the field.',
  ERR_STORE_BAD_CURSOR: 'A paging cursor is not one the store issued (malformed or for another listing).',
  ERR_STORE_NOT_FOUND: 'No row has this id (unknown node, challenge, session, result, policy, reference set or token).',
  ERR_STORE_CONFLICT:
    'The change conflicts with the stored state: a unique name, EK or version is already taken, or the row is not in the state the change expects.',
  ERR_STORE_EXPIRED: 'An enrollment challenge or attestation session was used after its expiry; start a new one.',
  ERR_STORE_CONSUMED: 'An enrollment challenge or attestation session was already used (each is single-use); start a new one.',
  ERR_STORE_APPEND_ONLY: 'A change would delete an issued secret or edit the audit log, which the store never allows.',
});

export type StoreErrorCodeName = keyof typeof StoreErrorCode;

export class StoreError extends VouchError {
  constructor(code: StoreErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
