import { VouchError, defineErrorCodes, type ErrorDetails } from '../../errors/index.ts';

export const EndorsementErrorCode = defineErrorCodes('endorsement', {
  ERR_ENDORSEMENT_TRUST_INVALID:
    'A configured root or intermediate CA certificate for EK/AK certificate validation is not a usable X.509 certificate, or too many are configured (details.certificate names it).',
});

export type EndorsementErrorCodeName = keyof typeof EndorsementErrorCode;

export class EndorsementError extends VouchError {
  constructor(code: EndorsementErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
