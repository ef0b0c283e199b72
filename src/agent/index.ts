// The node side: the protocol client, retries, and the node's half of enrollment and attestation.
export { VouchClient, isTransient } from './client.ts';
export type { ClientOptions, ServerProblem } from './client.ts';
export { withRetry, backoffMs } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { enroll, resumeEnrollment, attest } from './attestation.ts';
export type { EnrollInput, EnrollOutcome, AttestInput, AttestOutcome } from './attestation.ts';
export { AgentError, AgentErrorCode } from './errors.ts';
export type { AgentErrorCodeName } from './errors.ts';
