import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { DATABASE_FILE, openStore, type Store } from '../../src/store/index.ts';
import { postgresForTest } from '../helpers/postgres.ts';
import { storeFixture, storeTest } from './harness.ts';
import { startChild } from './processes.ts';

/** Tables, their columns and indexes as the database reports them, dialect-neutral. */
async function schemaOf(store: Store): Promise<Record<string, { columns: string[]; indexes: string[] }>> {
  const out: Record<string, { columns: string[]; indexes: string[] }> = {};
  for (const t of await store.kysely.introspection.getTables()) {
    if (t.name.startsWith('schema_migrations')) continue;
    out[t.name] = { columns: t.columns.map((c) => `${c.name}${c.isNullable ? '?' : ''}`).sort(), indexes: [] };
  }
  const indexes =
    store.dialect === 'sqlite'
      ? await sql<{
          tbl_name: string;
          name: string;
        }>`select tbl_name, name from sqlite_master where type = 'index' and name not like 'sqlite_autoindex%'`.execute(store.kysely)
      : await sql<{
          tbl_name: string;
          name: string;
        }>`select tablename as tbl_name, indexname as name from pg_indexes where schemaname = 'public' and indexname not in (select conname from pg_constraint)`.execute(
          store.kysely,
        );
  for (const r of indexes.rows) out[r.tbl_name]?.indexes.push(r.name);
  for (const t of Object.values(out)) t.indexes.sort();
  return out;
}

test('the migrations build the same tables, columns and indexes on SQLite and PostgreSQL', async (t) => {
  const sqlite = await storeFixture(t, 'sqlite');
  const postgres = await storeFixture(t, 'postgres');
  if (!sqlite || !postgres) return;
  const a = await schemaOf(await sqlite.open());
  const b = await schemaOf(await postgres.open());
  assert.deepEqual(a, b);
  assert.ok(Object.keys(a).length >= 15);
});

storeTest('reopening runs no migration twice and keeps the data', async (_t, f) => {
  const store = await f.open();
  await store.audit.append({ actor: 'test', action: 'test.first' });
  await store.close();
  const again = await f.open();
  assert.equal((await again.audit.head()).seq, 1);
  const migrations = await sql<{ name: string }>`select name from schema_migrations`.execute(again.kysely);
  assert.deepEqual(
    migrations.rows.map((r) => r.name),
    ['0001-initial', '0002-server', '0003-dashboard-sessions'],
  );
});

storeTest('a database migrated by a newer Vouch is refused with ERR_STORE_SCHEMA_NEWER', async (_t, f) => {
  const store = await f.open();
  await sql`insert into schema_migrations (name, timestamp) values ('9999-from-the-future', '2030-01-01T00:00:00.000Z')`.execute(store.kysely);
  await store.close();
  await assert.rejects(f.open(), { code: 'ERR_STORE_SCHEMA_NEWER', message: /9999-from-the-future/ });
});

test('the embedded store is durable and private: WAL, synchronous=FULL, foreign keys on, owner-only files', async (t) => {
  const f = await storeFixture(t, 'sqlite');
  assert.ok(f && 'dataDir' in f.location);
  const store = await f.open();
  const pragma = async (name: string): Promise<unknown> => Object.values((await sql.raw(`pragma ${name}`).execute(store.kysely)).rows[0] as object)[0];
  assert.equal(await pragma('journal_mode'), 'wal');
  assert.equal(await pragma('synchronous'), 2); // FULL
  assert.equal(await pragma('foreign_keys'), 1);
  await store.audit.append({ actor: 'test', action: 'test.write' });
  assert.equal((await stat(f.location.dataDir)).mode & 0o777, 0o700);
  for (const file of [DATABASE_FILE, `${DATABASE_FILE}-wal`]) assert.equal((await stat(join(f.location.dataDir, file))).mode & 0o777, 0o600, file);
});

test('a second writer on one data directory fails with ERR_STORE_LOCKED, in another process and in this one; a SIGKILLed writer leaves no stale lock', async (t) => {
  const f = await storeFixture(t, 'sqlite');
  assert.ok(f);
  const first = await f.open();
  await first.audit.append({ actor: 'test', action: 'test.before' });
  await assert.rejects(f.open(), { code: 'ERR_STORE_LOCKED', message: new RegExp(`pid ${process.pid}`) });
  await first.close();

  const holder = startChild(t, { op: 'hold', location: f.location });
  await holder.line('ready');
  await assert.rejects(f.open(), { code: 'ERR_STORE_LOCKED', message: new RegExp(`pid ${String(holder.process.pid)}`) });
  await holder.kill();

  const after = await f.open();
  assert.equal((await after.audit.verify()).entries, 1);
});

test('an unusable data directory or database URL gives ERR_STORE_OPEN; an unreachable PostgreSQL ERR_STORE_UNAVAILABLE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'file'), 'not a directory');
  await assert.rejects(openStore({ dataDir: join(dir, 'file') }), { code: 'ERR_STORE_OPEN' });
  await assert.rejects(openStore({ dataDir: join(dir, 'file', 'below') }), { code: 'ERR_STORE_OPEN' });
  await assert.rejects(openStore({ databaseUrl: 'mysql://localhost/vouch' }), { code: 'ERR_STORE_OPEN' });
  await assert.rejects(openStore({ databaseUrl: `postgresql://vouch@/vouch?host=${encodeURIComponent(join(dir, 'no-socket-here'))}` }), {
    code: 'ERR_STORE_UNAVAILABLE',
  });
  const server = await postgresForTest(t);
  if (server) await assert.rejects(openStore({ databaseUrl: server.url('no_such_database') }), { code: 'ERR_STORE_OPEN' });
});

test('a PostgreSQL restart costs at most one ERR_STORE_UNAVAILABLE; the pool reconnects and nothing crashes', async (t) => {
  const f = await storeFixture(t, 'postgres');
  const server = await postgresForTest(t);
  if (!f || !server) return;
  const idleErrors: Error[] = [];
  const store = await f.open({ onIdleError: (e) => idleErrors.push(e) });
  await store.audit.append({ actor: 'test', action: 'test.before' });
  await server.restart();
  let failures = 0;
  for (;;) {
    try {
      await store.audit.append({ actor: 'test', action: 'test.after' });
      break;
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'ERR_STORE_UNAVAILABLE');
      assert.ok(++failures <= 10, 'the pool reconnects');
    }
  }
  assert.ok(failures <= 1, `${failures} failures`);
  assert.ok((await store.audit.verify()).ok);
  assert.equal((await store.audit.head()).seq, 2);
});
