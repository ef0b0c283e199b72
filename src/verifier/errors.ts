import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const VerifierErrorCode = defineErrorCodes('verifier', {
  ERR_QUOTE_MALFORMED: 'The quote (TPMS_ATTEST) or its signature (TPMT_SIGNATURE) bytes do not parse; details say which field.',
  ERR_QUOTE_AK_INVALID: 'The attestation key cannot vouch for quotes: not a restricted signing key, an unsupported key, or a PEM that does not parse.',
  ERR_QUOTE_SIGNATURE:
    "The quote signature does not verify under the attestation key (altered message or signature, another key), or its scheme is not the key's.",
  ERR_QUOTE_SIGNATURE_HASH: 'The quote is signed with a hash the verifier does not accept (SHA-1 unless a policy allows it, or an unknown hash).',
  ERR_QUOTE_NOT_A_QUOTE: 'The signed structure is not a TPM quote: magic is not TPM_GENERATED_VALUE or the type is not TPM_ST_ATTEST_QUOTE.',
  ERR_QUOTE_NONCE_MISMATCH: "The quote's extraData is not the expected nonce / qualifying data (a replayed or foreign quote).",
  ERR_QUOTE_SELECTION_MISMATCH: 'The quote covers other PCRs or banks than the ones asked for.',
  ERR_QUOTE_PCR_MISSING: 'No value was supplied for a PCR the quote covers, so its digest cannot be checked.',
  ERR_QUOTE_PCR_DIGEST_MISMATCH: "The PCR values supplied do not hash to the quote's pcrDigest (values altered, or read at another time than quoted).",
  ERR_QUOTE_PCR_FILE: 'A PCR values file is malformed: not the tpm2-tools serialized layout, or raw values that do not fit the PCR list.',
});

export type VerifierErrorCodeName = keyof typeof VerifierErrorCode;

export class VerifierError extends VouchError {
  constructor(code: VerifierErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
