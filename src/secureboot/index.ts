// Secure Boot: PE/COFF parsing and Authenticode hashing, EFI signature lists, PKCS#7 verification.
export { SecureBootError, SecureBootErrorCode } from './errors.ts';
export { guidToString, guidFromString, EfiGuid } from './guid.ts';
export { parsePe, peSectionData, peSectionContent, PeFormat, MAX_PE_IMAGE_SIZE, MAX_PE_SECTIONS, CERTIFICATE_DIRECTORY_INDEX } from './pe.ts';
export type { PeImage, PeSection, PeDataDirectory } from './pe.ts';
export { authenticodeHash, authenticodeRanges, AuthenticodeHashAlgorithm, MAX_HASHED_BYTES_PER_FILE_BYTE } from './authenticode-hash.ts';
export {
  parseSignatureDatabase,
  encodeSignatureDatabase,
  parseSignatureDatabaseFile,
  signatureEntries,
  signatureTypeName,
  parseEfiTime,
  SignatureType,
  SignatureDatabaseFormat,
  MAX_SIGNATURE_DATABASE_SIZE,
} from './signature-list.ts';
export type {
  EfiSignatureList,
  EfiSignatureData,
  SignatureListInput,
  SignatureEntry,
  EfiTime,
  SignatureDatabaseFile,
  SignatureTypeName,
} from './signature-list.ts';
export {
  parseCertificateTable,
  parseAuthenticodeSignature,
  WinCertificateType,
  Oid,
  MAX_WIN_CERTIFICATES,
  MAX_PKCS7_CERTIFICATES,
  MAX_NESTED_SIGNATURES,
} from './pkcs7.ts';
export type { WinCertificate, AuthenticodeSignature, SignerInfo, SignatureCertificate } from './pkcs7.ts';
export { loadCertificate, summarizeCertificate, subjectOf, issuerOf, EMPTY_SUBJECT, EMPTY_ISSUER } from './certificate.ts';
export type { CertificateSummary } from './certificate.ts';
export { describeSignatures } from './inspect.ts';
export type { SignaturesDescription, SignatureDescription, CertificateDescription } from './inspect.ts';
export { verifyImage, VerifyReason, MAX_CHAIN_DEPTH } from './verify.ts';
export type { SecureBootVerdict, SignatureReport, SignatureDatabases } from './verify.ts';
export type { Problem } from './errors.ts';
export { parseSbat, peSbat, shimVendorCertificates, parseSbatLevel, shimSbatLevels, sbatRevocations, MAX_SBAT_ENTRIES } from './shim.ts';
export type { SbatEntry, ShimVendorCertificates, SbatLevel, ShimSbatLevel, SbatRevocation } from './shim.ts';
export { appendSections, stripSignatures, updateChecksum, peChecksum, SECTION_READ_ONLY_DATA } from './pe-edit.ts';
export type { NewSection } from './pe-edit.ts';
export { signImage, createAuthenticodeSignature } from './sign.ts';
export type { SigningIdentity, SignOptions } from './sign.ts';
