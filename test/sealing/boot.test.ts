// The node's boot order and the fleet's side, on `sim:` and on swtpm, across reboots: the first boot
// is a remote attestation that seals; a reboot into the same release unlocks locally with no server;
// a changed command line without a new signature goes to the server and reseals; a new release
// signed by the fleet unlocks with no server; after the fleet revokes a release (its counter raised,
// the kept releases signed again) and the node adopts the new counter, the revoked release's
// signature does not unseal even with the right PCRs, while the kept release's new one does.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import type { Prediction } from '../../src/predict/index.ts';
import {
  adoptPolicyCounter,
  createFleetPolicyKey,
  encodeSealedSecret,
  fleetPolicyKey,
  keySigner,
  parseSealedSecret,
  readPolicyCounter,
  revokeReleaseSignatures,
  sealSecret,
  signReleasePolicy,
  signedCounterValue,
  unlockLocallyOrRemotely,
  type FleetPolicyKey,
  type PcrSignatureDocument,
  type SealedSecret,
  type Unlocked,
} from '../../src/sealing/index.ts';
import { bootInto, haveStub, predictUki, readStub, simMachine, swtpmMachine, type Machine } from './helpers.ts';

const PCRS = [7, 11];

function predictRelease(stub: Uint8Array, cmdline: string): Prediction {
  return predictUki(stub, { linux: new Uint8Array(2048).fill(0x4c), cmdline, osrel: 'ID=vouch\n' }, ['enter-initrd']).prediction;
}

/** What the agent keeps between boots: the sealed secret's document (next to the volume) and the release documents. */
class Node {
  stored: Uint8Array | undefined;
  remoteCalls = 0;
  readonly machine: Machine;
  readonly fleet: FleetPolicyKey;
  constructor(machine: Machine, fleet: FleetPolicyKey) {
    this.machine = machine;
    this.fleet = fleet;
  }

  /** One boot's unlock; `server` is the remote attestation's answer (undefined: the server is stopped). */
  unlock(signature: PcrSignatureDocument | undefined, server: Uint8Array | undefined): Promise<Unlocked> {
    return unlockLocallyOrRemotely({
      tpm: this.machine.tpm,
      sealed: this.stored && parseSealedSecret(this.stored),
      signature,
      policyKey: this.fleet.publicKey,
      remote: () => {
        this.remoteCalls++;
        return server ? Promise.resolve(server) : Promise.reject(new Error('the attestation server is not running'));
      },
      reseal: (sealed: SealedSecret) => {
        this.stored = encodeSealedSecret(sealed);
        return Promise.resolve();
      },
    });
  }

  async rebootInto(prediction: Prediction): Promise<void> {
    await this.machine.reboot();
    await bootInto(this.machine.tpm, prediction, PCRS);
  }
}

