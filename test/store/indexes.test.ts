// Every query the repositories send is answered from an index: none reads a whole table or sorts
// all of its rows, so each costs the same with 100,000 nodes as with ten. The test records the SQL
// of every repository call and asks each database for its plan (PostgreSQL with sequential scans
// disabled, so that a small test table still shows whether an index *can* serve the query).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CompiledQuery, sql } from 'kysely';
import type { QueryEvent, Store } from '../../src/store/index.ts';
import { newNode, storeTest } from './harness.ts';

/** Tables that hold a handful of rows by nature (one per policy version, per master key; one head row). */
const SMALL_TABLES = ['policies', 'master_keys', 'audit_head'];

/** Queries that read every row by design, with the reason. */
const WHOLE_TABLE_BY_DESIGN: readonly [RegExp, string][] = [
  [/count\(\*\)/i, 'a count is a count (nodes.count: a dashboard figure)'],
  [/group by "key_id"/i, 'the master keys in use, read once when the broker opens (an index-only scan of secrets_key)'],
];

async function exercise(store: Store): Promise<void> {
  const node = await store.nodes.create(newNode({ status: 'pending-approval' }));
  await store.nodes.get(node.id);
  await store.nodes.getByName(node.name);
  await store.nodes.getByEkName(node.ekName);
  const page = await store.nodes.list({ limit: 1 });
  await store.nodes.list({ limit: 1, ...(page.nextCursor ? { cursor: page.nextCursor } : {}) });
  await store.nodes.create(newNode({ status: 'enrolled' }));
  const p2 = await store.nodes.list({ status: 'enrolled', limit: 1 });
  await store.nodes.list({ status: 'enrolled', limit: 1, cursor: p2.nextCursor ?? '' }).catch(() => undefined);
  await store.nodes.create(newNode({ status: 'pending-approval' }));
  const q = await store.nodes.approvalQueue({ limit: 1 });
  await store.nodes.approvalQueue({ limit: 1, cursor: q.nextCursor! });
  await store.nodes.setStatus(node.id, 'pending-activation', ['pending-approval']);
  const c = await store.enrollmentChallenges.create({ nodeId: node.id, secretHash: new Uint8Array(32), ttlMs: 1000 });
  await store.enrollmentChallenges.consume(c.id);
  await store.enrollmentChallenges.consume(c.id).catch(() => undefined);
  await store.enrollmentChallenges.prune(store.now());
  const s = await store.attestationSessions.create({ nodeId: node.id, pcrSelection: { sha256: [0] }, ttlMs: 1000 });
  await store.attestationSessions.consume(s.id);
  await store.attestationSessions.prune(store.now());
  const evidence = { quoteAttest: new Uint8Array(8), quoteSignature: new Uint8Array(8), pcrValues: {}, eventLog: new Uint8Array(8), claims: {} };
  for (let i = 0; i < 2; i++) await store.results.record({ nodeId: node.id, status: 'affirming', verdict: {}, ear: 'e', evidence, release: 'v1' });
  const r = await store.results.listForNode(node.id, { limit: 1 });
  await store.results.listForNode(node.id, { limit: 1, cursor: r.nextCursor! });
  const all = await store.results.list({ limit: 1 });
  await store.results.list({ limit: 1, cursor: all.nextCursor! });
  await store.results.get(r.items[0]!.id);
  await store.results.evidence(r.items[0]!.id);
  for (let i = 0; i < 2; i++) await store.referenceSets.put({ name: `v${i}`, content: {}, createdBy: 'x' });
  await store.referenceSets.get('v1');
  await store.referenceSets.get('v1', 1);
  const l = await store.referenceSets.listLatest({ limit: 1 });
  await store.referenceSets.listLatest({ limit: 1, cursor: l.nextCursor! });
  await store.referenceSets.versions('v1');
  const pol = await store.policies.create({ text: 'true', createdBy: 'x', activate: true });
  await store.policies.active();
  await store.policies.get(pol.version);
  await store.policies.list();
  const { token, record } = await store.adminTokens.create({ name: 'a', role: 'admin' });
  await store.adminTokens.authenticate(token);
  await store.adminTokens.revoke(record.id);
  await store.bootstrapTokens.record({
    token: 'abcdef.0123456789abcdef',
    nodeId: node.id,
    expiresAt: store.now() + 1000,
    usages: ['authentication'],
    groups: [],
  });
  await store.bootstrapTokens.verify('abcdef.0123456789abcdef');
  await store.bootstrapTokens.listForNode(node.id);
  await store.bootstrapTokens.prune(store.now());
  await store.rateLimits.hit('ip:1', { limit: 5, windowMs: 1000 });
  await store.rateLimits.prune(store.now());
  const seal = () => ({ keyId: 'k1', wrappedKey: new Uint8Array(randomBytes(60)), ciphertext: new Uint8Array(61) });
  await store.secrets.add(node.id, 'luks-key', seal);
  await store.secrets.add(node.id, 'luks-key', seal);
  await store.secrets.get(node.id, 'luks-key');
  await store.secrets.get(node.id, 'luks-key', 1);
  await store.secrets.latestOf(node.id);
  const sp = await store.secrets.list({ keyId: 'k1', limit: 1 });
  await store.secrets.list({ keyId: 'k1', limit: 1, cursor: sp.nextCursor! });
  await store.secrets.rewrap([node.id, 'luks-key', 1], 'k1', { keyId: 'k2', wrappedKey: new Uint8Array(60) });
  await store.secrets.keyUsage();
  await store.secrets.recordMasterKeyCanary('k2', new Uint8Array(60));
  await store.secrets.masterKeyCanary('k2');
  for (let i = 0; i < 3; i++) await store.audit.append({ actor: 'x', action: 'x', subject: node.id });
  const a = await store.audit.list({ subject: node.id, limit: 1 });
  await store.audit.list({ subject: node.id, limit: 1, cursor: a.nextCursor! });
  await store.audit.verify();
  await store.audit.listAfter(1, { limit: 10, actionPrefix: 'x' });
  await store.audit.listAfter(1);
  for (const sort of ['name', 'last-attestation', 'created'] as const) {
    const first = await store.nodes.list({ sort, limit: 1 });
    await store.nodes.list({ sort, limit: 1, cursor: first.nextCursor! });
    await store.nodes.list({ sort, status: 'enrolled', limit: 1 });
  }
  await store.nodes.list({ namePrefix: 'worker', limit: 1 });
  await store.nodes.markStale(store.now(), 10);
  const bound = await store.nodes.create(newNode({ status: 'pending-activation' }));
  const challenge = await store.enrollmentChallenges.create({ nodeId: bound.id, secretHash: new Uint8Array(32), ttlMs: 1000, ak: bound });
  await store.enrollmentChallenges.consume(challenge.id);
  await store.nodes.bind(bound.id, bound);
  await store.referenceSets.activate('v1', 1);
  await store.referenceSets.activeVersions();
  await store.referenceSets.active();
  await store.referenceSets.deactivate('v1');
}

