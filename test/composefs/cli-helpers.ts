// The CLI run in-process, for the composefs command tests (kept apart from helpers.ts, which
// the library tests import without loading every command module).
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';

/**
 * Runs `vouch ARGS...` in-process with captured streams. Dumps hold raw bytes, so callers that
 * read them ask for latin1 stdout (one character per byte).
 */
export async function runVouch(args: string[], cwd: string, stdoutEncoding: 'utf8' | 'latin1' = 'utf8'): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(args, { stdout, stderr, env: {}, cwd });
  return { code, stdout: Buffer.concat(out).toString(stdoutEncoding), stderr: Buffer.concat(err).toString('utf8') };
}
