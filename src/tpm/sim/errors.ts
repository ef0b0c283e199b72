import { VouchError, defineErrorCodes, type ErrorDetails } from '../../errors/index.ts';

/** Errors of the software TPM itself (its commands never throw: they answer TPM_RC codes). */
export const TpmSimErrorCode = defineErrorCodes('tpm-sim', {
  ERR_TPM_SIM_STATE:
    'The software TPM state file (sim:/path) cannot be read or written, or is not a valid state file of a supported version (a field fails its check, or the file is too large); the message names the field.',
  ERR_TPM_SIM_CLOSED: 'A command was sent to a software TPM after close().',
  ERR_TPM_SIM_PROVISION: 'Provisioning the software TPM (EK certificate into NV) failed: bad CA key or certificate, or the TPM refused the NV write.',
});

export type TpmSimErrorCodeName = keyof typeof TpmSimErrorCode;

export class TpmSimError extends VouchError {
  constructor(code: TpmSimErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
