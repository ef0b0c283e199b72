// The `vouch` command run from tests: in-process (the commands' code path, streams captured, no
// Node start-up per call) or as a child process (bin/vouch.js, exactly as a user runs it).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { allCommands } from '../../src/cli/commands/index.ts';
import { runCli } from '../../src/cli/main.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface VouchRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface VouchRunOptions {
  /** Working directory the command resolves paths against (default: the repository root). */
  readonly cwd?: string;
  /** Environment the command sees (default: empty, so nothing leaks in from the test runner). */
  readonly env?: NodeJS.ProcessEnv;
  /** Dumps hold raw bytes: 'latin1' gives one character per byte. */
  readonly stdoutEncoding?: 'utf8' | 'latin1';
}

/** What `--json` prints when a command completes: `{result, error: null}`, the result in the shape a test reads. */
export interface JsonResult<R> {
  readonly result: R;
  readonly error: null;
}

/** What `--json` prints on an error: `{result: null, error}`. */
export interface JsonError {
  readonly result: null;
  readonly error: { readonly code: string; readonly message: string; readonly details: Record<string, unknown> };
}

/** Runs `vouch ARGS` in this process with captured output. */
export async function runVouch(args: readonly string[], options: VouchRunOptions = {}): Promise<VouchRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(args, { stdout, stderr, env: options.env ?? {}, cwd: options.cwd ?? repoRoot }, allCommands);
  return { code, stdout: Buffer.concat(out).toString(options.stdoutEncoding ?? 'utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Runs bin/vouch.js in a child process, as a user would. */
export function runVouchProcess(args: readonly string[], options: Omit<VouchRunOptions, 'stdoutEncoding'> = {}): Promise<VouchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/vouch.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
