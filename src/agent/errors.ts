import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const AgentErrorCode = defineErrorCodes('agent', {
  ERR_AGENT_NOT_ENROLLED: 'The node has no enrollment here: run `vouch agent enroll` first (or the state directory is not the one enrollment wrote).',
  ERR_AGENT_ENROLLMENT_PENDING: 'The enrollment waits in the approval queue: an operator must approve it before the node can finish enrolling.',
  ERR_AGENT_REFUSED: 'The server appraised the attestation and refused it; the details list every reason.',
  ERR_AGENT_STATE: 'The agent state directory holds something unusable (missing or malformed AK blobs or node record).',
  ERR_AGENT_QUOTE_UNSTABLE: 'PCR values kept changing between the quote and reading them back; no consistent quote could be made.',
  ERR_AGENT_SECRETS: 'The released secrets could not be decrypted or do not match the protocol (a response made for another key, or corrupted).',
  ERR_AGENT_REVOKED: 'The server appraised the node but released nothing: an operator revoked it. Revocation holds until an operator unrevokes the node.',
  ERR_AGENT_TPM: "The node's TPM failed (device missing or busy, lockout, a key that does not load); the message carries the TPM layer's code and message.",
  ERR_AGENT_EVENTLOG:
    'The boot event log cannot be read (no securityfs mounted at /sys/kernel/security, no TPM event log from the firmware, or the wrong --eventlog path).',
  ERR_AGENT_LUKS: 'cryptsetup (or blkid) failed on the volume, or is not installed; the message carries its exit status and error output.',
  ERR_AGENT_LUKS_KEY: "The released key does not open the LUKS volume: the volume was formatted for another node or key, or the node's disk key was replaced.",
  ERR_AGENT_NOT_BLANK:
    '--format-if-blank refused to format: the volume is neither LUKS nor blank (it has a signature blkid or cryptsetup knows, or non-zero bytes in its first MiB).',
  ERR_AGENT_CLEVIS:
    'The clevis pin configuration or JWE is not one the vouch pin accepts (malformed JSON, unknown field, another pin, or made for another node).',
});
export type AgentErrorCodeName = keyof typeof AgentErrorCode;

export class AgentError extends VouchError {
  constructor(code: AgentErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
