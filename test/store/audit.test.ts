import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { canonicalJson, type AuditChainReport, type Dialect, type Store } from '../../src/store/index.ts';
import { DIALECTS, storeFixture, storeTest } from './harness.ts';
import { startChild } from './processes.ts';

storeTest('entries chain: each hashes the canonical JSON of its content and the previous hash', async (_t, f) => {
  const store = await f.open();
  const first = await store.audit.append({ actor: 'admin:alice', action: 'node.approve', subject: 'n1', details: { b: [1, 'two'], a: null } });
  const second = await store.audit.append({ actor: 'server', action: 'release.secrets', subject: 'n1', details: { names: ['luks-key'] } });
  assert.deepEqual(first.prevHash, new Uint8Array(32));
  const expected = createHash('sha256')
    .update(canonicalJson({ seq: 1, at: first.at, actor: 'admin:alice', action: 'node.approve', subject: 'n1', details: { a: null, b: [1, 'two'] } }))
    .update(first.prevHash)
    .digest();
  assert.deepEqual(Buffer.from(first.hash), expected);
  assert.deepEqual(second.prevHash, first.hash);
  assert.deepEqual(await store.audit.head(), { seq: 2, hash: second.hash });
  const report = await store.audit.verify();
  assert.deepEqual(report.problems, []);
  assert.ok(report.ok);
  assert.equal(report.entries, 2);
  const page = await store.audit.list({ subject: 'n1', limit: 1 });
  assert.equal(page.items[0]?.seq, 2);
  assert.equal((await store.audit.list({ subject: 'n1', limit: 1, cursor: page.nextCursor! })).items[0]?.seq, 1);
  await assert.rejects(store.audit.append({ actor: 'x', action: 'x', details: { n: Infinity } }), { code: 'ERR_STORE_INVALID' });
  await assert.rejects(store.audit.append({ actor: 'x', action: 'x', details: new Date() }), { code: 'ERR_STORE_INVALID' });
});

