// Keyset paging: each listing walks an index in order and resumes after the last key it returned,
// so page 1,000 of 100,000 nodes costs what page 1 costs (an OFFSET would read every row before it).
// The cursor is opaque to clients: base64url JSON of the listing's name and the last key.
import { StoreError } from './errors.ts';

export interface PageRequest {
  /** Rows per page, 1..MAX_PAGE_LIMIT (default DEFAULT_PAGE_LIMIT). */
  readonly limit?: number;
  /** The `nextCursor` of the previous page of the same listing. */
  readonly cursor?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Present when more rows follow. */
  readonly nextCursor?: string;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** A cursor longer than this is no cursor the store issued (keys are ids, names and times). */
const MAX_CURSOR_LENGTH = 1024;

export type KeyPart = 'string' | 'number';
type KeyValue<P extends KeyPart> = P extends 'string' ? string : number;
export type Key<S extends readonly KeyPart[]> = { readonly [I in keyof S]: KeyValue<S[I]> };

export function pageLimit(request: PageRequest): number {
  const limit = request.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new StoreError('ERR_STORE_INVALID', `page limit must be an integer in 1..${MAX_PAGE_LIMIT}, got ${String(limit)}`, { field: 'limit' });
  }
  return limit;
}

/** The key a cursor resumes after, or undefined on the first page. */
export function cursorKey<const S extends readonly KeyPart[]>(listing: string, shape: S, request: PageRequest): Key<S> | undefined {
  const cursor = request.cursor;
  if (cursor === undefined) return undefined;
  const bad = (why: string): StoreError => new StoreError('ERR_STORE_BAD_CURSOR', `paging cursor for ${listing} ${why}`, { listing });
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw bad('is not base64url text of a sane length');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('is not one the store issued');
  }
  if (!Array.isArray(decoded) || decoded.length !== shape.length + 1 || decoded[0] !== listing) throw bad('belongs to another listing');
  const key = decoded.slice(1) as unknown[];
  key.forEach((v, i) => {
    if (shape[i] === 'number' ? !Number.isSafeInteger(v) : typeof v !== 'string') throw bad(`has a bad key part ${i}`);
  });
  return key as unknown as Key<S>;
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says that more follow.
 * `keyOf` gives the listing's sort key of a row, which the next page resumes after.
 */
export function toPage<R, T>(listing: string, rows: readonly R[], limit: number, map: (row: R) => T, keyOf: (row: R) => readonly (string | number)[]): Page<T> {
  const items = rows.slice(0, limit).map(map);
  if (rows.length <= limit) return { items };
  const last = rows[limit - 1]!;
  return { items, nextCursor: Buffer.from(JSON.stringify([listing, ...keyOf(last)])).toString('base64url') };
}
