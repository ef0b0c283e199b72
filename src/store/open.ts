// Opening a store: the embedded SQLite file in --data-dir (one writer process) or a PostgreSQL
// database shared by replicas. Both are migrated to this build's schema at open, and a database
// migrated by a newer build is refused rather than guessed at.
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, PostgresDialect, type KyselyConfig, type LogEvent } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import pg from 'pg';
import { makeDirectory } from '../io/index.ts';
import { storeErrorFor, translatingDialect } from './database-errors.ts';
import { StoreError } from './errors.ts';
import { storeMigrations, type Dialect } from './migrations.ts';
import type { StoreDatabase } from './schema.ts';
import { nodeSqliteDialect } from './sqlite-dialect.ts';
import { Store } from './store.ts';

/** The embedded database file inside --data-dir. */
export const DATABASE_FILE = 'vouch.db';
/** Held (an exclusive SQLite lock) by the one process that writes the data directory. */
export const WRITER_LOCK_FILE = 'writer.lock';
/** Names the process holding the writer lock, for the error a second one gets. */
const WRITER_PID_FILE = 'writer.pid';
/** How long a statement waits for SQLite's own file locks (a checkpoint, an external reader). */
const SQLITE_BUSY_TIMEOUT_MS = 5000;
const MIGRATION_TABLE = 'schema_migrations';

export type StoreLocation = { readonly dataDir: string } | { readonly databaseUrl: string };

export interface OpenStoreOptions {
  /** Milliseconds since the epoch; default Date.now. Replicas should run NTP: expiry compares their clocks. */
  readonly clock?: () => number;
  /** PostgreSQL connections per process (default 10). */
  readonly poolSize?: number;
  /** Errors of idle PostgreSQL connections (a restarted server); the next query reports ERR_STORE_UNAVAILABLE anyway. */
  readonly onIdleError?: (error: Error) => void;
  /** Called after every query (slow-query logs, metrics, query-plan tests). */
  readonly onQuery?: (query: QueryEvent) => void;
}

export interface QueryEvent {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly durationMs: number;
  /** Set when the query failed. */
  readonly error?: unknown;
}

function kyselyLog(options: OpenStoreOptions): KyselyConfig['log'] {
  const onQuery = options.onQuery;
  if (!onQuery) return undefined;
  return (event: LogEvent) => {
    onQuery({
      sql: event.query.sql,
      parameters: event.query.parameters,
      durationMs: event.queryDurationMillis,
      ...(event.level === 'error' ? { error: event.error } : {}),
    });
  };
}

/**
 * Opens (creating and migrating as needed) the store at `location`. For a data directory this
 * process becomes its one writer until close(); a second opener gets ERR_STORE_LOCKED.
 *
 * @example
 *   await using store = await openStore({ dataDir: '/var/lib/vouch' });
 *   const node = await store.nodes.getByName('worker-1');
 */
export async function openStore(location: StoreLocation, options: OpenStoreOptions = {}): Promise<Store> {
  return 'dataDir' in location ? openSqlite(location.dataDir, options) : openPostgres(location.databaseUrl, options);
}

/**
 * The writer lock: an exclusive transaction held open on a small SQLite file for the process's
 * lifetime. The kernel drops the lock when the process dies however it dies (SIGKILL included), so
 * a crash never leaves a stale lock, and a second process, or a second open in this process,
 * fails at once instead of writing beside the first.
 */
function acquireWriterLock(dataDir: string): () => void {
  const lock = new DatabaseSync(join(dataDir, WRITER_LOCK_FILE));
  try {
    lock.exec('PRAGMA busy_timeout = 0; PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE');
  } catch (e) {
    lock.close();
    let holder = '';
    try {
      holder = ` by pid ${readFileSync(join(dataDir, WRITER_PID_FILE), 'utf8').trim()}`;
    } catch {
      // The holder has not written its pid yet.
    }
    throw new StoreError('ERR_STORE_LOCKED', `${dataDir} is already open for writing${holder}: one vouch serve per data directory`, { dataDir }, { cause: e });
  }
  writeFileSync(join(dataDir, WRITER_PID_FILE), `${process.pid}\n`, { mode: 0o600 });
  return () => {
    rmSync(join(dataDir, WRITER_PID_FILE), { force: true });
    lock.close();
  };
}

