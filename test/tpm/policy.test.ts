// Software policy digests against published values (TCG EK Credential Profile 2.0, B.3.2 / B.6).
// The TPM-side agreement (trial sessions, PolicyOR on swtpm's P-384 EK) is in the scenario and
// tpm2-tools tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex } from '../../src/bytes/index.ts';
import { TPM_ALG } from '../../src/tpm/constants.ts';
import { ekPolicyA, ekPolicyRecipe, policyOr } from '../../src/tpm/policy.ts';
import { EK_POLICY_SHA256 } from '../../src/tpm/templates.ts';

const POLICY_A_SHA384 = fromHex('8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53');

test('PolicyA = PolicySecret(TPM_RH_ENDORSEMENT) matches the profile for SHA-256 and SHA-384', () => {
  assert.deepStrictEqual(ekPolicyA(TPM_ALG.SHA256), EK_POLICY_SHA256);
  assert.deepStrictEqual(ekPolicyA(TPM_ALG.SHA384), POLICY_A_SHA384);
});

test('EK policy recipes: low range PolicyA, high range PolicyOR(PolicyA, PolicyC); anything else is not recognised', () => {
  assert.deepStrictEqual(ekPolicyRecipe(TPM_ALG.SHA256, EK_POLICY_SHA256), { hashAlg: TPM_ALG.SHA256 });
  const recipe = ekPolicyRecipe(
    TPM_ALG.SHA384,
    policyOr(TPM_ALG.SHA384, [POLICY_A_SHA384, fromHex('d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165')]),
  );
  assert.equal(recipe?.orBranches?.length, 2);
  assert.equal(ekPolicyRecipe(TPM_ALG.SHA256, new Uint8Array(32)), undefined);
  assert.equal(ekPolicyRecipe(TPM_ALG.SHA1, EK_POLICY_SHA256), undefined);
});
