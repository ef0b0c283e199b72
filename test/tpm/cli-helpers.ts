// Running `vouch` from the TPM tests: in-process (the commands' code path, without a Node
// start-up per call) and as a child process (the installed entry point, end to end).
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVouch, runVouchProcess, type VouchRun } from '../helpers/cli.ts';

export type { VouchRun };

/** Runs `vouch ARGS` in this process; `cwd` and `env` default to this process's. */
export function vouch(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<VouchRun> {
  return runVouch(args, { cwd: options.cwd ?? process.cwd(), env: options.env ?? process.env });
}

/** Runs bin/vouch.js in a child process, as a user would. */
export function vouchProcess(args: readonly string[]): Promise<VouchRun> {
  return runVouchProcess(args, { cwd: process.cwd() });
}

/** A temporary directory removed when the test ends. */
export async function tempDir(t: Pick<TestContext, 'after'>, prefix = 'vouch-tpm-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