async function scenario(t: TestContext, machine: Machine): Promise<void> {
  const stub = await readStub();
  const fleet = fleetPolicyKey(createFleetPolicyKey('ec').privatePem);
  const diskKey = new Uint8Array(randomBytes(32));
  const v1 = predictRelease(stub, 'composefs=aaaa ro');
  const v2 = predictRelease(stub, 'composefs=bbbb ro');
  let counter = 1;
  const v1Signed = await signReleasePolicy(v1, fleet, counter);
  const node = new Node(machine, fleet);

  await t.test('first boot: nothing sealed, the server releases the key, the node seals it', async () => {
    await bootInto(machine.tpm, v1, PCRS);
    const unlocked = await node.unlock(v1Signed, diskKey);
    assert.equal(unlocked.via, 'remote');
    assert.equal(unlocked.localFailure, undefined);
    assert.equal(unlocked.followUpFailure, undefined);
    assert.deepEqual(unlocked.secret, diskKey);
    assert.ok(node.stored);
    assert.equal(await readPolicyCounter(machine.tpm), 1);
  });

  await t.test('reboot into the same release: unlocked locally with the server stopped', async () => {
    await node.rebootInto(v1);
    const calls = node.remoteCalls;
    const unlocked = await node.unlock(v1Signed, undefined);
    assert.equal(unlocked.via, 'local');
    assert.deepEqual(unlocked.secret, diskKey);
    assert.equal(node.remoteCalls, calls);
  });

  await t.test('a command line change without a new signature: local unseal refused, remote attestation decides', async () => {
    await node.rebootInto(v2);
    await assert.rejects(node.unlock(v1Signed, undefined), /the attestation server is not running/);
    const unlocked = await node.unlock(v1Signed, diskKey);
    assert.equal(unlocked.via, 'remote');
    assert.equal(unlocked.localFailure?.code, 'ERR_SEALING_NO_SIGNED_POLICY');
    assert.deepEqual(unlocked.secret, diskKey);
  });

  const v3 = predictRelease(stub, 'composefs=cccc ro');
  const v3Signed = await signReleasePolicy(v3, fleet, counter);
  await t.test("a new release's signature, received before the reboot, unlocks with no server", async () => {
    await node.rebootInto(v3);
    const unlocked = await node.unlock(v3Signed, undefined);
    assert.equal(unlocked.via, 'local');
    assert.deepEqual(unlocked.secret, diskKey);
  });

  await t.test('a revoked signature does not unseal even with the right PCRs; the kept release signed again does', async () => {
    const revocation = await revokeReleaseSignatures([{ id: 'v2', prediction: v2 }], counter, fleet);
    counter = revocation.counter;
    assert.equal(counter, 2);
    assert.deepEqual([...revocation.documents.keys()], ['v2']);
    const v2Resigned = revocation.documents.get('v2')!;
    assert.equal(signedCounterValue(v2Resigned, fleet.publicKey), 2);
    // The running node receives the new documents, stores them, then adopts the fleet's counter.
    assert.equal(await adoptPolicyCounter(machine.tpm, v2Resigned, fleet.publicKey), 2);
    assert.equal(await adoptPolicyCounter(machine.tpm, v3Signed, fleet.publicKey), 2, 'an older document never lowers it');

    await node.rebootInto(v3);
    const unlocked = await node.unlock(v3Signed, diskKey);
    assert.equal(unlocked.via, 'remote', 'the revoked release goes to the server, which decides');
    assert.equal(unlocked.localFailure?.code, 'ERR_SEALING_REVOKED');
    await assert.rejects(node.unlock(v3Signed, undefined), /the attestation server is not running/);

    await node.rebootInto(v2);
    const kept = await node.unlock(v2Resigned, undefined);
    assert.equal(kept.via, 'local');
    assert.deepEqual(kept.secret, diskKey);
  });

  await t.test('a local unlock adopts the counter its approval names: a revocation takes effect with no network', async () => {
    const revocation = await revokeReleaseSignatures([{ id: 'v2', prediction: v2 }], counter, fleet);
    const v2AtThree = revocation.documents.get('v2')!;
    const v2AtTwo = await signReleasePolicy(v2, fleet, counter);
    counter = revocation.counter;
    await node.rebootInto(v2);
    assert.equal((await node.unlock(v2AtThree, undefined)).via, 'local');
    assert.equal(await readPolicyCounter(machine.tpm), 3);
    await node.rebootInto(v2);
    const stale = await node.unlock(v2AtTwo, diskKey);
    assert.equal(stale.localFailure?.code, 'ERR_SEALING_REVOKED');
  });

  await t.test('a reseal that fails after the server released the key keeps the key and reports why', async () => {
    await node.rebootInto(v1);
    const unlocked = await unlockLocallyOrRemotely({
      tpm: machine.tpm,
      sealed: undefined,
      signature: v1Signed,
      policyKey: fleet.publicKey,
      remote: () => Promise.resolve(diskKey),
      reseal: () => Promise.reject(new Error('read-only file system')),
    });
    assert.equal(unlocked.via, 'remote');
    assert.deepEqual(unlocked.secret, diskKey);
    assert.match(unlocked.followUpFailure?.message ?? '', /read-only file system/);
  });
}

