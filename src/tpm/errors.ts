import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const TpmErrorCode = defineErrorCodes('tpm', {
  ERR_TPM_TRUNCATED: 'TPM bytes ended before a field was complete (a truncated command, response or structure).',
  ERR_TPM_TRAILING: 'Bytes were left over after a TPM structure that must consume its whole input.',
  ERR_TPM_TOO_LARGE: 'A TPM length or count field exceeds the named maximum for that field (checked before allocating).',
  ERR_TPM_BAD_SIZE: 'A TPM2B size does not match its contents (zero where a structure is required, or contents not fully consumed).',
  ERR_TPM_BAD_TAG: 'A TPM structure or union selector (TPM_ST, TPM_CAP, attestation type) has a value the schema does not allow.',
  ERR_TPM_BAD_ALG: 'A TPM algorithm identifier is not one the field allows (e.g. a hash where a signature scheme is required).',
  ERR_TPM_BAD_VALUE: 'A TPM field has a value outside its domain (reserved attribute bits set, a boolean that is not 0/1, bad curve).',
  ERR_TPM_ENCODE: 'A value given to the TPM encoder does not fit its schema (a caller bug: wrong type, missing field, too long).',
  ERR_TPM_RC: 'The TPM answered with an error response code; details carry the decoded TPM_RC name, format and parameter/handle/session number.',
  ERR_TPM_UNKNOWN_COMMAND: 'A command code that Vouch has no schema for.',
  ERR_TPM_TRANSPORT: 'Talking to the TPM failed (device, socket or simulator): connection, short read or protocol error.',
  ERR_TPM_URI: 'A TPM URI is malformed or names an unknown transport (expected device:PATH, swtpm:host=H,port=N or sim:[PATH]).',
  ERR_TPM_SIM_UNAVAILABLE: 'The in-process software TPM (sim:) is not available in this build.',
  ERR_TPM_NOT_FOUND: 'A TPM object the operation needs is absent (e.g. no EK certificate at the expected NV index).',
  ERR_TPM_UNSUPPORTED: 'The request names an algorithm, scheme or option this TPM layer does not implement.',
});

export type TpmErrorCodeName = keyof typeof TpmErrorCode;

export class TpmError extends VouchError {
  constructor(code: TpmErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
