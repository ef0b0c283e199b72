/**
 * Policy digests computed in software (TPM 2.0 Library Part 3, 23: each TPM2_PolicyXxx extends
 * policyDigest_new = H(policyDigest_old ‖ TPM_CC_PolicyXxx ‖ arguments)). Used to predict an
 * object's authPolicy before creating it, and to recognise the EK policies of the TCG EK
 * Credential Profile so the matching policy session can be replayed.
 */
import { ByteWriter, bytesEqual, fromHex } from '../bytes/index.ts';
import { HASH_SIZE, TPM_ALG, TPM_CC, TPM_RH } from './constants.ts';
import { tpmHash } from './names.ts';
import { encode } from './schema/index.ts';
import { TPML_PCR_SELECTION } from './structures.ts';

const cc = (code: number): Uint8Array => new ByteWriter(4).u32(code).finish();

/** The all-zero digest every policy session starts from. */
export function policyStart(hashAlg: number): Uint8Array {
  return new Uint8Array(HASH_SIZE[hashAlg] ?? 0);
}

/** TPM2_PolicySecret / PolicySigned / PolicyNV style update: H(H(old ‖ cc ‖ name) ‖ policyRef). */
export function policySecret(hashAlg: number, old: Uint8Array, authObjectName: Uint8Array, policyRef: Uint8Array = new Uint8Array(0)): Uint8Array {
  return tpmHash(hashAlg, tpmHash(hashAlg, old, cc(TPM_CC.PolicySecret), authObjectName), policyRef);
}

/** TPM2_PolicyPCR: H(old ‖ cc ‖ TPML_PCR_SELECTION ‖ H(selected PCR values in selection order)). */
export function policyPcr(hashAlg: number, old: Uint8Array, selection: TPML_PCR_SELECTION, pcrValues: readonly Uint8Array[]): Uint8Array {
  const pcrDigest = tpmHash(hashAlg, ...pcrValues);
  return tpmHash(hashAlg, old, cc(TPM_CC.PolicyPCR), encode(TPML_PCR_SELECTION, selection), pcrDigest);
}

/** TPM2_PolicyOR: H(zeros ‖ cc ‖ digests...). The old digest must be one of the branches (the TPM checks). */
export function policyOr(hashAlg: number, branches: readonly Uint8Array[]): Uint8Array {
  return tpmHash(hashAlg, policyStart(hashAlg), cc(TPM_CC.PolicyOR), ...branches);
}

/** TPM2_PolicyCommandCode. */
export function policyCommandCode(hashAlg: number, old: Uint8Array, code: number): Uint8Array {
  return tpmHash(hashAlg, old, cc(TPM_CC.PolicyCommandCode), cc(code));
}

/** TPM2_PolicyAuthValue and TPM2_PolicyPassword extend identically (both use TPM_CC_PolicyAuthValue). */
export function policyAuthValue(hashAlg: number, old: Uint8Array): Uint8Array {
  return tpmHash(hashAlg, old, cc(TPM_CC.PolicyAuthValue));
}

/**
 * TPM2_PolicyNV (Part 3, 23.9): H(old ‖ cc ‖ args ‖ nvIndexName) with args = H(operandB ‖ offset ‖
 * operation). The NV index's Name includes its attributes, so a counter that has been written has
 * another Name than before its first increment.
 */
export function policyNv(hashAlg: number, old: Uint8Array, nvIndexName: Uint8Array, operandB: Uint8Array, offset: number, operation: number): Uint8Array {
  const args = tpmHash(hashAlg, operandB, new ByteWriter(2).u16(offset).finish(), new ByteWriter(2).u16(operation).finish());
  return tpmHash(hashAlg, old, cc(TPM_CC.PolicyNV), args, nvIndexName);
}

/** TPM2_PolicyAuthorize: resets to H(H(zeros ‖ cc ‖ keySign name) ‖ policyRef). */
export function policyAuthorize(hashAlg: number, keySignName: Uint8Array, policyRef: Uint8Array = new Uint8Array(0)): Uint8Array {
  return tpmHash(hashAlg, tpmHash(hashAlg, policyStart(hashAlg), cc(TPM_CC.PolicyAuthorize), keySignName), policyRef);
}

const endorsementName = new ByteWriter(4).u32(TPM_RH.ENDORSEMENT).finish();

/** "PolicyA" of the EK Credential Profile (B.6): PolicySecret(TPM_RH_ENDORSEMENT). */
export function ekPolicyA(hashAlg: number): Uint8Array {
  return policySecret(hashAlg, policyStart(hashAlg), endorsementName);
}

/**
 * "PolicyC" (EK Credential Profile B.6): PolicyAuthorizeNV on the EK policy index, which we never
 * satisfy; it only completes the PolicyOR branch list of the high-range EK templates (swtpm's
 * P-384 EK). These are the profile's published values.
 */
const EK_POLICY_C: Readonly<Record<number, Uint8Array>> = {
  [TPM_ALG.SHA384]: fromHex('d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165'),
  [TPM_ALG.SHA512]: fromHex('589ee1e146544716e8deafe6db247b01b81e9f9c7dd16b814aa159138749105fba5388dd1dea702f35240c184933121e2c61b8f50d3ef91393a49a38c3f73fc8'),
};

/** How to satisfy an EK's authPolicy: PolicySecret(endorsement), optionally followed by PolicyOR(branches). */
export type EkPolicyRecipe = { readonly hashAlg: number; readonly orBranches?: readonly Uint8Array[] };

/** Recognises the EK policies of the profile (low-range PolicyA; high-range PolicyOR(A, C)); undefined otherwise. */
export function ekPolicyRecipe(nameAlg: number, authPolicy: Uint8Array): EkPolicyRecipe | undefined {
  if (!HASH_SIZE[nameAlg]) return undefined;
  const a = ekPolicyA(nameAlg);
  if (bytesEqual(a, authPolicy)) return { hashAlg: nameAlg };
  const c = EK_POLICY_C[nameAlg];
  if (c && bytesEqual(policyOr(nameAlg, [a, c]), authPolicy)) return { hashAlg: nameAlg, orBranches: [a, c] };
  return undefined;
}
