// Database errors become StoreErrors at the driver, the one place every query passes through on
// both dialects: callers see ERR_STORE_CONFLICT for a taken name whether SQLite or PostgreSQL
// refused it, and no repository has to remember to translate. Errors the store has no meaning for
// (a bug in a query, a full disk) keep their original form.
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { StoreError } from './errors.ts';
import { REFUSAL_MESSAGE_PREFIX } from './migrations.ts';

// SQLite extended result codes (https://sqlite.org/rescode.html).
const SQLITE_BUSY = 5;
const SQLITE_CONSTRAINT_CHECK = 275;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_TRIGGER = 1811;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

// Node's socket errors when PostgreSQL is not there.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

interface DatabaseErrorShape {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly errcode?: unknown;
  readonly constraint?: unknown;
  readonly table?: unknown;
}

/** The StoreError a database error means, or undefined when it means nothing the caller can act on. */
export function storeErrorFor(e: unknown): StoreError | undefined {
  if (e instanceof StoreError) return e;
  if (typeof e !== 'object' || e === null) return undefined;
  const err = e as DatabaseErrorShape;
  const message = typeof err.message === 'string' ? err.message : '';
  if (message.includes(REFUSAL_MESSAGE_PREFIX)) {
    return new StoreError('ERR_STORE_APPEND_ONLY', message.slice(message.indexOf(REFUSAL_MESSAGE_PREFIX)), {}, { cause: e });
  }
  const details = {
    ...(typeof err.constraint === 'string' ? { constraint: err.constraint } : {}),
    ...(typeof err.table === 'string' ? { table: err.table } : {}),
  };
  if (typeof err.errcode === 'number') {
    switch (err.errcode) {
      case SQLITE_CONSTRAINT_UNIQUE:
      case SQLITE_CONSTRAINT_PRIMARYKEY:
        return new StoreError('ERR_STORE_CONFLICT', `already stored: ${message}`, details, { cause: e });
      case SQLITE_CONSTRAINT_FOREIGNKEY:
        return new StoreError('ERR_STORE_NOT_FOUND', `refers to a row that does not exist: ${message}`, details, { cause: e });
      case SQLITE_CONSTRAINT_CHECK:
        return new StoreError('ERR_STORE_INVALID', `value out of its column's domain: ${message}`, details, { cause: e });
      case SQLITE_CONSTRAINT_TRIGGER:
        return new StoreError('ERR_STORE_APPEND_ONLY', message, details, { cause: e });
      case SQLITE_BUSY:
        return new StoreError('ERR_STORE_UNAVAILABLE', `the database file is busy (another process holds a lock on it): ${message}`, details, { cause: e });
      default:
        return undefined;
    }
  }
  if (typeof err.code !== 'string') return undefined;
  // PostgreSQL SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
  const code = err.code;
  if (code === '23505') return new StoreError('ERR_STORE_CONFLICT', `already stored: ${message}`, details, { cause: e });
  if (code === '23503') return new StoreError('ERR_STORE_NOT_FOUND', `refers to a row that does not exist: ${message}`, details, { cause: e });
  if (code === '23514') return new StoreError('ERR_STORE_INVALID', `value out of its column's domain: ${message}`, details, { cause: e });
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('28') || UNREACHABLE.has(code)) {
    return new StoreError('ERR_STORE_UNAVAILABLE', `PostgreSQL is unavailable: ${message || code}`, { sqlstate: code }, { cause: e });
  }
  if (code === '3D000') return new StoreError('ERR_STORE_OPEN', `no such database: ${message}`, {}, { cause: e });
  return undefined;
}

function translated(e: unknown): unknown {
  return storeErrorFor(e) ?? e;
}

async function translating<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (e) {
    throw translated(e);
  }
}

class TranslatingConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;

  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return translating(this.inner.executeQuery<R>(compiledQuery));
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (e) {
      throw translated(e);
    }
  }
}

class TranslatingDriver implements Driver {
  readonly #inner: Driver;
  readonly #wrappers = new WeakMap<DatabaseConnection, TranslatingConnection>();

  constructor(inner: Driver) {
    this.#inner = inner;
  }

  #wrap(connection: DatabaseConnection): TranslatingConnection {
    let wrapper = this.#wrappers.get(connection);
    if (!wrapper) {
      wrapper = new TranslatingConnection(connection);
      this.#wrappers.set(connection, wrapper);
    }
    return wrapper;
  }

  /** The driver's own connection behind one of ours. */
  #unwrap(connection: DatabaseConnection): DatabaseConnection {
    if (!(connection instanceof TranslatingConnection)) throw new Error('a connection this driver did not hand out');
    return connection.inner;
  }

  init(): Promise<void> {
    return translating(this.#inner.init());
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#wrap(await translating(this.#inner.acquireConnection()));
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return translating(this.#inner.beginTransaction(this.#unwrap(connection), settings));
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return translating(this.#inner.commitTransaction(this.#unwrap(connection)));
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return translating(this.#inner.rollbackTransaction(this.#unwrap(connection)));
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(this.#unwrap(connection));
  }
  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** The dialect with its driver's errors translated (see storeErrorFor). */
export function translatingDialect(inner: Dialect): Dialect {
  return {
    createDriver: () => new TranslatingDriver(inner.createDriver()),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
  };
}
