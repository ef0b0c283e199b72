import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const BytesErrorCode = defineErrorCodes('bytes', {
  ERR_BYTES_TRUNCATED: 'Input ended before a field it announces (length prefix or fixed-size field) was complete.',
  ERR_BYTES_TRAILING: 'Bytes were left over after a structure that must consume its whole input.',
  ERR_BYTES_TOO_LARGE: 'A length field exceeds the named maximum for that field.',
  ERR_BYTES_HEX: 'A hex string has an odd length or a non-hex character.',
});

export class BytesError extends VouchError {
  constructor(code: keyof typeof BytesErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
