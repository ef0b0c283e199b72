import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createPkcs11MasterKey, loadMasterKey, masterKeyFromBytes, SecretBroker, SECRET_NAMES, type MasterKey } from '../../src/broker/index.ts';
import { webhookSecretOwner } from '../../src/store/index.ts';
import { destroyKey, softHsmForTest } from '../helpers/softhsm.ts';
import { newNode, storeTest } from '../store/harness.ts';

function softwareKey(): { key: MasterKey; hex: string } {
  const raw = randomBytes(32);
  const hex = raw.toString('hex');
  return { key: masterKeyFromBytes(raw), hex };
}

storeTest('secrets are sealed, versioned and read back; a new value is a new version beside the old', async (_t, f) => {
  const store = await f.open();
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  const broker = await SecretBroker.open(store, [softwareKey().key]);
  const luks = await broker.generate(node.id, SECRET_NAMES.luksKey);
  assert.equal(luks.version, 1);
  const join1 = await broker.issue(node.id, SECRET_NAMES.joinCredential, Buffer.from('abcdef.0123456789abcdef'));
  const join2 = await broker.issue(node.id, SECRET_NAMES.joinCredential, Buffer.from('ghijkl.0123456789abcdef'));
  assert.deepEqual([join1.version, join2.version], [1, 2]);
  {
    using v1 = (await broker.read(node.id, SECRET_NAMES.joinCredential, 1))!;
    assert.equal(v1.value.toString(), 'abcdef.0123456789abcdef');
  }
  const latest = await broker.readLatest(node.id);
  assert.deepEqual(
    latest.map((s) => [s.name, s.version, s.value.length]),
    [
      ['join-credential', 2, 23],
      ['luks-key', 1, 32],
    ],
  );
  const value = latest[0]!.value;
  latest[0]![Symbol.dispose]();
  assert.ok(
    value.every((b) => b === 0),
    'disposing zeroes the plaintext',
  );
  assert.equal(await broker.read(node.id, 'nothing'), undefined);
  // Nothing readable is stored: not the value, not the data key.
  const rows = (await sql<{ ciphertext: Uint8Array; wrapped_key: Uint8Array }>`select ciphertext, wrapped_key from secrets`.execute(store.kysely)).rows;
  for (const r of rows) assert.ok(!Buffer.from(r.ciphertext).includes('0123456789abcdef'));
  await assert.rejects(broker.issue(node.id, 'x', new Uint8Array(0)), { code: 'ERR_BROKER_INVALID' });
  await assert.rejects(broker.issue(node.id, 'Bad Name', new Uint8Array(1)), { code: 'ERR_STORE_INVALID' });
  // A webhook's signing key is a secret like a node's.
  const hook = await store.webhooks.create({ url: 'https://h.example/', events: ['node.revoked'] });
  await broker.generate(webhookSecretOwner(hook.id), 'signing-key');
  assert.equal((await broker.read(webhookSecretOwner(hook.id), 'signing-key'))?.value.length, 32);
});

storeTest('a sealed secret moved to another node, name or version does not decrypt (associated data binds it)', async (_t, f) => {
  const store = await f.open();
  const a = await store.nodes.create(newNode({ status: 'enrolled' }));
  const b = await store.nodes.create(newNode({ status: 'enrolled' }));
  const broker = await SecretBroker.open(store, [softwareKey().key]);
  await broker.generate(a.id, 'luks-key');
  await broker.generate(b.id, 'luks-key');
  await broker.generate(b.id, 'luks-key');
  // Someone with database access copies node A's sealed key over node B's (the update trigger is
  // in the way, so as an attacker would: drop it first).
  await sql.raw(f.dialect === 'sqlite' ? 'drop trigger secrets_only_rewrapped' : 'drop trigger secrets_only_rewrapped on secrets').execute(store.kysely);
  await sql`update secrets set ciphertext = (select ciphertext from secrets where owner = ${a.id}), wrapped_key = (select wrapped_key from secrets where owner = ${a.id})
    where owner = ${b.id} and version = 1`.execute(store.kysely);
  await assert.rejects(broker.read(b.id, 'luks-key', 1), { code: 'ERR_BROKER_UNWRAP' });
  // Version 2's ciphertext under version 1's data key, and version 2 stays intact.
  await sql`update secrets set wrapped_key = (select wrapped_key from secrets where owner = ${b.id} and version = 2) where owner = ${b.id} and version = 1`.execute(
    store.kysely,
  );
  await assert.rejects(broker.read(b.id, 'luks-key', 1), { code: 'ERR_BROKER_UNWRAP' });
  assert.equal((await broker.read(b.id, 'luks-key', 2))?.value.length, 32);
  assert.equal((await broker.read(a.id, 'luks-key'))?.value.length, 32);
});

