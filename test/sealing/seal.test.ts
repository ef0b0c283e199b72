// Local sealing end to end, on swtpm and on `sim:`, with reboots (swtpm: power cycle through its
// control channel; sim: the state file closed and opened again): a secret sealed under the fleet
// policy key unseals after a reboot into the signed release; a kernel command line change without
// a new signature does not unseal (neither the approval lookup nor the TPM accept it); the new
// release's signature unseals; after the policy counter is raised, an approval signed with the old
// counter value no longer unseals even with the right PCRs — refused by the TPM's PolicyNV too.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Prediction } from '../../src/predict/index.ts';
import {
  advancePolicyCounter,
  encodeSealedSecret,
  findApproval,
  keySigner,
  parseSealedSecret,
  policyCounterBinding,
  resealSecret,
  sealSecret,
  signPcrPolicies,
  unsealSecret,
  unsealWithApproval,
  type PcrSignatureDocument,
  type PcrSignatureEntry,
} from '../../src/sealing/index.ts';
import type { Tpm } from '../../src/tpm/client.ts';
import { decode } from '../../src/tpm/schema/index.ts';
import { TPMT_PUBLIC } from '../../src/tpm/structures.ts';
import { bootInto, haveStub, policyKey, predictUki, readStub, simMachine, swtpmMachine, type Machine } from './helpers.ts';

const PCRS = [7, 11];
const PHASES = ['enter-initrd'];
const boot = (tpm: Tpm, prediction: Prediction): Promise<void> => bootInto(tpm, prediction, PCRS);

async function release(
  cmdline: string,
  key: ReturnType<typeof policyKey>,
  counter: number,
  stub: Uint8Array,
): Promise<{ prediction: Prediction; document: PcrSignatureDocument }> {
  const { prediction } = predictUki(stub, { linux: new Uint8Array(2048).fill(0x4c), cmdline, osrel: 'ID=vouch\n' }, PHASES);
  const { document } = await signPcrPolicies(prediction, {
    publicKey: key.publicKey,
    signer: keySigner(key.privateKey),
    banks: ['sha256'],
    pcrs: PCRS,
    counter: policyCounterBinding(counter),
  });
  return { prediction, document };
}

/** A release's counter-bound approval (each phase also has a systemd entry, PolicyPCR alone). */
function counterBound(document: PcrSignatureDocument): PcrSignatureEntry {
  return document.sha256!.find((e) => e.counter !== undefined)!;
}

