// What the server keeps beyond the first schema: an AK bound by activation (and the candidate AK a
// challenge carries until then), stale nodes marked once, the fleet listing in every order with a
// name prefix, accepted reference-set versions (several releases at once), and the audit log read
// forward from a sequence number.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { manualClock, newNode, storeTest } from './harness.ts';

const ak = () => ({ akPublic: new Uint8Array(randomBytes(90)), akName: new Uint8Array([0x00, 0x0b, ...randomBytes(32)]) });

storeTest('a challenge carries the AK it binds; bind() makes it the node’s, enrolled, with boundAt', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const node = await store.nodes.create(newNode({ status: 'pending-activation' }));
  assert.equal(node.boundAt, null);
  const candidate = ak();
  const challenge = await store.enrollmentChallenges.create({ nodeId: node.id, secretHash: new Uint8Array(32), ttlMs: 1000, ak: candidate });
  assert.deepEqual(challenge.ak, candidate);
  const used = await store.enrollmentChallenges.consume(challenge.id);
  assert.deepEqual(used.ak, candidate);
  clock.advance(5);
  const bound = await store.nodes.bind(node.id, candidate);
  assert.equal(bound.status, 'enrolled');
  assert.equal(bound.boundAt, clock.now());
  assert.deepEqual(bound.akPublic, candidate.akPublic);
  const plain = await store.enrollmentChallenges.create({ nodeId: node.id, secretHash: new Uint8Array(32), ttlMs: 1000 });
  assert.equal(plain.ak, null);
  // A revoked node, or one waiting for approval, binds nothing.
  await store.nodes.setStatus(node.id, 'revoked', ['enrolled']);
  await assert.rejects(store.nodes.bind(node.id, ak()), { code: 'ERR_STORE_CONFLICT' });
  const waiting = await store.nodes.create(newNode({ status: 'pending-approval' }));
  await assert.rejects(store.nodes.bind(waiting.id, ak()), { code: 'ERR_STORE_CONFLICT' });
  // A node created enrolled (a cloud AK certificate vouched for it) is bound from the start.
  assert.equal((await store.nodes.create(newNode({ status: 'enrolled' }))).boundAt, clock.now());
});

storeTest('the stale sweep marks each silent enrolled node once; its next attestation clears the mark', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const attesting = await store.nodes.create(newNode({ status: 'enrolled' }));
  const silent = await store.nodes.create(newNode({ status: 'enrolled' }));
  const pending = await store.nodes.create(newNode({ status: 'pending-activation' }));
  clock.advance(1000);
  await store.nodes.recordAttestation(attesting.id, { at: clock.now(), status: 'affirming', release: 'v1' });
  clock.advance(10);
  const marked = await store.nodes.markStale(clock.now() - 500, 100);
  assert.deepEqual(
    marked.map((n) => n.id),
    [silent.id],
  );
  assert.equal(marked[0]!.staleSince, clock.now());
  assert.deepEqual(await store.nodes.markStale(clock.now() - 500, 100), [], 'marked once');
  assert.equal((await store.nodes.get(pending.id))!.staleSince, null);
  clock.advance(1000);
  assert.deepEqual(
    (await store.nodes.markStale(clock.now() - 500, 100)).map((n) => n.id),
    [attesting.id],
  );
  await store.nodes.recordAttestation(attesting.id, { at: clock.now(), status: 'affirming', release: 'v1' });
  assert.equal((await store.nodes.get(attesting.id))!.staleSince, null);
});

storeTest('the node listing pages in each order, filters by status and name prefix', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const ids: string[] = [];
  for (const name of ['b-2', 'a-1', 'c-3', 'a-2']) {
    clock.advance(1);
    ids.push((await store.nodes.create(newNode({ name, status: 'enrolled' }))).id);
  }
  clock.advance(1);
  await store.nodes.recordAttestation(ids[2]!, { at: clock.now() - 10, status: 'affirming' });
  await store.nodes.recordAttestation(ids[0]!, { at: clock.now(), status: 'contraindicated' });
  const all = async (request: Parameters<typeof store.nodes.list>[0]): Promise<string[]> => {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.nodes.list({ ...request, limit: 1, ...(cursor ? { cursor } : {}) });
      names.push(...page.items.map((n) => n.name));
      cursor = page.nextCursor;
    } while (cursor);
    return names;
  };
  assert.deepEqual(await all({}), ['a-1', 'a-2', 'b-2', 'c-3']);
  assert.deepEqual(await all({ namePrefix: 'a-' }), ['a-1', 'a-2']);
  assert.deepEqual(await all({ sort: 'created' }), ['a-2', 'c-3', 'a-1', 'b-2']);
  const byAttestation = await all({ sort: 'last-attestation' });
  assert.deepEqual(byAttestation.slice(0, 2), ['b-2', 'c-3'], 'most recent first');
  assert.deepEqual(byAttestation.slice(2).sort(), ['a-1', 'a-2'], 'never attested last (by id)');
  assert.deepEqual(await all({ sort: 'last-attestation', status: 'revoked' }), []);
  await assert.rejects(store.nodes.list({ sort: 'created', cursor: (await store.nodes.list({ limit: 1 })).nextCursor! }), { code: 'ERR_STORE_BAD_CURSOR' });
  await assert.rejects(store.nodes.list({ sort: 'size' as never }), { code: 'ERR_STORE_INVALID' });
});

storeTest('one version per release is accepted; several releases at once; deactivation ends one', async (_t, f) => {
  const store = await f.open();
  for (const name of ['v1', 'v1', 'v2']) await store.referenceSets.put({ name, content: { name }, createdBy: 'test' });
  assert.deepEqual(await store.referenceSets.activeVersions(), []);
  await store.referenceSets.activate('v1', 1);
  await store.referenceSets.activate('v2', 1);
  assert.deepEqual(await store.referenceSets.activeVersions(), [
    { name: 'v1', version: 1 },
    { name: 'v2', version: 1 },
  ]);
  const switched = await store.referenceSets.activate('v1', 2);
  assert.equal(switched.active, true);
  assert.deepEqual(
    (await store.referenceSets.active()).map((r) => [r.name, r.version, r.active]),
    [
      ['v1', 2, true],
      ['v2', 1, true],
    ],
  );
  assert.equal((await store.referenceSets.get('v1', 1))!.active, false);
  assert.equal(await store.referenceSets.deactivate('v2'), true);
  assert.equal(await store.referenceSets.deactivate('v2'), false);
  assert.deepEqual(await store.referenceSets.activeVersions(), [{ name: 'v1', version: 2 }]);
  await assert.rejects(store.referenceSets.activate('v3', 1), { code: 'ERR_STORE_NOT_FOUND' });
});

storeTest('the audit log reads forward from a sequence number, optionally by action prefix', async (_t, f) => {
  const store = await f.open();
  for (const action of ['node.enrolled', 'attest.affirming', 'node.revoked', 'release.secrets']) await store.audit.append({ actor: 'server', action });
  assert.deepEqual(
    (await store.audit.listAfter(0)).map((e) => e.seq),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    (await store.audit.listAfter(1, { actionPrefix: 'node.' })).map((e) => e.action),
    ['node.revoked'],
  );
  assert.deepEqual(
    (await store.audit.listAfter(0, { limit: 2 })).map((e) => e.seq),
    [1, 2],
  );
  await assert.rejects(store.audit.listAfter(-1), { code: 'ERR_STORE_INVALID' });
});
