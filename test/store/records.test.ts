// Attestation results with evidence, reference sets, policies, webhooks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { NewAttestationResult, Repositories } from '../../src/store/index.ts';
import { manualClock, newNode, storeTest } from './harness.ts';

function result(nodeId: string, status: NewAttestationResult['status'], n: number): NewAttestationResult {
  return {
    nodeId,
    status,
    policyVersion: 1,
    release: 'v1',
    verdict: { status, failed: status === 'affirming' ? [] : [{ rule: 'pcr7', expected: 'aa', actual: 'bb', events: [3, 4] }], n },
    ear: `eyJhbGciOiJFUzI1NiJ9.${n}.sig`,
    evidence: {
      quoteAttest: new Uint8Array(randomBytes(145)),
      quoteSignature: new Uint8Array(randomBytes(72)),
      pcrValues: { sha256: { 0: 'ab'.repeat(32) } },
      eventLog: new Uint8Array(randomBytes(34_000)),
      claims: { composefs: 'cd'.repeat(32) },
    },
  };
}

storeTest('a result is recorded with its evidence and the node its outcome, in one transaction; listings are newest first and paged', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  const other = await store.nodes.create(newNode({ status: 'enrolled' }));
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const input = result(node.id, i === 6 ? 'contraindicated' : 'affirming', i);
    const rec = await store.results.record(input);
    ids.push(rec.id);
    assert.deepEqual(await store.results.evidence(rec.id), input.evidence);
    assert.deepEqual(rec.verdict, input.verdict);
    // Two results in the same millisecond still page in a stable order.
    if (i % 2) clock.advance(10);
  }
  await store.results.record(result(other.id, 'affirming', 99));
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.results.listForNode(node.id, { limit: 3, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((r) => r.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  assert.equal(seen.length, 7);
  assert.deepEqual(new Set(seen), new Set(ids));
  const newest = await store.results.get(seen[0]!);
  assert.equal(newest?.status, 'contraindicated');
  assert.equal((await store.results.list({ limit: 100 })).items.length, 8);
  const updated = await store.nodes.require(node.id);
  assert.equal(updated.lastAttestationStatus, 'contraindicated');
  assert.equal(updated.currentRelease, 'v1');

  // A result for an unknown node stores nothing at all.
  await assert.rejects(store.results.record(result('00000000-0000-4000-8000-000000000000', 'affirming', 0)), { code: 'ERR_STORE_NOT_FOUND' });
  assert.equal((await store.results.list({ limit: 100 })).items.length, 8);
  await assert.rejects(
    store.results.record({
      ...result(node.id, 'affirming', 0),
      evidence: { ...result(node.id, 'affirming', 0).evidence, eventLog: new Uint8Array(9 * 1024 * 1024) },
    }),
    {
      code: 'ERR_STORE_INVALID',
    },
  );
  await assert.rejects(store.results.record({ ...result(node.id, 'affirming', 0), verdict: { n: 1n } }), { code: 'ERR_STORE_INVALID' });
});

async function putConcurrently(stores: readonly Repositories[], n: number): Promise<number[]> {
  const made = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      stores[i % stores.length]!.referenceSets.put({ name: 'release-2026.1', content: { i }, createdBy: `replica-${i % stores.length}` }),
    ),
  );
  return made.map((r) => r.version).sort((a, b) => a - b);
}

storeTest('reference sets are versioned per release; concurrent imports on several replicas get consecutive versions', async (_t, f) => {
  const a = await f.open();
  const stores = f.dialect === 'postgres' ? [a, await f.open()] : [a];
  assert.deepEqual(await putConcurrently(stores, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await a.referenceSets.put({ name: 'release-2026.2', content: { pcrs: {} }, composefsDigest: `sha256:${'ab'.repeat(32)}`, createdBy: 'ci' });
  const latest = await a.referenceSets.get('release-2026.1');
  assert.equal(latest?.version, 10);
  assert.equal((await a.referenceSets.get('release-2026.1', 3))?.version, 3);
  assert.equal(await a.referenceSets.get('release-2026.1', 11), undefined);
  const names = (await a.referenceSets.listLatest()).items.map((r) => [r.name, r.version]);
  assert.deepEqual(names, [
    ['release-2026.1', 10],
    ['release-2026.2', 1],
  ]);
  const versions = await a.referenceSets.versions('release-2026.1', { limit: 4 });
  assert.deepEqual(
    versions.items.map((r) => r.version),
    [10, 9, 8, 7],
  );
  await assert.rejects(a.referenceSets.put({ name: 'bad name', content: {}, createdBy: 'x' }), { code: 'ERR_STORE_INVALID' });
  await assert.rejects(a.referenceSets.put({ name: 'v3', content: {}, composefsDigest: 'not-a-digest', createdBy: 'x' }), { code: 'ERR_STORE_INVALID' });
});

storeTest('policies are versioned and exactly one is active, even when replicas activate at once', async (_t, f) => {
  const a = await f.open();
  const b = f.dialect === 'postgres' ? await f.open() : a;
  assert.equal(await a.policies.active(), undefined);
  const p1 = await a.policies.create({ text: 'claims.secureBoot', createdBy: 'admin', activate: true });
  const p2 = await b.policies.create({ text: 'claims.secureBoot && claims.composefs in refs.digests', description: 'v2', createdBy: 'admin' });
  assert.equal((await a.policies.active())?.version, p1.version);
  await Promise.all([a.policies.activate(p2.version), b.policies.activate(p1.version), a.policies.activate(p2.version)]);
  const active = (await a.policies.list()).items.filter((p) => p.active);
  assert.equal(active.length, 1);
  await a.policies.activate(p2.version);
  assert.equal((await b.policies.active())?.version, p2.version);
  assert.equal((await a.policies.get(p1.version))?.active, false);
  await assert.rejects(a.policies.activate(99), { code: 'ERR_STORE_NOT_FOUND' });
});

storeTest('webhooks are created, listed and disabled; bad URLs and event lists are refused', async (_t, f) => {
  const store = await f.open();
  const hook = await store.webhooks.create({ url: 'https://hooks.example/vouch', events: ['attest.contraindicated', 'node.revoked'] });
  assert.deepEqual((await store.webhooks.get(hook.id))?.events, ['attest.contraindicated', 'node.revoked']);
  const disabled = await store.webhooks.disable(hook.id);
  assert.ok(disabled.disabledAt !== null);
  assert.equal((await store.webhooks.disable(hook.id)).disabledAt, disabled.disabledAt);
  assert.equal((await store.webhooks.list()).items.length, 1);
  for (const bad of [
    { url: 'file:///etc/passwd', events: ['x'] },
    { url: 'not a url', events: ['x'] },
    { url: 'https://a.example', events: [] },
  ]) {
    await assert.rejects(store.webhooks.create(bad), { code: 'ERR_STORE_INVALID' });
  }
});
