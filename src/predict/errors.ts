import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const PredictErrorCode = defineErrorCodes('predict', {
  ERR_PREDICT_PROFILE: 'The boot profile is not valid (see details.field): unknown key, wrong type, or an unsupported boot chain.',
  ERR_PREDICT_ARTIFACT: 'An artifact the profile names (image, initrd, variable file) is missing from the inputs or has the wrong form.',
  ERR_PREDICT_DIGEST_MISSING:
    'An image is given only by digests and lacks the digest for a requested PCR bank, or a predicted event to encode as a log lacks one of its banks.',
  ERR_PREDICT_UKI: 'A unified kernel image lacks a section systemd-stub needs (.linux), has a section twice, or claims a section far larger than its data.',
  ERR_PREDICT_VARSTORE: 'An edk2/OVMF variable store file is malformed (firmware volume header, store header or variable header).',
  ERR_PREDICT_NO_AUTHORITY: 'No db (or shim) entry authorizes an image, so Secure Boot would refuse it and PCR 7 cannot be predicted.',
});

export type PredictErrorCode = keyof typeof PredictErrorCode;

export class PredictError extends VouchError {
  constructor(code: PredictErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
