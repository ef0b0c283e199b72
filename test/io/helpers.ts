// Inputs that only a real file system gives: FIFOs with a live writer, paths even root cannot read.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A FIFO at `path` fed by `sh -c SCRIPT` (stdout into the FIFO); the writer is killed and reaped by `stop`. */
export function fifoWriter(path: string, script: string): { stop: () => Promise<void> } {
  const made = spawnSync('mkfifo', [path]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr.toString()}`);
  const child = spawn('sh', ['-c', `exec ${script} > "$1"`, 'sh', path], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A path whose read fails with EACCES: as root (who reads any file) a sysctl that is write-only even for root. */
export async function unreadablePath(dir: string): Promise<string> {
  if (process.getuid?.() === 0) return '/proc/sys/vm/drop_caches';
  const file = join(dir, 'unreadable');
  await writeFile(file, 'secret');
  await chmod(file, 0o000);
  return file;
}

/** Runs `run` in a fresh temporary directory, removed afterwards. */
export async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-io-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
