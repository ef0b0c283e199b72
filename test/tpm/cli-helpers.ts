// Running `vouch` from the TPM tests: in-process (the commands' code path, without a Node
// start-up per call) and as a child process (the installed entry point, end to end).
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface VouchRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `vouch ARGS` in this process; `cwd` and `env` default to this process's. */
export async function vouch(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<VouchRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (d: Buffer) => out.push(d.toString()));
  stderr.on('data', (d: Buffer) => err.push(d.toString()));
  const code = await runCli(args, { stdout, stderr, env: options.env ?? process.env, cwd: options.cwd ?? process.cwd() });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Runs bin/vouch.js in a child process, as a user would. */
export function vouchProcess(args: readonly string[]): Promise<VouchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/vouch.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A temporary directory removed when the test ends. */
export async function tempDir(t: Pick<TestContext, 'after'>, prefix = 'vouch-tpm-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
