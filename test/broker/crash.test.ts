// Killed processes (SIGKILL, no chance to clean up): a committed secret survives its writer's
// death, and a master-key rotation killed at any point leaves every secret decryptable.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { masterKeyFromBytes, SecretBroker } from '../../src/broker/index.ts';
import type { TestContext } from 'node:test';
import { newNode, storeTest, type StoreFixture } from '../store/harness.ts';
import { startChild } from '../store/processes.ts';

const key = (hex: string) => masterKeyFromBytes(Buffer.from(hex, 'hex'));

storeTest('a secret whose issue returned survives SIGKILL of the writer process', async (t, f) => {
  let store = await f.open();
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  await store.close(); // the embedded store has one writer: the child
  const masterKey = randomBytes(32).toString('hex');
  const value = randomBytes(32);
  const child = startChild(t, { op: 'issue-and-wait', location: f.location, masterKey, owner: node.id, value: value.toString('hex') });
  assert.equal(await child.line('committed'), 'committed 1');
  await child.kill();
  store = await f.open();
  const broker = await SecretBroker.open(store, [key(masterKey)]);
  assert.deepEqual((await broker.read(node.id, 'luks-key'))?.value, value);
});

/**
 * 30 secrets under one master key; a child process rotates them to another, 10 per batch, and is
 * killed where `stop` says. Then: every secret decrypts with both keys configured, 10 were rewrapped
 * (batch 1 committed, nothing of batch 2), the new key alone is refused, and rotating again finishes.
 */
async function killedRotation(t: TestContext, f: StoreFixture, stop: { stopAfterBatches: number } | { stopAtWrap: number }, says: string): Promise<void> {
  const from = randomBytes(32).toString('hex');
  const to = randomBytes(32).toString('hex');
  const values = new Map<string, Buffer>();
  let store = await f.open();
  const seeding = await SecretBroker.open(store, [key(from)]);
  for (let i = 0; i < 30; i++) {
    const node = await store.nodes.create(newNode({ status: 'enrolled' }));
    const value = randomBytes(32);
    await seeding.issue(node.id, 'luks-key', value);
    values.set(node.id, value);
  }
  await store.close(); // the embedded store has one writer: the child

  const child = startChild(t, { op: 'rotate', location: f.location, from, to, batchSize: 10, ...stop });
  await child.line(says);
  await child.kill();

  store = await f.open();
  let broker = await SecretBroker.open(store, [key(to), key(from)]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);
  const usage = await store.secrets.keyUsage();
  assert.deepEqual([usage.get(key(from).id), usage.get(key(to).id)], [20, 10]);
  await assert.rejects(SecretBroker.open(store, [key(to)]), { code: 'ERR_BROKER_MASTER_KEY_MISSING' });
  await broker.rotate();
  broker = await SecretBroker.open(store, [key(to)]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);
}

storeTest('a rotation killed between two batches leaves each secret under the old or the new key; rerunning it finishes', (t, f) =>
  killedRotation(t, f, { stopAfterBatches: 1 }, 'between-batches'),
);

// Batch 1 (wraps 1..10) commits; the process stops at the 15th wrap, half-way through batch 2.
storeTest('a rotation killed inside a batch’s transaction rolls that batch back whole', (t, f) =>
  killedRotation(t, f, { stopAtWrap: 15 }, 'inside-transaction'),
);