/** What is wrong with a plan: a full scan of a table, or a sort of everything it read. */
async function planProblems(store: Store, query: QueryEvent): Promise<string[]> {
  if (store.dialect === 'sqlite') {
    const plan = await store.kysely.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]));
    return plan.rows
      .map((r) => r.detail)
      .filter((d) => (/^SCAN (\w+)$/.exec(d) && !SMALL_TABLES.includes(d.slice(5))) || /USE TEMP B-TREE FOR (ORDER BY|GROUP BY)/.test(d));
  }
  return store.kysely.transaction().execute(async (tx) => {
    await sql`set local enable_seqscan = off`.execute(tx);
    const plan = await tx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]));
    return plan.rows
      .map((r) => r['QUERY PLAN'])
      .filter((line) => /Seq Scan on (\w+)/.exec(line) && !SMALL_TABLES.includes(/Seq Scan on (\w+)/.exec(line)![1]!));
  });
}

storeTest('every repository query is served by an index', async (_t, f) => {
  const queries: QueryEvent[] = [];
  let recording = false; // the queries of opening (migration checks, introspection) run once
  const store = await f.open({ onQuery: (q) => recording && queries.push(q) });
  recording = true;
  await exercise(store);
  const checked = new Set<string>();
  const problems: string[] = [];
  for (const q of queries) {
    if (!/^\s*(select|update|delete|insert into .* on conflict|with)/i.test(q.sql) || checked.has(q.sql)) continue;
    checked.add(q.sql);
    if (WHOLE_TABLE_BY_DESIGN.some(([re]) => re.test(q.sql))) continue;
    for (const p of await planProblems(store, q)) problems.push(`${p}\n    in: ${q.sql}`);
  }
  assert.ok(checked.size > 40, `checked ${checked.size} distinct queries`);
  assert.deepEqual(problems, []);
});
