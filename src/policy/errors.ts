import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const PolicyErrorCode = defineErrorCodes('policy', {
  ERR_POLICY_INVALID:
    'A policy document or one of its CEL rules is not valid: a missing or malformed field, a syntax or type error (with its position), an unsafe regular expression, or a limit exceeded.',
  ERR_POLICY_FAILED: 'The attestation failed the policy: the details list every failed rule with expected and actual values.',
});
export type PolicyErrorCodeName = keyof typeof PolicyErrorCode;

export class PolicyError extends VouchError {
  constructor(code: PolicyErrorCodeName, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
