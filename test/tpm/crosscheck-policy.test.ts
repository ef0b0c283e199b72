// The software policy calculator and qualified names against a real TPM (swtpm): each TrialPolicy
// step equals what TPM2_PolicyGetDigest reports in a trial session (SHA-256 and SHA-384), and a
// quote's qualifiedSigner is the AK's qualified name computed from the Names alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/bytes/index.ts';
import { Tpm } from '../../src/tpm/client.ts';
import { toPcrSelection } from '../../src/tpm/pcr-selection.ts';
import * as C from '../../src/tpm/commands.ts';
import { TPM_ALG, TPM_CC, TPM_RH, TPM_ST } from '../../src/tpm/constants.ts';
import { TrialPolicy, hierarchyQualifiedName, qualifiedName } from '../../src/tpm/crypto/index.ts';
import { decode } from '../../src/tpm/schema/index.ts';
import { TPMS_ATTEST, type TpmHashAlg } from '../../src/tpm/structures.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { pcrValuesInOrder } from '../../src/tpm/pcr-selection.ts';

test('TrialPolicy predicts every step of a TPM trial session (PCR, Secret, CommandCode, AuthValue, Password, OR, Authorize)', async (t) => {
  const swtpm = await startSwtpm(t);
  if (!swtpm?.transport) return;
  const tpm = new Tpm(swtpm.transport);
  const selection = [{ hash: TPM_ALG.SHA256, pcrs: [0, 7] }] as const;
  await tpm.pcrExtend(7, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(7) }]);
  const pcrValues = pcrValuesInOrder(await tpm.pcrRead(selection), selection);
  for (const hashAlg of [TPM_ALG.SHA256, TPM_ALG.SHA384] as TpmHashAlg[]) {
    const ours = new TrialPolicy(hashAlg);
    await tpm.withSession('trial', hashAlg, async (s) => {
      const same = async (step: string): Promise<void> =>
        assert.equal(toHex(await tpm.policyGetDigest(s)), toHex(ours.digest), `${step} (hash 0x${hashAlg.toString(16)})`);
      await tpm.policyPCR(s, selection);
      ours.pcr(toPcrSelection(selection), pcrValues);
      await same('PolicyPCR');
      await tpm.policySecret(s, TPM_RH.ENDORSEMENT);
      ours.secret(hierarchyQualifiedName(TPM_RH.ENDORSEMENT));
      await same('PolicySecret');
      await tpm.run(C.PolicyCommandCode, { policySession: s.handle, code: TPM_CC.Unseal });
      ours.commandCode(TPM_CC.Unseal);
      await same('PolicyCommandCode');
      await tpm.run(C.PolicyAuthValue, { policySession: s.handle });
      ours.authValue();
      await same('PolicyAuthValue');
      await tpm.run(C.PolicyPassword, { policySession: s.handle });
      ours.password();
      await same('PolicyPassword');
      const other = new TrialPolicy(hashAlg).commandCode(TPM_CC.NV_Read).digest;
      await tpm.policyOR(s, [other, ours.digest]);
      ours.or([other, ours.digest]);
      await same('PolicyOR');
      const keySignName = new Uint8Array([0x00, 0x0b, ...new Uint8Array(32).fill(0xa5)]);
      await tpm.run(C.PolicyAuthorize, {
        policySession: s.handle,
        approvedPolicy: ours.digest,
        policyRef: new Uint8Array(0),
        keySign: keySignName,
        checkTicket: { tag: TPM_ST.VERIFIED, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) },
      });
      ours.authorize(keySignName);
      await same('PolicyAuthorize');
    });
  }
});

test("a quote's qualifiedSigner is the AK's qualified name under the owner hierarchy and SRK", async (t) => {
  const swtpm = await startSwtpm(t);
  if (!swtpm?.transport) return;
  const tpm = new Tpm(swtpm.transport);
  const srk = await tpm.createSRK('ecc');
  const ak = await tpm.createAK(srk, 'ecc');
  try {
    const q = await tpm.quote(ak.key.ref, new Uint8Array(8), [{ hash: TPM_ALG.SHA256, pcrs: [0] }]);
    const attest = decode(TPMS_ATTEST, q.quoted.bytes);
    const expected = qualifiedName(qualifiedName(hierarchyQualifiedName(TPM_RH.OWNER), srk.name), ak.key.name);
    assert.equal(toHex(attest.qualifiedSigner), toHex(expected));
  } finally {
    await ak.key.flush();
    await srk.flush();
  }
});
