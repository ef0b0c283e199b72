// Public API of the verifier (so far: the pure quote-verification core and tpm2-tools PCR files).
export { verifyQuote, checkQuote, selectedPcrs, pcrSelectionBitmaps, parsePcrList } from './quote.ts';
export type { QuoteToVerify, VerifiedQuote, QuoteVerdict, PcrBankValues, PcrBankSelection, AttestationKey } from './quote.ts';
export { parseTpm2ToolsPcrFile, encodeTpm2ToolsPcrFile, parseRawPcrValues } from './quote-files.ts';
export { VerifierError, VerifierErrorCode } from './errors.ts';
export type { VerifierErrorCodeName } from './errors.ts';
