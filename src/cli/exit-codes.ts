/**
 * Exit codes of the `vouch` command, stable for scripts:
 * 0 ok · 1 error (bad input, I/O, usage) · 2 cancelled · 3 not verified / denied · 4 authentication.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  cancelled: 2,
  notVerified: 3,
  auth: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeForError(code: string): ExitCode {
  if (code.startsWith('ERR_AUTH_')) return ExitCode.auth;
  if (code === 'ERR_CLI_CANCELLED') return ExitCode.cancelled;
  return ExitCode.error;
}
