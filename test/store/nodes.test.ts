import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { NewNode, NodeStatus, Repositories } from '../../src/store/index.ts';
import { manualClock, newNode, storeTest } from './harness.ts';

async function collectNames(list: (cursor?: string) => Promise<{ items: readonly { name: string }[]; nextCursor?: string }>): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    names.push(...page.items.map((n) => n.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return names;
}

async function createMany(store: Repositories, n: number, status: NodeStatus): Promise<void> {
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) await tx.nodes.create(newNode({ name: `n-${status}-${String(i).padStart(3, '0')}`, status }));
  });
}

storeTest('a node round-trips every field, and is found by id, name and EK name', async (_t, f) => {
  const store = await f.open();
  const input = newNode({ ekCertificate: new Uint8Array(randomBytes(1200)), tpmManufacturer: 'IFX', ekKind: 'ecc' });
  const created = await store.nodes.create(input);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  const got = await store.nodes.get(created.id);
  assert.deepEqual(got, created);
  assert.deepEqual(got.ekPublic, input.ekPublic);
  assert.deepEqual(got.ekCertificate, input.ekCertificate);
  assert.equal(got.tpmManufacturer, 'IFX');
  assert.deepEqual(await store.nodes.getByName(input.name), created);
  assert.deepEqual(await store.nodes.getByEkName(input.ekName), created);
  assert.equal(await store.nodes.get('not-a-uuid'), undefined);
  assert.equal(await store.nodes.get('00000000-0000-4000-8000-000000000000'), undefined);
  await assert.rejects(store.nodes.require('00000000-0000-4000-8000-000000000000'), { code: 'ERR_STORE_NOT_FOUND' });
});

storeTest('a second node with a taken name or EK is ERR_STORE_CONFLICT and changes nothing', async (_t, f) => {
  const store = await f.open();
  const first = newNode();
  await store.nodes.create(first);
  await assert.rejects(store.nodes.create(newNode({ name: first.name })), { code: 'ERR_STORE_CONFLICT' });
  await assert.rejects(store.nodes.create(newNode({ ekName: first.ekName })), { code: 'ERR_STORE_CONFLICT' });
  assert.equal(await store.nodes.count(), 1);
});

storeTest('bad node fields are ERR_STORE_INVALID naming the field', async (_t, f) => {
  const store = await f.open();
  const bad: [Partial<NewNode>, string][] = [
    [{ name: 'Worker_1' }, 'name'],
    [{ name: '-leading-hyphen' }, 'name'],
    [{ name: 'a'.repeat(254) }, 'name'],
    [{ status: 'approved' as NodeStatus }, 'status'],
    [{ ekKind: 'dsa' as 'rsa' }, 'ekKind'],
    [{ ekPublic: new Uint8Array(0) }, 'ekPublic'],
    [{ ekPublic: new Uint8Array(4096) }, 'ekPublic'],
    [{ akName: 'not bytes' as unknown as Uint8Array }, 'akName'],
    [{ ekCertificate: new Uint8Array(32 * 1024) }, 'ekCertificate'],
  ];
  for (const [overrides, field] of bad) {
    await assert.rejects(store.nodes.create(newNode(overrides)), (e: { code: string; details: { field: string } }) => {
      assert.equal(e.code, 'ERR_STORE_INVALID');
      assert.equal(e.details.field, field);
      return true;
    });
  }
  assert.equal(await store.nodes.count(), 0);
});

storeTest('listings page through every node exactly once, in order, filtered by status', async (_t, f) => {
  const store = await f.open();
  await createMany(store, 25, 'enrolled');
  await createMany(store, 7, 'revoked');
  const all = await collectNames((cursor) => store.nodes.list({ limit: 4, ...(cursor ? { cursor } : {}) }));
  assert.equal(all.length, 32);
  assert.deepEqual(all, [...all].sort());
  const revoked = await collectNames((cursor) => store.nodes.list({ status: 'revoked', limit: 3, ...(cursor ? { cursor } : {}) }));
  assert.deepEqual(revoked, ['n-revoked-000', 'n-revoked-001', 'n-revoked-002', 'n-revoked-003', 'n-revoked-004', 'n-revoked-005', 'n-revoked-006']);
  assert.equal(await store.nodes.count('enrolled'), 25);
  const page = await store.nodes.list({ limit: 32 });
  assert.equal(page.items.length, 32);
  assert.equal(page.nextCursor, undefined);
});

storeTest('cursors are checked: one from another listing or a forged one is ERR_STORE_BAD_CURSOR; limits outside 1..1000 ERR_STORE_INVALID', async (_t, f) => {
  const store = await f.open();
  await createMany(store, 3, 'enrolled');
  const page = await store.nodes.list({ limit: 1 });
  assert.ok(page.nextCursor);
  await assert.rejects(store.nodes.list({ status: 'enrolled', cursor: page.nextCursor }), { code: 'ERR_STORE_BAD_CURSOR' });
  await assert.rejects(store.nodes.approvalQueue({ cursor: page.nextCursor }), { code: 'ERR_STORE_BAD_CURSOR' });
  for (const cursor of ['%%%', 'e30', Buffer.from('["nodes:*",5]').toString('base64url'), 'A'.repeat(5000)]) {
    await assert.rejects(store.nodes.list({ cursor }), { code: 'ERR_STORE_BAD_CURSOR' }, cursor);
  }
  for (const limit of [0, 1001, 1.5, -1]) await assert.rejects(store.nodes.list({ limit }), { code: 'ERR_STORE_INVALID' });
});

storeTest('the approval queue lists pending nodes oldest first; approving is compare-and-set', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await store.nodes.create(newNode({ name: `queued-${4 - i}`, status: 'pending-approval' }))).id);
    clock.advance(1000);
  }
  await store.nodes.create(newNode({ status: 'enrolled' }));
  const queue: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.nodes.approvalQueue({ limit: 2, ...(cursor ? { cursor } : {}) });
    queue.push(...page.items.map((n) => n.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  assert.deepEqual(queue, ids);

  const approved = await store.nodes.setStatus(ids[0]!, 'pending-activation', ['pending-approval']);
  assert.equal(approved.status, 'pending-activation');
  assert.equal(approved.updatedAt, clock.now());
  // A second approval (another replica, a double click) finds the node no longer pending.
  await assert.rejects(store.nodes.setStatus(ids[0]!, 'pending-activation', ['pending-approval']), {
    code: 'ERR_STORE_CONFLICT',
    message: /is pending-activation/,
  });
  await assert.rejects(store.nodes.setStatus('00000000-0000-4000-8000-000000000000', 'revoked', ['enrolled']), { code: 'ERR_STORE_NOT_FOUND' });
  assert.equal((await store.nodes.approvalQueue()).items.length, 4);
});

storeTest('an attestation outcome updates the node; only an affirming one moves its release', async (_t, f) => {
  const store = await f.open();
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  await store.nodes.recordAttestation(node.id, { at: 1000, status: 'affirming', release: 'v1' });
  await store.nodes.recordAttestation(node.id, { at: 2000, status: 'contraindicated', release: 'v2' });
  const got = await store.nodes.require(node.id);
  assert.equal(got.lastAttestationAt, 2000);
  assert.equal(got.lastAttestationStatus, 'contraindicated');
  assert.equal(got.currentRelease, 'v1');
  const ak = new Uint8Array(randomBytes(90));
  const name = new Uint8Array([0, 11, ...randomBytes(32)]);
  const replaced = await store.nodes.replaceAk(node.id, ak, name);
  assert.deepEqual(replaced.akPublic, ak);
  assert.deepEqual(replaced.akName, name);
});
