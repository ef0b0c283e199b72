// EK and AK certificate validation (enrollment): chain to configured CAs, TCG profile, this exact key.
export {
  validateEndorsementCertificate,
  validateEkCertificate,
  validateAkCertificate,
  EndorsementKind,
  EndorsementOid,
  EndorsementProblemCode,
  MAX_ENDORSEMENT_CERTIFICATE_SIZE,
  MAX_TRUST_CERTIFICATES,
  MAX_CHAIN_LENGTH,
} from './validate.ts';
export type { EndorsementResult, EndorsementProblem, EndorsementTrust, ChainCertificate } from './validate.ts';
export { EndorsementError, EndorsementErrorCode } from './errors.ts';
export type { EndorsementErrorCodeName } from './errors.ts';
