/**
 * What a rebuild need not read again: the fs-verity digest of each source file, keyed by the
 * file's identity and change stamps (device, inode, size, mtime and ctime in nanoseconds), kept
 * in the object store (`cache/dir-<sha256 of the source path>`) by the builder that last built
 * that source into it.
 *
 * A wrong entry would make a build pin old content for a changed file, and the image would then
 * be signed as the new release. So an entry is trusted only as far as ctime can be:
 * - any write, truncate, chmod, chown, rename or utimes sets ctime to the current time, and no
 *   call sets it back (mtime can be set back; it is in the key, but ctime is what guards it);
 * - a file is recorded only when its ctime was at least `settleMs` older than the start of the
 *   build that read it: a file changed while (or just before) it was read, or dirtied through a
 *   shared mapping whose ctime update waits for writeback, gets a newer ctime than the recorded
 *   one, so it is read again;
 * - the cache file is used only when this user owns it and nobody else may write it: whoever
 *   could write it could otherwise make a build pin any stored object for any file.
 * Entries carry no path: they state facts about inodes, true whichever tree holds them.
 * The object an entry names must still be in the store; the builder checks that for each use.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../io/index.ts';

const header = 'vouch composefs digest cache 1\n';
const entryLine = /^([0-9]+ [0-9]+ [0-9]+ -?[0-9]+ -?[0-9]+) ([0-9a-f]{64})$/;
/** How much older than a build's start a file's ctime must be for its digest to be kept. */
export const settleMs = 60_000;
/** A cache file larger than this is not read (a source tree of millions of files stays well below it). */
const maxCacheBytes = 1 << 30;

function keyOf(st: BigIntStats): string {
  return `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
}

export class DigestCache {
  private readonly path: string;
  private readonly known: Map<string, string>;
  private readonly kept = new Map<string, string>();
  private readonly settledBefore: bigint;

  private constructor(path: string, known: Map<string, string>, buildStartMs: number) {
    this.path = path;
    this.known = known;
    this.settledBefore = BigInt(Math.floor(buildStartMs - settleMs)) * 1_000_000n;
  }

  /**
   * The cache of `sourceRoot` (an absolute path) in the store at `storeRoot`; empty when there is
   * none yet, or when the file is not this user's alone or not a cache (then it is rewritten on save).
   */
  static async open(storeRoot: string, sourceRoot: string, buildStartMs: number): Promise<DigestCache> {
    const name = `dir-${createHash('sha256').update(sourceRoot).digest('hex')}`;
    const path = join(storeRoot, 'cache', name);
    return new DigestCache(path, await readEntries(path), buildStartMs);
  }

  /** The digest recorded for a file with exactly these stamps, if any; a hit is kept for the next build. */
  lookup(st: BigIntStats): string | undefined {
    const key = keyOf(st);
    const digest = this.known.get(key);
    if (digest !== undefined) this.kept.set(key, digest);
    return digest;
  }

  /** Records the digest of what was read from a file that had these stamps before it was read. */
  record(st: BigIntStats, digest: string): void {
    if (st.ctimeNs < this.settledBefore) this.kept.set(keyOf(st), digest);
  }

  /** Replaces the cache file by this build's entries (atomically: a crash leaves the old or the new one). */
  async save(): Promise<void> {
    await makeDirectory(join(this.path, '..'));
    const temp = `${this.path}.${process.pid}.tmp`;
    let text = header;
    for (const [key, digest] of this.kept) text += `${key} ${digest}\n`;
    try {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, this.path);
    } finally {
      await rm(temp, { force: true });
    }
  }
}

async function readEntries(path: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return entries;
  try {
    const st = await fh.stat();
    const ours = st.uid === process.geteuid?.() && (st.mode & 0o022) === 0;
    if (!ours || !st.isFile() || st.size > maxCacheBytes) return entries;
    const text = await fh.readFile('latin1');
    if (!text.startsWith(header)) return entries;
    const lines = text.slice(header.length).split('\n');
    if (lines.pop() !== '') return new Map(); // cut short: trust none of it
    for (const line of lines) {
      const m = entryLine.exec(line);
      if (!m) return new Map();
      entries.set(m[1]!, m[2]!);
    }
    return entries;
  } finally {
    await fh.close();
  }
}
