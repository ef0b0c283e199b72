// Shared by the predict tests: `vouch` run in-process in a directory, output captured.
import { runVouch as runShared } from '../helpers/cli.ts';

/** Runs `vouch ARGS` with `cwd` and `env`; stdout then stderr in `out` (with --json, stdout is one document and stderr empty). */
export async function runVouch(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await runShared(args, { cwd, env });
  return { code, out: stdout + stderr };
}
