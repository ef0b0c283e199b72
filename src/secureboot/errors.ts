import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const SecureBootErrorCode = defineErrorCodes('secureboot', {
  ERR_SECUREBOOT_PE_MALFORMED: 'A PE/COFF image has a bad DOS/PE signature, optional header, section table or data directory (see details.field).',
  ERR_SECUREBOOT_PE_TOO_LARGE: 'A PE/COFF image, its section count or its certificate table exceeds the named maximum.',
  ERR_SECUREBOOT_PE_UNSUPPORTED:
    'A PE edit cannot be done on this image (no room for another section header, name longer than 8 bytes, certificate table not at the end).',
  ERR_SECUREBOOT_ESL_MALFORMED: 'An EFI_SIGNATURE_LIST has sizes that do not add up, a wrong size for its signature type, or trailing bytes.',
  ERR_SECUREBOOT_AUTH_MALFORMED: 'An EFI_VARIABLE_AUTHENTICATION_2 header (.auth file) or efivarfs attribute prefix is malformed.',
  ERR_SECUREBOOT_PKCS7_MALFORMED: 'An Authenticode PKCS#7 SignedData lacks a required field or uses an unexpected content type or algorithm.',
  ERR_SECUREBOOT_CERTIFICATE_INVALID:
    'An X.509 certificate (in a signature, in db/dbx, or given as a file) is not usable: OpenSSL rejects it or it is not strict DER (details.certificate names it).',
  ERR_SECUREBOOT_PE_HASH_TOO_LARGE:
    'The Authenticode hash of a PE image would cover more than MAX_HASHED_BYTES_PER_FILE_BYTE times its file size: sections overlap or repeat the same raw data.',
  ERR_SECUREBOOT_SIGNATURE_INVALID:
    'An Authenticode signature does not verify: signer certificate missing, messageDigest or image digest mismatch, bad signature, or no chain to db.',
  ERR_SECUREBOOT_WIN_CERT_MALFORMED: 'A WIN_CERTIFICATE entry in the certificate table has a bad length, revision or type.',
  ERR_SECUREBOOT_SIGN_FAILED: 'Authenticode signing failed: the key does not match the certificate or the algorithm is unsupported.',
  ERR_SECUREBOOT_SBAT_MALFORMED: 'A .sbat section is not valid SBAT CSV (component,generation,... per line).',
});

export type SecureBootErrorCode = keyof typeof SecureBootErrorCode;

export class SecureBootError extends VouchError {
  constructor(code: SecureBootErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

/** A typed failure carried in a result (one signature or certificate of many) instead of thrown. */
export interface Problem {
  readonly code: string;
  readonly message: string;
}

export function problemOf(e: VouchError, prefix = ''): Problem {
  return { code: e.code, message: prefix + e.message };
}
