import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const AgentErrorCode = defineErrorCodes('agent', {
  ERR_AGENT_NOT_ENROLLED: 'The node has no enrollment here: run `vouch agent enroll` first (or the state directory is not the one enrollment wrote).',
  ERR_AGENT_ENROLLMENT_PENDING: 'The enrollment waits in the approval queue: an operator must approve it before the node can finish enrolling.',
  ERR_AGENT_REFUSED: 'The server appraised the attestation and refused it; the details list every reason.',
  ERR_AGENT_STATE: 'The agent state directory holds something unusable (missing or malformed AK blobs or node record).',
  ERR_AGENT_QUOTE_UNSTABLE: 'PCR values kept changing between the quote and reading them back; no consistent quote could be made.',
  ERR_AGENT_SECRETS: 'The released secrets could not be decrypted or do not match the protocol (a response made for another key, or corrupted).',
});
export type AgentErrorCodeName = keyof typeof AgentErrorCode;

export class AgentError extends VouchError {
  constructor(code: AgentErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
