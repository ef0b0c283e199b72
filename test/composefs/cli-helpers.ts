// The CLI run in-process, for the composefs command tests (kept apart from helpers.ts, which
// the library tests import without loading every command module).
import { runVouch as runShared, type VouchRun } from '../helpers/cli.ts';

/**
 * Runs `vouch ARGS...` in `cwd` with captured streams. Dumps hold raw bytes, so callers that
 * read them ask for latin1 stdout (one character per byte).
 */
export function runVouch(args: string[], cwd: string, stdoutEncoding: 'utf8' | 'latin1' = 'utf8'): Promise<VouchRun> {
  return runShared(args, { cwd, stdoutEncoding });
}
