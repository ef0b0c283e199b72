import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const BrokerErrorCode = defineErrorCodes('broker', {
  ERR_BROKER_MASTER_KEY:
    'The master key cannot be loaded: a missing or unreadable key file (or one readable by others: chmod 600), an unset variable, a value that is not 32 bytes of hex or base64, or a PKCS#11 module, token, PIN or key object that does not work; the message names which.',
  ERR_BROKER_MASTER_KEY_MISSING:
    'Some secrets are wrapped by a master key that is not configured (a rotation left unfinished, or the wrong key given): configure that key as a previous key and run the rotation to its end.',
  ERR_BROKER_MASTER_KEY_MISMATCH:
    'A configured master key has the id of a key the store knows but is another key (its canary does not decrypt): the wrong file, variable or HSM object.',
  ERR_BROKER_PKCS11: 'The HSM refused or failed an operation (session lost, token removed, mechanism not supported).',
  ERR_BROKER_UNWRAP: 'A sealed secret does not decrypt: its bytes were altered or moved to another node, name or version, or it was sealed under another key.',
  ERR_BROKER_INVALID: 'A secret, owner or name given to the broker is out of its domain (empty or too large a value, a bad name).',
  ERR_BROKER_BACKUP_FORMAT: 'A secrets backup is malformed, truncated or altered (a bad header, entry or final MAC); nothing was imported.',
  ERR_BROKER_BACKUP_KEY: 'The passphrase or key does not open this secrets backup; nothing was imported.',
  ERR_BROKER_BACKUP_CONFLICT:
    'A secret in the backup differs from the stored secret of the same node, name and version; an issued secret is never replaced, so nothing was imported.',
});

export type BrokerErrorCodeName = keyof typeof BrokerErrorCode;

export class BrokerError extends VouchError {
  constructor(code: BrokerErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