storeTest('revoking a node keeps its secrets; the store has no way to delete one', async (_t, f) => {
  const store = await f.open();
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  const broker = await SecretBroker.open(store, [softwareKey().key]);
  await broker.generate(node.id, 'luks-key');
  await store.nodes.setStatus(node.id, 'revoked', ['enrolled']);
  assert.equal((await broker.read(node.id, 'luks-key'))?.value.length, 32);
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(store.secrets)).concat(Object.getOwnPropertyNames(SecretBroker.prototype));
  assert.deepEqual(
    methods.filter((m) => /delete|remove|drop|purge|destroy/i.test(m)),
    [],
  );
});

storeTest('the broker refuses to start without every master key its secrets need, or with another key under a known id', async (t, f) => {
  const store = await f.open();
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  const first = softwareKey();
  await (await SecretBroker.open(store, [first.key])).generate(node.id, 'luks-key');
  await assert.rejects(SecretBroker.open(store, [softwareKey().key]), { code: 'ERR_BROKER_MASTER_KEY_MISSING', message: /1 secrets/ });
  await assert.rejects(SecretBroker.open(store, []), { code: 'ERR_BROKER_MASTER_KEY' });

  const hsm = softHsmForTest(t);
  if (!hsm) return;
  // An HSM key's id is its token and label: a key regenerated under the same label is another key,
  // which the canary recorded for that id reveals.
  const label = `mk-canary-${f.dialect}`;
  const hsmKey = createPkcs11MasterKey(hsm.uri(label));
  await (await SecretBroker.open(store, [hsmKey, first.key])).rotate();
  hsmKey.close();
  destroyKey(hsm, label);
  const impostor = createPkcs11MasterKey(hsm.uri(label));
  t.after(() => impostor.close());
  assert.equal(impostor.id, hsmKey.id);
  await assert.rejects(SecretBroker.open(store, [impostor]), { code: 'ERR_BROKER_MASTER_KEY_MISMATCH' });
});

storeTest('rotation rewraps every data key under the new master key (file → file → PKCS#11), after which the old key is not needed', async (t, f) => {
  const store = await f.open();
  const old = softwareKey();
  let broker = await SecretBroker.open(store, [old.key]);
  const values = new Map<string, Buffer>();
  for (let i = 0; i < 25; i++) {
    const node = await store.nodes.create(newNode({ status: 'enrolled' }));
    const value = randomBytes(32);
    values.set(node.id, value);
    await broker.issue(node.id, 'luks-key', value);
  }
  const next = softwareKey();
  broker = await SecretBroker.open(store, [next.key, old.key]);
  const progress: number[] = [];
  const report = await broker.rotate({ batchSize: 10, onBatch: (p) => progress.push(p.rewrapped) });
  assert.deepEqual(report, { toKeyId: next.key.id, fromKeyIds: [old.key.id], rewrapped: 25 });
  assert.deepEqual(progress, [10, 20, 25]);
  assert.equal((await broker.rotate()).rewrapped, 0, 'a second run has nothing left to do');
  broker = await SecretBroker.open(store, [next.key]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);

  const hsm = softHsmForTest(t);
  if (!hsm) return;
  const hsmKey = createPkcs11MasterKey(hsm.uri(`mk-rotate-${f.dialect}`));
  t.after(() => hsmKey.close());
  await (await SecretBroker.open(store, [hsmKey, next.key])).rotate();
  const again = loadMasterKey(hsm.uri(`mk-rotate-${f.dialect}`));
  t.after(() => again.close());
  broker = await SecretBroker.open(store, [again]);
  for (const [owner, value] of values) assert.deepEqual((await broker.read(owner, 'luks-key'))?.value, value);
  assert.deepEqual([...(await store.secrets.keyUsage()).keys()], [hsmKey.id]);
});

storeTest('a secret and its node commit together or not at all', async (_t, f) => {
  const store = await f.open();
  const broker = await SecretBroker.open(store, [softwareKey().key]);
  const input = newNode({ status: 'enrolled' });
  await assert.rejects(
    store.transaction(async (tx) => {
      const node = await tx.nodes.create(input);
      await broker.within(tx).generate(node.id, 'luks-key');
      await tx.audit.append({ actor: 'server', action: 'node.enroll', subject: node.id });
      throw new Error('the enrollment fails after its secrets were issued');
    }),
    /enrollment fails/,
  );
  assert.equal(await store.nodes.getByName(input.name), undefined);
  assert.equal((await store.secrets.keyUsage()).size, 0);
  assert.equal((await store.audit.head()).seq, 0);
});
