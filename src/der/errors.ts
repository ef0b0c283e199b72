import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const DerErrorCode = defineErrorCodes('der', {
  ERR_DER_MALFORMED:
    'Input is not strict DER (X.690 §10): a multi-byte or wrong tag, an indefinite, non-minimal or overrunning length, trailing bytes, or a non-canonical BOOLEAN, INTEGER, BIT STRING, OID, NULL or time (see details.where and details.offset).',
  ERR_DER_LIMIT: 'DER input exceeds a named maximum: value length, nesting depth or element count (see details.max).',
});

export type DerErrorCode = keyof typeof DerErrorCode;

export class DerError extends VouchError {
  constructor(code: DerErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
