// Checks on values entering the store (each a named bound, so a row's size is bounded) and the
// conversions of values leaving it. The HTTP layer validates requests first; these checks keep the
// store's own guarantees whoever calls it.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { StoreError } from './errors.ts';
import type { Dialect } from './migrations.ts';
import type { StoreDatabase } from './schema.ts';

/** What every repository works with: the database (or the open transaction), its dialect and the clock. */
export interface StoreContext {
  readonly db: Kysely<StoreDatabase>;
  readonly dialect: Dialect;
  /** Milliseconds since the Unix epoch; injected so tests control expiry. */
  readonly now: () => number;
}

/** Runs fn in the caller's transaction if there is one, else in a new transaction. */
export async function atomic<T>(ctx: StoreContext, fn: (ctx: StoreContext) => Promise<T>): Promise<T> {
  if (ctx.db.isTransaction) return fn(ctx);
  return ctx.db.transaction().execute((tx) => fn({ ...ctx, db: tx }));
}

/**
 * Serializes writers of one logical key until the transaction ends, across every replica of a
 * PostgreSQL store (a transaction-scoped advisory lock). SQLite has one writer process, whose
 * transactions Kysely already runs one at a time.
 */
export async function lockKey(ctx: StoreContext, key: string): Promise<void> {
  if (ctx.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(ctx.db);
}

export function newId(): string {
  return randomUUID();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids are UUIDs the store made; anything else names no row (and is never sent to the database). */
export function isId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

export function notFound(what: string, id: unknown): StoreError {
  return new StoreError('ERR_STORE_NOT_FOUND', `no ${what} ${typeof id === 'string' ? JSON.stringify(id.slice(0, 80)) : 'with that id'}`, { what });
}

function invalid(field: string, why: string): StoreError {
  return new StoreError('ERR_STORE_INVALID', `${field} ${why}`, { field });
}

export function checkBytes(value: unknown, field: string, max: number, min = 1): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(field, 'must be bytes');
  if (value.length < min || value.length > max) throw invalid(field, `must be ${min}..${max} bytes, got ${value.length}`);
  return value;
}

export function checkText(value: unknown, field: string, max: number, pattern?: RegExp): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters, got ${value.length}`);
  if (pattern && !pattern.test(value)) throw invalid(field, `must match ${String(pattern)}`);
  return value;
}

export function checkTime(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(field, 'must be a time in milliseconds since the epoch');
  return value as number;
}

export function checkPositive(value: unknown, field: string, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max) throw invalid(field, `must be an integer in 1..${max}`);
  return value as number;
}

export function checkOneOf<const T extends readonly string[]>(value: unknown, field: string, allowed: T): T[number] {
  if (typeof value !== 'string' || !allowed.includes(value)) throw invalid(field, `must be one of ${allowed.join(', ')}`);
  return value;
}

/** JSON text of a value, at most `max` characters; refuses what JSON cannot carry (BigInt, cycles, undefined). */
export function jsonText(value: unknown, field: string, max: number): string {
  // JSON.stringify gives no text at all for these (its declared return type notwithstanding).
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') throw invalid(field, 'is not representable as JSON');
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new StoreError('ERR_STORE_INVALID', `${field} is not representable as JSON: ${(e as Error).message}`, { field }, { cause: e });
  }
  if (text.length > max) throw invalid(field, `must be at most ${max} characters of JSON, got ${text.length}`);
  return text;
}

export function parseJson(text: string): unknown {
  return JSON.parse(text) as unknown;
}

/** Byte columns come back as Buffer (pg) or Uint8Array (node:sqlite); callers get plain Uint8Array views. */
export function bytes(value: Uint8Array): Uint8Array {
  return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

export function bytesOrNull(value: Uint8Array | null): Uint8Array | null {
  return value === null ? null : bytes(value);
}

/**
 * Kubernetes node names are DNS subdomain names (RFC 1123), and a node's name ends up in its
 * kubelet certificate (CN=system:node:<name>): lower-case labels of letters, digits and hyphens.
 */
export const NODE_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Names of releases, secrets and admin tokens: printable, no separators that could confuse a log line. */
export const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;
