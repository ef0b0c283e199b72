// Secure Boot: PE/COFF parsing and Authenticode hashing, EFI signature lists, PKCS#7 verification.
export { SecureBootError, SecureBootErrorCode } from './errors.ts';
export { guidToString, guidFromString, EfiGuid } from './guid.ts';
export { parsePe, peSectionData, peSectionContent, PeFormat, MAX_PE_IMAGE_SIZE, MAX_PE_SECTIONS, CERTIFICATE_DIRECTORY_INDEX } from './pe.ts';
export type { PeImage, PeSection, PeDataDirectory } from './pe.ts';
export { authenticodeHash, authenticodeRanges, AuthenticodeHashAlgorithm } from './authenticode-hash.ts';