async function scenario(t: TestContext, machine: Machine): Promise<void> {
  const stub = await readStub();
  const fleet = policyKey('ec');
  const diskKey = new Uint8Array(randomBytes(64));
  const v1 = await release('composefs=aaaa ro', fleet, 1, stub);
  const v2 = await release('composefs=bbbb ro', fleet, 1, stub);

  // First boot into v1: after a remote attestation released the key, the agent seals it.
  await boot(machine.tpm, v1.prediction);
  const sealed = parseSealedSecret(encodeSealedSecret(await resealSecret(machine.tpm, diskKey, { policyKey: fleet.publicKey, counterValue: 1 })));

  await t.test('seal, reboot into the same release: the release signature unseals', async () => {
    await machine.reboot();
    await boot(machine.tpm, v1.prediction);
    assert.deepEqual(await unsealSecret(machine.tpm, sealed, v1.document, fleet.publicKey), diskKey);
  });

  await t.test('a command line change without a new signature does not unseal', async () => {
    await machine.reboot();
    await boot(machine.tpm, v2.prediction);
    await assert.rejects(unsealSecret(machine.tpm, sealed, v1.document, fleet.publicKey), { code: 'ERR_SEALING_NO_SIGNED_POLICY' });
    // The TPM itself refuses v1's approval on these PCRs: PolicyAuthorize finds the session at another digest.
    const stale = { entry: counterBound(v1.document), counter: policyCounterBinding(1) };
    await assert.rejects(unsealWithApproval(machine.tpm, sealed, stale, fleet.publicKey), (e: Error & { code?: string; details?: { step?: string } }) => {
      assert.equal(e.code, 'ERR_SEALING_POLICY_FAIL');
      assert.equal(e.details?.step, 'PolicyAuthorize');
      return true;
    });
  });

  await t.test('the new release with its signature unseals, with no server', async () => {
    assert.deepEqual(await unsealSecret(machine.tpm, sealed, v2.document, fleet.publicKey), diskKey);
  });

  await t.test('a revoked signature (policy counter raised) does not unseal even with the right PCRs', async () => {
    await advancePolicyCounter(machine.tpm, 2);
    await machine.reboot();
    await boot(machine.tpm, v2.prediction);
    await assert.rejects(unsealSecret(machine.tpm, sealed, v2.document, fleet.publicKey), { code: 'ERR_SEALING_REVOKED' });
    // Past the lookup, the TPM refuses PolicyNV: the counter (2) is above the approval's 1.
    const revoked = { entry: counterBound(v2.document), counter: policyCounterBinding(1) };
    await assert.rejects(unsealWithApproval(machine.tpm, sealed, revoked, fleet.publicKey), (e: Error & { code?: string; details?: { rc?: string } }) => {
      assert.equal(e.code, 'ERR_SEALING_REVOKED');
      assert.equal(e.details?.rc, 'TPM_RC_POLICY');
      return true;
    });
    const resigned = await release('composefs=bbbb ro', fleet, 2, stub);
    assert.deepEqual(await unsealSecret(machine.tpm, sealed, resigned.document, fleet.publicKey), diskKey);
    await assert.rejects(advancePolicyCounter(machine.tpm, 1), { code: 'ERR_SEALING_COUNTER' });
  });

  await t.test('a signature by another key, or a forged one, does not unseal', async () => {
    const other = policyKey('rsa');
    const foreign = await release('composefs=bbbb ro', other, 2, stub);
    await assert.rejects(unsealSecret(machine.tpm, sealed, foreign.document, fleet.publicKey), { code: 'ERR_SEALING_NO_SIGNED_POLICY' });
    await assert.rejects(unsealSecret(machine.tpm, sealed, foreign.document, other.publicKey), { code: 'ERR_SEALING_BLOB' });
    const good = await release('composefs=bbbb ro', fleet, 2, stub);
    const approval = await findApproval(machine.tpm, good.document, fleet.publicKey, sealed.counterIndex);
    const forgedSig = Buffer.from(approval.entry.sig, 'base64');
    forgedSig[forgedSig.length - 1]! ^= 1;
    const forged = { ...approval, entry: { ...approval.entry, sig: forgedSig.toString('base64') } };
    await assert.rejects(unsealWithApproval(machine.tpm, sealed, forged, fleet.publicKey), (e: Error & { code?: string; details?: { step?: string } }) => {
      assert.equal(e.code, 'ERR_SEALING_POLICY_FAIL');
      assert.equal(e.details?.step, 'VerifySignature');
      return true;
    });
  });

  await t.test('with a PIN (PolicyAuthValue) the right PIN unseals and a wrong one does not', async () => {
    const pin = new TextEncoder().encode('1234');
    const withPin = await sealSecret(machine.tpm, diskKey, { policyKey: fleet.publicKey, pin });
    assert.equal(decode(TPMT_PUBLIC, withPin.public).objectAttributes.noDA, false, 'PIN guesses count toward the lockout');
    assert.equal(decode(TPMT_PUBLIC, sealed.public).objectAttributes.noDA, true);
    const signed = await release('composefs=bbbb ro', fleet, 2, stub);
    assert.deepEqual(await unsealSecret(machine.tpm, withPin, signed.document, fleet.publicKey, pin), diskKey);
    await assert.rejects(unsealSecret(machine.tpm, withPin, signed.document, fleet.publicKey, new TextEncoder().encode('4321')), {
      code: 'ERR_SEALING_POLICY_FAIL',
    });
  });
}

test('local sealing on the software TPM (sim:)', async (t) => {
  if (!haveStub(t)) return;
  await scenario(t, await simMachine(t));
});

test('local sealing on swtpm', async (t) => {
  if (!haveStub(t)) return;
  const machine = await swtpmMachine(t);
  if (!machine) return;
  await scenario(t, machine);
});
