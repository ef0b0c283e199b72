// Killed processes (SIGKILL, no chance to clean up): a committed secret survives its writer's
// death, and a master-key rotation killed at any point leaves every secret decryptable.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { masterKeyFromBytes, SecretBroker } from '../../src/broker/index.ts';
import type { Store } from '../../src/store/index.ts';
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

/** 30 secrets under `from`; the store closed again so that a child can write. */
async function seeded(f: StoreFixture, from: string): Promise<Map<string, Buffer>> {
  const store = await f.open();
  const broker = await SecretBroker.open(store, [key(from)]);
  const values = new Map<string, Buffer>();
  for (let i = 0; i < 30; i++) {
    const node = await store.nodes.create(newNode({ status: 'enrolled' }));
    const value = randomBytes(32);
    await broker.issue(node.id, 'luks-key', value);
    values.set(node.id, value);
  }
  await store.close();
  return values;
}

async function everySecretReadable(store: Store, from: string, to: string, values: Map<string, Buffer>): Promise<Map<string, number>> {
  const broker = await SecretBroker.open(store, [key(to), key(from)]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);
  const usage = await store.secrets.keyUsage();
  const byName = new Map<string, number>();
  for (const [id, n] of usage) byName.set(id === key(to).id ? 'to' : id === key(from).id ? 'from' : id, n);
  return byName;
}

async function finishRotation(store: Store, from: string, to: string, values: Map<string, Buffer>): Promise<void> {
  await assert.rejects(SecretBroker.open(store, [key(to)]), { code: 'ERR_BROKER_MASTER_KEY_MISSING' });
  await (await SecretBroker.open(store, [key(to), key(from)])).rotate();
  const broker = await SecretBroker.open(store, [key(to)]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);
}

storeTest('a rotation killed between two batches leaves each secret under the old or the new key; rerunning it finishes', async (t, f) => {
  const from = randomBytes(32).toString('hex');
  const to = randomBytes(32).toString('hex');
  const values = await seeded(f, from);
  const child = startChild(t, { op: 'rotate', location: f.location, from, to, batchSize: 10, stopAfterBatches: 1 });
  await child.line('between-batches');
  await child.kill();
  const store = await f.open();
  assert.deepEqual(
    await everySecretReadable(store, from, to, values),
    new Map([
      ['from', 20],
      ['to', 10],
    ]),
  );
  await finishRotation(store, from, to, values);
});

storeTest('a rotation killed inside a batch’s transaction rolls that batch back whole', async (t, f) => {
  const from = randomBytes(32).toString('hex');
  const to = randomBytes(32).toString('hex');
  const values = await seeded(f, from);
  // Batch 1 (wraps 1..10) commits; the process stops at the 15th wrap, half-way through batch 2.
  const child = startChild(t, { op: 'rotate', location: f.location, from, to, batchSize: 10, stopAtWrap: 15 });
  await child.line('inside-transaction');
  await child.kill();
  const store = await f.open();
  assert.deepEqual(
    await everySecretReadable(store, from, to, values),
    new Map([
      ['from', 20],
      ['to', 10],
    ]),
  );
  await finishRotation(store, from, to, values);
});
