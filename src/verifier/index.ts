// Public API of the verifier: quote verification, evidence appraisal (claims, reference rules,
// policy) into a verdict and an EAR, and the server's half of enrollment.
export { verifyQuote, checkQuote, describeSelection, sameSelection, DEFAULT_QUOTE_SIGNATURE_HASHES } from './quote.ts';
export type { QuoteToVerify, VerifiedQuote, QuoteVerdict, QuoteClock, AttestationKey } from './quote.ts';
export { pcrValuesFromSerializedFile, pcrValuesFromRawFile, pcrSelectionFromList } from './quote-files.ts';
export { appraise } from './appraise.ts';
export type { AttestationEvidence, AppraisalInputs, ReleaseCatalog, NodeFacts, PolicyInput, PolicyFailure, PolicyCheck } from './appraise.ts';
export { VerdictStatus, VerdictReason } from './verdict.ts';
export type { Verdict, Reason, EventSummary, EventDifference, PcrAppraisal, QuoteFacts } from './verdict.ts';
export { deriveClaims, composefsDigestOf, certificateClaim } from './claims.ts';
export type { Claims, CertificateClaim, SignatureDatabaseClaim, SecureBootClaim, BootApplicationClaim, UkiSectionClaim, ClaimConflict } from './claims.ts';
export { attestationKeyProblems, issueCredential, credentialMatches, CREDENTIAL_SECRET_BYTES } from './enrollment.ts';
export type { CredentialChallenge } from './enrollment.ts';
export { trustworthinessVector, earClaims, TrustClaim } from './ear.ts';
export type { TrustworthinessVector, EarContext } from './ear.ts';
export { VerifierError, VerifierErrorCode } from './errors.ts';
export type { VerifierErrorCodeName } from './errors.ts';
export * from './endorsement/index.ts';
