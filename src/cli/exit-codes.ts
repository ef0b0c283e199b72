/**
 * Exit codes of the `vouch` command, stable for scripts (README.md and docs/agent.md list them):
 * 0 ok · 1 error (bad input, I/O, usage) · 2 cancelled · 3 not verified / denied · 4 authentication
 * · 5 server unreachable (after the retries) · 6 not enrolled · 7 revoked · 8 TPM error.
 * 5–8 come from the commands that talk to a Vouch server or a node's TPM for it (`vouch agent …`,
 * the clevis pin); an initramfs script or a systemd unit can tell them apart without parsing text.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  cancelled: 2,
  notVerified: 3,
  auth: 4,
  unreachable: 5,
  notEnrolled: 6,
  revoked: 7,
  tpm: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Error codes with an exit code of their own; every other code exits 1. */
const EXIT_CODE_OF: Readonly<Record<string, ExitCode>> = {
  ERR_CLI_CANCELLED: ExitCode.cancelled,
  // A refusal: the server appraised the node (or its enrollment) and said no.
  ERR_AGENT_REFUSED: ExitCode.notVerified,
  ERR_ENROLL_DENIED: ExitCode.notVerified,
  ERR_ENROLL_EK_UNTRUSTED: ExitCode.notVerified,
  ERR_ENROLL_AK_INVALID: ExitCode.notVerified,
  ERR_ENROLL_ACTIVATION_FAILED: ExitCode.notVerified,
  ERR_CLIENT_UNREACHABLE: ExitCode.unreachable,
  ERR_SERVER_UNAVAILABLE: ExitCode.unreachable,
  ERR_AGENT_NOT_ENROLLED: ExitCode.notEnrolled,
  ERR_AGENT_ENROLLMENT_PENDING: ExitCode.notEnrolled,
  ERR_NODE_UNKNOWN: ExitCode.notEnrolled,
  ERR_AGENT_REVOKED: ExitCode.revoked,
  ERR_NODE_REVOKED: ExitCode.revoked,
  ERR_AGENT_TPM: ExitCode.tpm,
};

export function exitCodeForError(code: string): ExitCode {
  if (code.startsWith('ERR_AUTH_')) return ExitCode.auth;
  return EXIT_CODE_OF[code] ?? ExitCode.error;
}
