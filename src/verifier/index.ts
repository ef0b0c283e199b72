// Public API of the verifier (so far: the pure quote-verification core and tpm2-tools PCR files).
export { verifyQuote, checkQuote, describeSelection } from './quote.ts';
export type { QuoteToVerify, VerifiedQuote, QuoteVerdict, PcrBankValues, PcrBankSelection, AttestationKey } from './quote.ts';
export { pcrValuesFromSerializedFile, pcrValuesFromRawFile, pcrSelectionFromList } from './quote-files.ts';
export { VerifierError, VerifierErrorCode } from './errors.ts';
export type { VerifierErrorCodeName } from './errors.ts';
export * from './endorsement/index.ts';
