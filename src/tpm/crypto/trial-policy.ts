/**
 * A software "trial" policy session (TPM 2.0 Library Part 3, 23): chain TPM2_PolicyXxx updates
 * to predict an authPolicy before creating the object it protects, or to know which digest a
 * real policy session must reach. Each step extends policyDigest = H(old ‖ TPM_CC_PolicyXxx ‖ …);
 * the per-command formulas shared with the client and the software TPM live in src/tpm/policy.ts,
 * the ones only this calculator needs (PolicySigned, PolicyCpHash, PolicyNameHash) are here.
 *
 * @example
 *   const sealed = new TrialPolicy(TPM_ALG.SHA256).pcr(selection, values).commandCode(TPM_CC.Unseal).digest;
 */
import { ByteWriter } from '../../bytes/index.ts';
import { TPM_CC } from '../constants.ts';
import { tpmHash } from '../names.ts';
import { policyAuthValue, policyAuthorize, policyCommandCode, policyNv, policyOr, policyPcr, policySecret, policyStart } from '../policy.ts';
import type { TPML_PCR_SELECTION } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize } from './kdf.ts';

const u32 = (v: number): Uint8Array => new ByteWriter(4).u32(v).finish();

export class TrialPolicy {
  readonly hashAlg: number;
  #digest: Uint8Array;

  constructor(hashAlg: number) {
    digestSize(hashAlg);
    this.hashAlg = hashAlg;
    this.#digest = policyStart(hashAlg);
  }

  /** The policy digest so far (what TPM2_PolicyGetDigest returns; the authPolicy to put in a template). */
  get digest(): Uint8Array {
    return this.#digest.slice();
  }

  /** TPM2_PolicyPCR: the selection and the values the PCRs must hold (in selection order). */
  pcr(selection: TPML_PCR_SELECTION, values: readonly Uint8Array[]): this {
    this.#digest = policyPcr(this.hashAlg, this.#digest, selection, values);
    return this;
  }

  /** TPM2_PolicySecret with the Name of the entity whose authValue is proven (a hierarchy handle, an NV index, an object). */
  secret(authObjectName: Uint8Array, policyRef?: Uint8Array): this {
    this.#digest = policySecret(this.hashAlg, this.#digest, authObjectName, policyRef);
    return this;
  }

  /** TPM2_PolicySigned: like PolicySecret but names the key that signs the authorization. */
  signed(keyName: Uint8Array, policyRef: Uint8Array = new Uint8Array(0)): this {
    this.#digest = tpmHash(this.hashAlg, tpmHash(this.hashAlg, this.#digest, u32(TPM_CC.PolicySigned), keyName), policyRef);
    return this;
  }

  /** TPM2_PolicyOR: the digest becomes H(0… ‖ cc ‖ branches); the session must be at one of them. */
  or(branches: readonly Uint8Array[]): this {
    if (branches.length < 2 || branches.length > 8) {
      throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `PolicyOR takes 2..8 branches, got ${branches.length}`, { branches: branches.length });
    }
    const size = digestSize(this.hashAlg);
    for (const b of branches)
      if (b.length !== size) throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `PolicyOR branch of ${b.length} bytes in a ${size}-byte policy`, {});
    this.#digest = policyOr(this.hashAlg, branches);
    return this;
  }

  commandCode(code: number): this {
    this.#digest = policyCommandCode(this.hashAlg, this.#digest, code);
    return this;
  }

  /** TPM2_PolicyAuthValue, or TPM2_PolicyPassword: both extend with TPM_CC_PolicyAuthValue. */
  authValue(): this {
    this.#digest = policyAuthValue(this.hashAlg, this.#digest);
    return this;
  }

  password(): this {
    return this.authValue();
  }

  /** TPM2_PolicyAuthorize: replaces the digest with one that any policy signed by `keySignName` satisfies. */
  authorize(keySignName: Uint8Array, policyRef?: Uint8Array): this {
    this.#digest = policyAuthorize(this.hashAlg, keySignName, policyRef);
    return this;
  }

  /** TPM2_PolicyNV: H(old ‖ cc ‖ H(operandB ‖ offset ‖ operation) ‖ nvIndexName). */
  nv(nvIndexName: Uint8Array, operandB: Uint8Array, offset: number, operation: number): this {
    this.#digest = policyNv(this.hashAlg, this.#digest, nvIndexName, operandB, offset, operation);
    return this;
  }

  /** TPM2_PolicyCpHash: binds the policy to one command with exactly these parameters. */
  cpHash(cpHashA: Uint8Array): this {
    this.#digest = tpmHash(this.hashAlg, this.#digest, u32(TPM_CC.PolicyCpHash), cpHashA);
    return this;
  }

  /** TPM2_PolicyNameHash: binds the policy to the handles (by Name) a command is used on. */
  nameHash(nameHash: Uint8Array): this {
    this.#digest = tpmHash(this.hashAlg, this.#digest, u32(TPM_CC.PolicyNameHash), nameHash);
    return this;
  }
}
