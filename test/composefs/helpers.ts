// Shared imports and small helpers for the composefs tests.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { isVouchError, type VouchError } from '../../src/errors/index.ts';
export { isVouchError };
export * from '../../src/composefs/index.ts';

export function isVouchErrorWithCode(e: unknown, code: string): e is VouchError {
  return isVouchError(e) && e.code === code;
}

/** A temp directory removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'vouch-composefs-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temp directory on tmpfs (/dev/shm), removed when the test ends: tmpfs holds what ext4 cannot,
 * such as mtimes far beyond 2038 and tens of KiB of xattrs on one file. Skips (locally) / fails
 * (CI) without one.
 */
export function tmpfsDir(t: TestContext): string | undefined {
  if (!existsSync('/dev/shm')) {
    if (process.env.CI) throw new Error('no tmpfs at /dev/shm');
    t.skip('no tmpfs at /dev/shm');
    return undefined;
  }
  const dir = mkdtempSync('/dev/shm/vouch-composefs-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
