import { randomBytes } from 'node:crypto';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** fsync of a directory: makes a rename in it survive a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` to `path` so that a reader, a crash or a power loss sees either the old file or the
 * whole new one: a temporary file in the same directory (created with `mode`, never wider), fsynced,
 * renamed over the target, then the directory fsynced.
 */
export async function writeFileAtomically(path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx': a stale temporary of the same name (or a planted symlink) is an error, never followed.
    await writeFile(temp, data, { mode, flag: 'wx', flush: true });
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}
