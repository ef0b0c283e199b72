// The errors the server answers with (RFC 9457 problem details carrying these codes) and the agent
// reads back: one table shared by both ends, each code with the HTTP status it travels with. Codes
// starting ERR_AUTH_ map to the CLI's authentication exit code (4).
import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const ProtocolErrorCode = defineErrorCodes('protocol', {
  ERR_REQUEST_INVALID: 'The request does not match its schema (the detail names the field) or is not JSON.',
  ERR_REQUEST_TOO_LARGE: 'The request body is larger than the server accepts (an event log body is at most 1 MiB by default).',
  ERR_RATE_LIMITED: 'Too many requests from this node or address; retry after the time the Retry-After header gives.',
  ERR_ENROLL_EK_UNTRUSTED:
    'The EK is neither certified by a configured manufacturer root (for exactly this key) nor allowlisted, and the server keeps no approval queue.',
  ERR_ENROLL_AK_INVALID:
    'The AK cannot vouch for quotes (not a restricted, fixed, TPM-generated signing key with a strong fixed scheme); the detail lists why.',
  ERR_ENROLL_NOT_FOUND: 'No such enrollment, or its credential challenge expired or was already answered.',
  ERR_ENROLL_ACTIVATION_FAILED: 'The answer to the credential challenge is wrong: the AK is not in the same TPM as the EK.',
  ERR_ENROLL_DENIED: 'An operator denied this enrollment.',
  ERR_NODE_UNKNOWN: 'No enrolled node has this id (never enrolled, or enrollment did not complete).',
  ERR_NODE_REVOKED: 'The node is revoked: it is appraised but never receives secrets until an operator unrevokes it.',
  ERR_ATTEST_SESSION_INVALID: 'The attestation session is unknown, expired, already used, or belongs to another node.',
  ERR_AUTH_TOKEN_MISSING: 'The admin API needs a bearer token (Authorization: Bearer …).',
  ERR_AUTH_TOKEN_INVALID: 'The bearer token is unknown, revoked or expired.',
  ERR_AUTH_FORBIDDEN: "The token's role may not do this (viewer < operator < admin).",
  ERR_RESOURCE_NOT_FOUND: 'No such resource.',
  ERR_RESOURCE_CONFLICT: 'The request conflicts with the current state (a name in use, a version already active).',
  ERR_SERVER_UNAVAILABLE: 'The server is starting, draining for shutdown, or cannot reach its database; retry with backoff.',
  ERR_SERVER_INTERNAL: 'An unexpected server failure; the server logged the cause under the request id.',
  ERR_CLIENT_UNREACHABLE: 'The server could not be reached (connection refused, DNS, TLS failure, timeout).',
  ERR_CLIENT_RESPONSE: 'The server answered with something that is not the protocol (wrong status, content type, or a body that fails its schema).',
});
export type ProtocolErrorCodeName = keyof typeof ProtocolErrorCode;

/** The HTTP status each server-side code travels with. */
export const PROBLEM_STATUS: Readonly<Partial<Record<ProtocolErrorCodeName, number>>> = {
  ERR_REQUEST_INVALID: 400,
  ERR_REQUEST_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_ENROLL_EK_UNTRUSTED: 403,
  ERR_ENROLL_AK_INVALID: 422,
  ERR_ENROLL_NOT_FOUND: 404,
  ERR_ENROLL_ACTIVATION_FAILED: 403,
  ERR_ENROLL_DENIED: 403,
  ERR_NODE_UNKNOWN: 404,
  ERR_NODE_REVOKED: 403,
  ERR_ATTEST_SESSION_INVALID: 409,
  ERR_AUTH_TOKEN_MISSING: 401,
  ERR_AUTH_TOKEN_INVALID: 401,
  ERR_AUTH_FORBIDDEN: 403,
  ERR_RESOURCE_NOT_FOUND: 404,
  ERR_RESOURCE_CONFLICT: 409,
  ERR_SERVER_UNAVAILABLE: 503,
  ERR_SERVER_INTERNAL: 500,
};

export class ProtocolError extends VouchError {
  constructor(code: ProtocolErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