test('boot order and fleet revocation on the software TPM (sim:)', async (t) => {
  if (!haveStub(t)) return;
  await scenario(t, await simMachine(t));
});

test('boot order and fleet revocation on swtpm', async (t) => {
  if (!haveStub(t)) return;
  const machine = await swtpmMachine(t);
  if (!machine) return;
  await scenario(t, machine);
});

test('a secret sealed on another TPM, or a document signed by another key, sends the boot to the server', async (t) => {
  if (!haveStub(t)) return;
  const stub = await readStub();
  const fleet = fleetPolicyKey(createFleetPolicyKey('rsa').privatePem);
  const v1 = predictRelease(stub, 'composefs=aaaa ro');
  const signed = await signReleasePolicy(v1, fleet, 1);
  const diskKey = new Uint8Array(randomBytes(32));
  const elsewhere = await simMachine(t);
  const here = await simMachine(t);
  assert.equal(await readPolicyCounter(elsewhere.tpm), 0, 'no counter defined yet');
  assert.equal(await adoptPolicyCounter(elsewhere.tpm, signed, fleet.publicKey), 1, 'adopting defines it');
  const foreign = await sealSecret(elsewhere.tpm, diskKey, { policyKey: fleet.publicKey });
  await bootInto(here.tpm, v1, PCRS);
  const node = new Node(here, fleet);
  node.stored = encodeSealedSecret(foreign);
  // No counter on this TPM yet: the first refusal is the counter's.
  const first = await node.unlock(signed, diskKey);
  assert.equal(first.localFailure?.code, 'ERR_SEALING_COUNTER');
  node.stored = encodeSealedSecret(foreign);
  const second = await node.unlock(signed, diskKey);
  assert.equal(second.localFailure?.code, 'ERR_SEALING_BLOB');
  assert.equal((await node.unlock(signed, undefined)).via, 'local', 'the reseal made it this TPM’s');

  const other = fleetPolicyKey(createFleetPolicyKey('ec').privatePem);
  const otherSigned = await signReleasePolicy(v1, other, 1);
  assert.equal((await node.unlock(otherSigned, diskKey)).localFailure?.code, 'ERR_SEALING_NO_SIGNED_POLICY');
  assert.equal((await node.unlock(undefined, diskKey)).localFailure?.code, 'ERR_SEALING_NO_SIGNED_POLICY');
});

test('the fleet key: from the PEM the broker keeps, or a public key and a signer callback (an HSM key)', async (t) => {
  if (!haveStub(t)) return;
  const v1 = predictRelease(await readStub(), 'composefs=aaaa ro');
  const pair = createFleetPolicyKey('ec');
  const fromPem = fleetPolicyKey(pair.privatePem);
  // A signer that holds the private key elsewhere and answers asynchronously, as a PKCS#11 token does.
  const inner = keySigner(createPrivateKey(pair.privatePem));
  const viaCallback = fleetPolicyKey(fromPem.publicKey, (message, hash) => Promise.resolve(inner(message, hash)));
  const document = await signReleasePolicy(v1, viaCallback, 4, { pcrs: [11] });
  assert.equal(signedCounterValue(document, fromPem.publicKey), 4);
  assert.deepEqual(
    document.sha256!.map((e) => [e.pcrs, e.counter]),
    [
      [[11], undefined],
      [[11], 4],
    ],
  );
  const stranger = fleetPolicyKey(createFleetPolicyKey('ec').privatePem);
  await assert.rejects(signReleasePolicy(v1, fleetPolicyKey(fromPem.publicKey, stranger.signer), 1), { code: 'ERR_SEALING_PCRSIG_SIGNATURE' });
  assert.throws(() => fleetPolicyKey('not a key'), { code: 'ERR_SEALING_KEY' });
  assert.throws(() => fleetPolicyKey(pair.publicPem), { code: 'ERR_SEALING_KEY' });
  await assert.rejects(signReleasePolicy(v1, fromPem, 0), { code: 'ERR_SEALING_COUNTER' });
});