storeTest('the database itself refuses to update or delete audit entries and issued secrets', async (_t, f) => {
  const store = await f.open();
  await store.audit.append({ actor: 'server', action: 'test.entry' });
  await store.secrets.add('owner-1', 'luks-key', () => ({ keyId: 'k', wrappedKey: new Uint8Array(60), ciphertext: new Uint8Array(61) }));
  await assert.rejects(sql`update audit_log set actor = 'someone else'`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
  await assert.rejects(sql`delete from audit_log`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
  await assert.rejects(sql`delete from secrets`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
  await assert.rejects(sql`update secrets set ciphertext = ${new Uint8Array(61)}`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
  if (f.dialect === 'postgres') {
    await assert.rejects(sql`truncate audit_log`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
    await assert.rejects(sql`truncate secrets`.execute(store.kysely), { code: 'ERR_STORE_APPEND_ONLY' });
  }
  assert.ok((await store.audit.verify()).ok);
});

// Attacks by someone who can write the database directly: the append-only triggers are dropped
// first (an attacker with those rights can), then rows are changed with plain SQL.
async function tamper(store: Store, edit: (db: Store['kysely']) => Promise<void>): Promise<AuditChainReport> {
  for (const trigger of ['audit_log_no_update', 'audit_log_no_delete']) {
    await sql.raw(store.dialect === 'sqlite' ? `drop trigger ${trigger}` : `drop trigger ${trigger} on audit_log`).execute(store.kysely);
  }
  await edit(store.kysely);
  return store.audit.verify();
}

/** The hash an attacker would compute for a forged entry. */
function forgedHash(e: { seq: number; at: number; actor: string; action: string; subject: string | null; details: unknown }, prev: Uint8Array): Uint8Array {
  return createHash('sha256').update(canonicalJson(e)).update(prev).digest();
}

async function chain(t: TestContext, dialect: Dialect): Promise<Store | undefined> {
  const f = await storeFixture(t, dialect);
  if (!f) return undefined;
  const store = await f.open();
  for (let i = 1; i <= 8; i++) await store.audit.append({ actor: 'server', action: 'attest.affirming', subject: `node-${i}`, details: { i } });
  return store;
}

function kinds(report: AuditChainReport): string[] {
  return report.problems.map((p) => `${p.kind}@${p.seq}`);
}

for (const dialect of DIALECTS) {
  test(`verifyAuditChain finds every edit made with SQL: edited, deleted, inserted, reordered rows and a cut tail [${dialect}]`, async (t) => {
    const edited = await chain(t, dialect);
    if (!edited) return;
    const r1 = await tamper(edited, (db) => sql`update audit_log set details = '{"i":999}' where seq = 5`.execute(db).then(() => undefined));
    assert.deepEqual(kinds(r1), ['edited@5']);
    assert.equal(r1.ok, false);

    // The attacker also recomputes the edited entry's hash: the next entry no longer chains to it.
    const rehashed = (await chain(t, dialect))!;
    const r2 = await tamper(rehashed, async (db) => {
      const row = (await sql<{ at: number; prev_hash: Uint8Array }>`select at, prev_hash from audit_log where seq = 5`.execute(db)).rows[0]!;
      const hash = forgedHash({ seq: 5, at: row.at, actor: 'server', action: 'attest.affirming', subject: 'node-5', details: { i: 999 } }, row.prev_hash);
      await sql`update audit_log set details = '{"i":999}', hash = ${hash} where seq = 5`.execute(db);
    });
    assert.deepEqual(kinds(r2), ['broken-link@6']);

    const deleted = (await chain(t, dialect))!;
    const r3 = await tamper(deleted, (db) => sql`delete from audit_log where seq = 4`.execute(db).then(() => undefined));
    assert.deepEqual(kinds(r3), ['missing@4', 'broken-link@5']);

    // An entry inserted at 5, chained correctly to 4; the later entries renumbered to make room.
    const inserted = (await chain(t, dialect))!;
    const r4 = await tamper(inserted, async (db) => {
      await sql`update audit_log set seq = seq + 1000 where seq >= 5`.execute(db);
      await sql`update audit_log set seq = seq - 999 where seq >= 1000`.execute(db);
      const prev = (await sql<{ hash: Uint8Array }>`select hash from audit_log where seq = 4`.execute(db)).rows[0]!.hash;
      const forged = { seq: 5, at: 1, actor: 'admin:mallory', action: 'node.approve', subject: 'node-evil', details: {} };
      await sql`insert into audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
        values (5, 1, 'admin:mallory', 'node.approve', 'node-evil', '{}', ${prev}, ${forgedHash(forged, prev)})`.execute(db);
    });
    assert.deepEqual(kinds(r4), ['broken-link@6', 'edited@6', 'edited@7', 'edited@8', 'edited@9', 'head-mismatch@8']);

    // Two entries swap places (their sequence numbers exchanged).
    const reordered = (await chain(t, dialect))!;
    const r5 = await tamper(reordered, async (db) => {
      await sql`update audit_log set seq = 100 where seq = 3`.execute(db);
      await sql`update audit_log set seq = 3 where seq = 4`.execute(db);
      await sql`update audit_log set seq = 4 where seq = 100`.execute(db);
    });
    assert.deepEqual(kinds(r5), ['broken-link@3', 'edited@3', 'broken-link@4', 'edited@4', 'broken-link@5']);

    // The newest entries deleted: the chain that is left is whole, but the head names entry 8.
    const cut = (await chain(t, dialect))!;
    const r6 = await tamper(cut, (db) => sql`delete from audit_log where seq > 6`.execute(db).then(() => undefined));
    assert.deepEqual(kinds(r6), ['head-mismatch@8']);
  });

  test(`a log rewritten from some entry on, hashes and head included, is caught by an anchor recorded earlier [${dialect}]`, async (t) => {
    const store = await chain(t, dialect);
    if (!store) return;
    const anchor = await store.audit.head();
    const report = await tamper(store, async (db) => {
      let prev = (await sql<{ hash: Uint8Array }>`select hash from audit_log where seq = 2`.execute(db)).rows[0]!.hash;
      for (let seq = 3; seq <= 8; seq++) {
        const at = (await sql<{ at: number }>`select at from audit_log where seq = ${seq}`.execute(db)).rows[0]!.at;
        const hash = forgedHash({ seq, at, actor: 'server', action: 'attest.affirming', subject: `node-${seq}`, details: { i: -seq } }, prev);
        await sql`update audit_log set details = ${JSON.stringify({ i: -seq })}, prev_hash = ${prev}, hash = ${hash} where seq = ${seq}`.execute(db);
        prev = hash;
      }
      await sql`update audit_head set hash = ${prev} where id = 1`.execute(db);
    });
    assert.ok(report.ok, 'a full rewrite is consistent in itself');
    const anchored = await store.audit.verify({ anchors: [anchor] });
    assert.deepEqual(kinds(anchored), ['anchor-mismatch@8']);
  });
}

storeTest('appends from several server processes (PostgreSQL) or concurrent requests (SQLite) form one unbroken chain', async (t, f) => {
  const store = await f.open();
  if (f.dialect === 'postgres') {
    const children = ['a', 'b', 'c'].map((actor) => startChild(t, { op: 'append-audit', location: f.location, count: 40, actor }));
    await Promise.all([
      ...children.map((c) => c.line('done')),
      ...Array.from({ length: 40 }, (_, i) => store.audit.append({ actor: 'parent', action: 'test.append', details: { i } })),
    ]);
  } else {
    await Promise.all(Array.from({ length: 160 }, (_, i) => store.audit.append({ actor: 'parent', action: 'test.append', details: { i } })));
  }
  const report = await store.audit.verify();
  assert.deepEqual(report.problems, []);
  assert.equal(report.entries, 160);
  assert.equal(report.last.seq, 160);
});
