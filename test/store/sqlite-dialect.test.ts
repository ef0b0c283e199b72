import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { Kysely, sql } from 'kysely';
import { canonicalJson } from '../../src/store/index.ts';
import { nodeSqliteDialect } from '../../src/store/sqlite-dialect.ts';

interface Db {
  t: { id: number; name: string; flag: number; data: Uint8Array | null };
}

function memory(): Kysely<Db> {
  return new Kysely<Db>({ dialect: nodeSqliteDialect(new DatabaseSync(':memory:')) });
}

test('node:sqlite under Kysely: writes with RETURNING return rows, plain writes report counts, booleans bind as 1/0, blobs round-trip', async () => {
  const db = memory();
  await db.schema
    .createTable('t')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('flag', 'integer')
    .addColumn('data', 'blob')
    .execute();
  const inserted = await db
    .insertInto('t')
    .values({ id: 1, name: 'a', flag: true as unknown as number, data: new Uint8Array([1, 2, 3]) })
    .returning(['id', 'flag'])
    .executeTakeFirst();
  assert.deepEqual({ ...inserted }, { id: 1, flag: 1 });
  const plain = await db.insertInto('t').values({ id: 2, name: 'b', flag: 0, data: null }).executeTakeFirst();
  assert.equal(plain.numInsertedOrUpdatedRows, 1n);
  const updated = await db.updateTable('t').set({ name: 'c' }).where('id', '>', 0).executeTakeFirst();
  assert.equal(updated.numUpdatedRows, 2n);
  const row = await db.selectFrom('t').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  assert.deepEqual(row.data, new Uint8Array([1, 2, 3]));
  await db.destroy();
});

test('a cached statement is not reused across a schema change (its result columns would be stale)', async () => {
  const db = memory();
  await sql`create table t (id integer primary key, name text)`.execute(db);
  await sql`insert into t values (1, 'a')`.execute(db);
  const query = () => db.selectFrom('t').selectAll().execute();
  assert.deepEqual(Object.keys((await query())[0]!), ['id', 'name']);
  await sql`alter table t add column flag integer default 7`.execute(db);
  assert.deepEqual({ ...(await query())[0] }, { id: 1, name: 'a', flag: 7 });
  await db.destroy();
});

test('transactions on the one connection run one at a time, and a failed one rolls back', async () => {
  const db = memory();
  await sql`create table t (id integer primary key, name text, flag integer, data blob)`.execute(db);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      db.transaction().execute(async (tx) => {
        await tx
          .insertInto('t')
          .values({ id: i, name: `n${i}`, flag: 0, data: null })
          .execute();
        await Promise.resolve();
        if (i % 4 === 0) throw new Error('rolled back');
      }),
    ),
  );
  assert.equal(results.filter((r) => r.status === 'rejected').length, 5);
  assert.equal((await db.selectFrom('t').select('id').execute()).length, 15);
  await db.destroy();
});

test('canonical JSON: key order never matters, a round trip through JSON text changes nothing, and non-JSON values are refused', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      assert.equal(canonicalJson(JSON.parse(text)), text);
      assert.doesNotThrow(() => JSON.parse(text) as unknown);
    }),
  );
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 0, y: -0 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":0}}');
  assert.equal(canonicalJson({ '\u00e9': 1, e: 2, E: 3 }), '{"E":3,"e":2,"é":1}');
  for (const bad of [undefined, NaN, Infinity, 1n, () => 1, new Date(0), new Map(), { a: undefined }]) {
    assert.throws(() => canonicalJson(bad), { code: 'ERR_STORE_INVALID' });
  }
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => canonicalJson(deep), { code: 'ERR_STORE_INVALID', message: /nests deeper/ });
});