async function openSqlite(dataDir: string, options: OpenStoreOptions): Promise<Store> {
  try {
    // Owner-only: the directory holds token digests and sealed secrets.
    await makeDirectory(dataDir, 0o700);
  } catch (e) {
    throw new StoreError('ERR_STORE_OPEN', `cannot create data directory ${dataDir}: ${(e as Error).message}`, { dataDir }, { cause: e });
  }
  let release: () => void;
  let db: DatabaseSync;
  try {
    release = acquireWriterLock(dataDir);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_OPEN', `cannot use data directory ${dataDir}: ${(e as Error).message}`, { dataDir }, { cause: e });
  }
  try {
    const file = join(dataDir, DATABASE_FILE);
    // SQLite gives its -wal and -shm files the database file's mode, so creating it 0600 keeps all three private.
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    db = new DatabaseSync(file);
    const mode = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: string } | undefined;
    if (mode?.journal_mode !== 'wal') throw new Error(`the file system does not support SQLite's WAL mode (journal_mode is ${String(mode?.journal_mode)})`);
    // FULL: a commit is on disk (the WAL fsynced) before it returns; NORMAL could lose the last
    // commits on power loss, and an issued key must never be lost.
    db.exec(`PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}; PRAGMA trusted_schema = OFF`);
  } catch (e) {
    release();
    throw new StoreError('ERR_STORE_OPEN', `cannot open the database in ${dataDir}: ${(e as Error).message}`, { dataDir }, { cause: e });
  }
  const kysely = new Kysely<StoreDatabase>({ dialect: translatingDialect(nodeSqliteDialect(db)), log: kyselyLog(options) });
  const close = async (): Promise<void> => {
    try {
      await kysely.destroy();
    } finally {
      release();
    }
  };
  return finishOpen(kysely, 'sqlite', options, close);
}

const PG_INT8_OID = 20;

async function openPostgres(databaseUrl: string, options: OpenStoreOptions): Promise<Store> {
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new StoreError('ERR_STORE_OPEN', 'a database URL must start with postgres:// or postgresql://', {});
  }
  // int8 as a JS number: Vouch's 64-bit columns are millisecond times and counts, far below 2^53.
  const types = new pg.TypeOverrides();
  types.setTypeParser(PG_INT8_OID, Number);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, types });
  pool.on('error', (e) => options.onIdleError?.(e));
  // A connection the database drops while a transaction holds it (checked out, between two
  // statements) emits 'error' on its client, which the pool does not listen to then: without this
  // listener that event kills the process. The transaction's next statement fails anyway.
  pool.on('connect', (client) => client.on('error', (e) => options.onIdleError?.(e)));
  const kysely = new Kysely<StoreDatabase>({ dialect: translatingDialect(new PostgresDialect({ pool })), log: kyselyLog(options) });
  return finishOpen(kysely, 'postgres', options, () => kysely.destroy());
}

async function finishOpen(kysely: Kysely<StoreDatabase>, dialect: Dialect, options: OpenStoreOptions, close: () => Promise<void>): Promise<Store> {
  try {
    await migrate(kysely, dialect);
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  return new Store({ db: kysely, dialect, now: options.clock ?? Date.now }, close);
}

async function migrate(kysely: Kysely<StoreDatabase>, dialect: Dialect): Promise<void> {
  const migrations = storeMigrations(dialect);
  const applied = await appliedMigrations(kysely);
  const unknown = applied.filter((name) => !(name in migrations));
  if (unknown.length) {
    throw new StoreError(
      'ERR_STORE_SCHEMA_NEWER',
      `the database has schema migrations this Vouch does not know (${unknown.join(', ')}): it was upgraded by a newer version`,
      { unknown },
    );
  }
  const migrator = new Migrator({
    db: kysely,
    provider: { getMigrations: () => Promise.resolve<Record<string, Migration>>(migrations) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw storeErrorFor(error) ?? new StoreError('ERR_STORE_OPEN', `migrating the database failed: ${(error as Error).message}`, {}, { cause: error });
  }
}

/** Names of the migrations the database has run (none for a new database). */
async function appliedMigrations(kysely: Kysely<StoreDatabase>): Promise<string[]> {
  const tables = await kysely.introspection.getTables();
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) return [];
  const rows = await (kysely as unknown as Kysely<Record<typeof MIGRATION_TABLE, { name: string }>>).selectFrom(MIGRATION_TABLE).select('name').execute();
  return rows.map((r) => r.name);
}
