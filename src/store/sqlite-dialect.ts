// Kysely over Node's built-in SQLite (node:sqlite). Kysely's SqliteDialect is written against
// better-sqlite3's Database; node:sqlite's DatabaseSync is close but differs in three ways that this
// adapter bridges:
// - statements take their parameters spread, not as one array;
// - StatementSync has no `reader` flag: a statement returns rows exactly when its prepared form has
//   result columns (a SELECT, or a write with RETURNING), which `columns()` reports;
// - node:sqlite binds no booleans, so they are bound as 1/0 (SQLite's own boolean representation).
// Kysely serializes every query through one connection (the SQLite adapter says it supports one), so
// transactions never interleave; schema changes run inside the migration transaction. Prepared statements are cached: preparing costs as much as running
// a point read.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { SqliteAdapter, SqliteDialect, type DialectAdapter, type SqliteDatabase, type SqliteStatement } from 'kysely';

/** Statements kept prepared; Vouch issues a few dozen distinct queries, so this bound is never reached in practice. */
const STATEMENT_CACHE_SIZE = 256;

function bindable(parameters: readonly unknown[]): SQLInputValue[] {
  return parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : (p as SQLInputValue)));
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #statement: StatementSync;

  constructor(statement: StatementSync) {
    this.#statement = statement;
    this.reader = statement.columns().length > 0;
  }

  all(parameters: readonly unknown[]): unknown[] {
    return this.#statement.all(...bindable(parameters));
  }

  run(parameters: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(...bindable(parameters));
  }

  iterate(parameters: readonly unknown[]): IterableIterator<unknown> {
    return this.#statement.iterate(...bindable(parameters));
  }
}

class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, NodeSqliteStatement>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#cache.get(sql);
    if (cached) {
      // Map order is insertion order: re-inserting keeps the most recently used entries last.
      this.#cache.delete(sql);
      this.#cache.set(sql, cached);
      return cached;
    }
    const statement = new NodeSqliteStatement(this.#db.prepare(sql));
    // Only plain data statements are cached: a schema change re-prepares cached statements, and a
    // statement prepared before it could report stale result columns.
    if (/^\s*(select|insert|update|delete|with)\b/i.test(sql)) {
      this.#cache.set(sql, statement);
      if (this.#cache.size > STATEMENT_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    } else {
      this.#cache.clear();
    }
    return statement;
  }

  close(): void {
    this.#cache.clear();
    this.#db.close();
  }
}

/**
 * SQLite rolls back schema changes with the transaction that made them; Kysely's adapter does not
 * claim it, and its migrator then runs migrations outside a transaction, where a crash would leave a
 * half-built schema.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class NodeSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

/** A Kysely dialect over an open node:sqlite database; Kysely closes it on `destroy()`. */
export function nodeSqliteDialect(db: DatabaseSync): SqliteDialect {
  return new NodeSqliteDialect({ database: new NodeSqliteDatabase(db) });
}
