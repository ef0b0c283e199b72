import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const SealingErrorCode = defineErrorCodes('sealing', {
  ERR_SEALING_PCRSIG_FORMAT:
    "A signed PCR policy document (.pcrsig JSON) is not in systemd's format: not JSON, an unknown bank, a malformed entry (pcrs, pkfp, pol, sig), or over a limit.",
  ERR_SEALING_PCRSIG_SIGNATURE: 'A signature in a signed PCR policy document does not verify under the policy key it names (pkfp).',
  ERR_SEALING_KEY:
    'The PCR policy key is not usable: not an RSA (2048 bits or more) or ECDSA P-256/P-384 key, or a public key where signing needs the private one.',
  ERR_SEALING_PREDICTION:
    'The prediction lacks a bank or PCR the signed policy is to cover (add the bank to the boot profile, or the PCR to those it predicts).',
  ERR_SEALING_NO_SIGNED_POLICY:
    'No signed policy matches the PCR values this TPM holds now (a kernel, command line or firmware change without a new signature): fall back to remote attestation.',
  ERR_SEALING_REVOKED: "The signed policy that matches the PCRs names a counter value older than this TPM's policy counter: the signature was revoked.",
  ERR_SEALING_POLICY_FAIL:
    'The TPM refused to unseal (details.rc names the TPM_RC): its PCRs, policy counter or the signed approval do not satisfy the sealed policy.',
  ERR_SEALING_COUNTER:
    "The TPM's policy counter cannot be brought to the fleet's value (it is already above it, the index exists with other attributes, or it is not defined on this TPM).",
  ERR_SEALING_BLOB:
    'A sealed-secret document is malformed (version, fields, sizes), was sealed under another policy key, or does not load on this TPM (sealed on another TPM, or the TPM was cleared).',
});

export type SealingErrorCode = keyof typeof SealingErrorCode;

export class SealingError extends VouchError {
  constructor(code: SealingErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
