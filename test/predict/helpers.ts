// Shared by the predict tests: `vouch` run in-process in a directory, output captured.
import { runCli } from '../../src/cli/main.ts';

/** Runs `vouch ARGS` with `cwd` and `env`; stdout and stderr together in `out` (with --json, stdout is one document). */
export async function runVouch(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  const code = await runCli([...args], { stdout: sink as never, stderr: sink as never, env, cwd });
  return { code, out };
}
