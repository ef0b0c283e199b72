/**
 * Builds a composefs tree from a directory on disk, as `mkcomposefs --digest-store=STORE DIR`
 * does (lcfs_build / lcfs_load_node_from_file): lstat metadata, symlink targets, devices, fifos,
 * sockets, xattrs, small files inlined, every other regular file copied into the object store and
 * referenced by its fs-verity digest. The tree (so the dump and the image) is the one mkcomposefs
 * makes of the same directory; in particular each name is its own inode, as lcfs_build never
 * looks at inode numbers, unless `hardlinks` asks to keep names of one inode as hardlinks.
 *
 * Names are read as raw bytes (readdir with buffer encoding), so non-UTF-8 names survive.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BigIntStats } from 'node:fs';
import { DigestCache } from './digest-cache.ts';
import { ComposefsError } from './errors.ts';
import { fsverityDigest, fsverityDigestFile } from './fsverity/index.ts';
import { payloadForDigest, type ObjectStore } from './store.ts';
import {
  type ByteString,
  type CfsInode,
  type CfsNode,
  type CfsXattr,
  FileType,
  addChild,
  addHardlink,
  byteStringFromBytes,
  createInode,
  createRoot,
  fileTypeOf,
  setXattr,
  validateTree,
  walkTree,
} from './tree.ts';

export interface BuildOptions {
  /**
   * Copy file contents into this store; without it only digests are computed (nothing written).
   * The store stays leased against gc until the caller, having written the image, calls `release()`.
   */
  readonly store?: ObjectStore;
  /** Files of 1..inlineMax bytes are inlined (LCFS_RECOMMENDED_INLINE_CONTENT_MAX = 64); 0 disables. */
  readonly inlineMax?: number;
  /** Leave xattrs out (mkcomposefs --skip-xattrs). */
  readonly skipXattrs?: boolean;
  /** Only user.* xattrs (mkcomposefs --user-xattrs). */
  readonly userXattrsOnly?: boolean;
  /** Leave device nodes out (mkcomposefs --skip-devices). */
  readonly skipDevices?: boolean;
  /**
   * Names of one inode (same device and inode number) become hardlinks to the first in dump
   * order, as a mounted image that has hardlinks shows them. Off by default: mkcomposefs records
   * each name as a separate inode with nlink 1, and images must be byte-identical to its own.
   */
  readonly hardlinks?: boolean;
  /**
   * Enforce what composefs can hold (the per-inode xattr budget, file sizes), as a build must.
   * Off when a tree is read only to be compared with an image: there a file over a limit is a
   * difference to report, not an error that hides every other difference. Default on.
   */
  readonly enforceLimits?: boolean;
  /**
   * With a store: take the digests of files unchanged since the last build of this directory
   * into it from its digest cache instead of reading them again, and keep the cache up to date
   * (see digest-cache.ts for why a cached digest can be trusted). Default on.
   */
  readonly digestCache?: boolean;
  /**
   * When the build started, in ms since the epoch (default now): the digest cache keeps no file
   * whose ctime is less than a minute older (see digest-cache.ts).
   */
  readonly startedAt?: number;
  /** All mtimes 0 (mkcomposefs --use-epoch). */
  readonly useEpoch?: boolean;
  /** Large files (over 1 MiB) hashed or copied at once. */
  readonly concurrency?: number;
}

export interface BuildStats {
  files: number;
  directories: number;
  inlined: number;
  externalBytes: number;
  objectsAdded: number;
  /** External files whose digest came from the digest cache, not from reading them. */
  digestsReused: number;
  hardlinks: number;
}

export const defaultInlineMax = 64;
/** Files up to this size are read whole in one call; larger ones are streamed. */
const smallFileMax = 1 << 20;
const nanosPerSecond = 1_000_000_000n;

function joinBytes(dir: Buffer, name: Buffer): Buffer {
  return dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}

/** An inode's metadata from lstat; type-specific payload is filled by the caller. */
export function inodeFromStat(st: BigIntStats, useEpoch: boolean): CfsInode {
  const mtimeNs = useEpoch ? 0n : st.mtimeNs;
  let sec = mtimeNs / nanosPerSecond;
  let nsec = mtimeNs % nanosPerSecond;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += nanosPerSecond;
  }
  const type = fileTypeOf(Number(st.mode));
  return createInode({
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    rdev: type === FileType.charDevice || type === FileType.blockDevice ? Number(st.rdev) : 0,
    // As lcfs_load_node_from_file: st_size for every type. A directory's size depends on the
    // file system it was read from; the EROFS writer replaces it by the size of its dirents.
    size: st.size,
    mtimeSec: sec,
    mtimeNsec: Number(nsec),
  });
}

/**
 * Node hands st_mtime's seconds through a double, exact only within ±2^53 s, while tmpfs (and
 * mkcomposefs, which reads the timespec) keep any 64-bit value: such a time is read again.
 */
function mtimeBeyondDouble(st: BigIntStats): boolean {
  const sec = st.mtimeNs / nanosPerSecond;
  return sec >= exactSecondsFrom || sec <= -exactSecondsFrom;
}
const exactSecondsFrom = 2n ** 53n;

/**
 * The exact st_mtime seconds of each path, from coreutils' `stat` (it prints the timespec's
 * seconds as an integer); paths go NUL-separated on stdin, so any byte of a name survives.
 */
async function exactMtimeSeconds(paths: Buffer[]): Promise<bigint[]> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('xargs', ['-0', 'stat', '--printf', '%Y\\n', '--'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('latin1'));
      else reject(new ComposefsError('ERR_COMPOSEFS_FILE_CHANGED', `reading exact mtimes failed: ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(Buffer.concat(paths.flatMap((p) => [p, Buffer.from([0])])));
  });
  const lines = output.split('\n').slice(0, -1);
  if (lines.length !== paths.length || !lines.every((l) => /^-?[0-9]+$/.test(l))) {
    throw new ComposefsError('ERR_COMPOSEFS_FILE_CHANGED', `stat printed ${lines.length} mtimes for ${paths.length} files`);
  }
  return lines.map((l) => BigInt(l));
}

/** getfattr's path quoting (attr misc/quote.c): \ooo octal escapes and \\. */
function unquoteGetfattr(s: string): Buffer {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else if (raw[i] === 0x5c && raw[i + 1] === 0x5c) {
      bytes.push(0x5c);
      i += 1;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes);
}

/**
 * Every xattr under `dir` in one `getfattr` run (Node has no xattr API; one process for the
 * whole tree instead of one per file). Keys are absolute paths as latin1 byte strings.
 */
export async function readXattrsRecursive(dir: string): Promise<Map<ByteString, { name: ByteString; value: Uint8Array }[]>> {
  const output = await new Promise<Buffer>((resolve, reject) => {
    execFile(
      'getfattr',
      ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', dir],
      { encoding: 'buffer', maxBuffer: 1 << 30 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new ComposefsError(
              'ERR_COMPOSEFS_SOURCE_UNSUPPORTED',
              'reading xattrs needs getfattr (Debian package attr); install it or build with --skip-xattrs',
            ),
          );
        } else if (err && stdout.length === 0) {
          reject(new ComposefsError('ERR_COMPOSEFS_SOURCE_UNSUPPORTED', `getfattr failed on ${dir}: ${stderr.toString().trim()}`));
        } else resolve(stdout);
      },
    );
  });
  const result = new Map<ByteString, { name: ByteString; value: Uint8Array }[]>();
  let current: { name: ByteString; value: Uint8Array }[] | undefined;
  for (const line of output.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      current = [];
      result.set(unquoteGetfattr(line.slice(8)).toString('latin1'), current);
    } else if (line !== '' && current) {
      const eq = line.indexOf('=');
      const name = eq < 0 ? line : line.slice(0, eq);
      const valueText = eq < 0 ? '' : line.slice(eq + 1);
      const value = valueText.startsWith('0x') ? Buffer.from(valueText.slice(2), 'hex') : Buffer.from(valueText.replace(/^"|"$/g, ''), 'latin1');
      current.push({ name: unquoteGetfattr(name).toString('latin1'), value: new Uint8Array(value) });
    }
  }
  return result;
}

/** Runs `jobs` with at most `limit` in flight. */
async function runPool(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
}

/**
 * Reads a file the walk saw as a small regular file, exactly its size, into `buffer` (at least
 * one byte larger, so growth shows). It is opened without following symlinks and without
 * blocking, and must still be that inode: a name swapped under the walk for a symlink to
 * /dev/zero, a FIFO or a huge file is refused, not read without end.
 */
function readSmallFile(path: Buffer, st: BigIntStats, buffer: Uint8Array, changed: () => never): Uint8Array {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const now = fstatSync(fd, { bigint: true });
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev || now.size !== st.size) changed();
    const size = Number(st.size);
    const bytes = buffer.subarray(0, size + 1);
    let got = 0;
    for (let n = 1; n > 0 && got < bytes.length; got += n) n = readSync(fd, bytes, got, bytes.length - got, got);
    if (got !== size) changed();
    return bytes.subarray(0, size);
  } finally {
    closeSync(fd);
  }
}

/** Points an external file at its object. */
function setExternal(inode: CfsInode, digest: string, stats: BuildStats): void {
  inode.fsverityDigest = new Uint8Array(Buffer.from(digest, 'hex'));
  inode.payload = payloadForDigest(digest);
  stats.externalBytes += Number(inode.size);
}

function fileChanged(path: Buffer): never {
  throw new ComposefsError('ERR_COMPOSEFS_FILE_CHANGED', `${path.toString()} changed while being read`, { path: path.toString() });
}

/**
 * Sets a small regular file's content fields, synchronously: inline when tiny, otherwise
 * stored (or just hashed) and referenced by digest, which the cache then keeps for the stamps
 * `st` the walk saw. `buffer` is reused from file to file.
 */
function fillSmallFile(
  inode: CfsInode,
  path: Buffer,
  st: BigIntStats,
  buffer: Uint8Array,
  options: BuildOptions,
  stats: BuildStats,
  cache: DigestCache | undefined,
): void {
  if (inode.size === 0n) return;
  const bytes = readSmallFile(path, st, buffer, () => fileChanged(path));
  if (inode.size <= BigInt(options.inlineMax ?? defaultInlineMax)) {
    inode.content = new Uint8Array(bytes);
    stats.inlined++;
    return;
  }
  let digest: string;
  if (options.store) {
    const stored = options.store.addBytesSync(bytes);
    if (stored.added) stats.objectsAdded++;
    digest = stored.digest;
  } else {
    digest = Buffer.from(fsverityDigest(bytes)).toString('hex');
  }
  setExternal(inode, digest, stats);
  cache?.record(st, digest);
}

/** `fillSmallFile` for a file too large to hold whole: streamed into the store (or only hashed). */
async function fillLargeFile(
  inode: CfsInode,
  path: Buffer,
  st: BigIntStats,
  options: BuildOptions,
  stats: BuildStats,
  cache: DigestCache | undefined,
): Promise<void> {
  let digest: string;
  if (options.store) {
    const stored = await options.store.addFile(path);
    if (BigInt(stored.size) !== inode.size) fileChanged(path);
    if (stored.added) stats.objectsAdded++;
    digest = stored.digest;
  } else {
    digest = Buffer.from(await fsverityDigestFile(path)).toString('hex');
  }
  setExternal(inode, digest, stats);
  cache?.record(st, digest);
}

/** Sets nlink as composefs computes it: names of the inode in the tree; 2 + subdirectories for directories. */
export function computeLinkCounts(root: CfsNode): void {
  const names = new Map<CfsInode, number>();
  for (const node of walkTree(root)) {
    if (node.children) {
      let subdirs = 0;
      for (const c of node.children.values()) if (c.children) subdirs++;
      node.inode.nlink = 2 + subdirs;
    } else {
      names.set(node.inode, (names.get(node.inode) ?? 0) + 1);
    }
  }
  for (const [inode, n] of names) inode.nlink = n;
}

/** Entries the walk handles between two turns of the event loop (it uses synchronous calls). */
const entriesPerTurn = 4096;

/** Builds the tree of `dir` (which must be a directory). */
export async function buildTreeFromDirectory(dir: string, options: BuildOptions = {}): Promise<{ root: CfsNode; stats: BuildStats }> {
  const startMs = options.startedAt ?? Date.now();
  const stats: BuildStats = { files: 0, directories: 0, inlined: 0, externalBytes: 0, objectsAdded: 0, digestsReused: 0, hardlinks: 0 };
  const useEpoch = options.useEpoch ?? false;
  const enforceLimits = options.enforceLimits ?? true;
  const inlineMax = BigInt(options.inlineMax ?? defaultInlineMax);
  const rootText = dir.replace(/\/+$/, '') || '/';
  const rootPath = Buffer.from(rootText);
  const rootStat = lstatSync(rootPath, { bigint: true });
  if (!rootStat.isDirectory()) throw new ComposefsError('ERR_COMPOSEFS_SOURCE_UNSUPPORTED', `${dir} is not a directory`);
  const store = options.store;
  // The lease comes before the first look at the store: from then on gc removes nothing.
  if (store) await store.holdLease();
  const cache = store && options.digestCache !== false ? await DigestCache.open(store.root, resolve(rootText), startMs) : undefined;
  const xattrs = options.skipXattrs ? new Map<ByteString, CfsXattr[]>() : await readXattrsRecursive(rootText);
  const applyXattrs = (inode: CfsInode, path: Buffer): void => {
    for (const x of xattrs.get(path.toString('latin1')) ?? []) {
      if (options.userXattrsOnly && !x.name.startsWith('user.')) continue;
      if (enforceLimits) setXattr(inode, x.name, x.value);
      else inode.xattrs.push(x); // getfattr lists each name of a file once
    }
  };
  const root = createRoot(inodeFromStat(rootStat, useEpoch));
  const farMtimes: { inode: CfsInode; path: Buffer }[] = [];
  const noteFarMtime = (inode: CfsInode, path: Buffer, st: BigIntStats): void => {
    if (!useEpoch && mtimeBeyondDouble(st)) farMtimes.push({ inode, path });
  };
  noteFarMtime(root.inode, rootPath, rootStat);
  applyXattrs(root.inode, rootPath);
  stats.directories++;
  /** An external file whose digest the cache knows and whose object the store still holds needs no reading. */
  const reuseDigest = (inode: CfsInode, st: BigIntStats): boolean => {
    if (!cache || !store || inode.size <= inlineMax) return false;
    const digest = cache.lookup(st);
    if (digest === undefined || !store.hasSync(digest)) return false;
    setExternal(inode, digest, stats);
    stats.digestsReused++;
    return true;
  };
  const seen = new Map<string, CfsNode>();
  const jobs: (() => Promise<void>)[] = [];
  const readBuffer = new Uint8Array(smallFileMax + 1);
  let untilTurn = entriesPerTurn;
  // Depth-first in byte order, descending as soon as a directory is met: the order of a dump,
  // so of two names of one inode the first printed holds it and the later is the hardlink.
  // Synchronous calls: on a cached tree one lstat costs microseconds, a thread-pool round trip
  // per entry many times that; the event loop gets a turn every few thousand entries.
  const walk = async (parent: CfsNode, parentPath: Buffer): Promise<void> => {
    const names = readdirSync(parentPath, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b));
    for (const nameBytes of names) {
      if (--untilTurn === 0) {
        untilTurn = entriesPerTurn;
        await nextTurn();
      }
      const path = joinBytes(parentPath, nameBytes);
      const name = byteStringFromBytes(nameBytes);
      const st = lstatSync(path, { bigint: true });
      const type = fileTypeOf(Number(st.mode));
      if (options.skipDevices && (type === FileType.charDevice || type === FileType.blockDevice)) continue;
      const key = `${st.dev}:${st.ino}`;
      const linkable = options.hardlinks === true && type !== FileType.directory && st.nlink > 1n;
      const first = linkable ? seen.get(key) : undefined;
      if (first) {
        addHardlink(parent, name, first);
        stats.hardlinks++;
        continue;
      }
      const inode = inodeFromStat(st, useEpoch);
      noteFarMtime(inode, path, st);
      if (type === FileType.symlink) {
        inode.payload = byteStringFromBytes(readlinkSync(path, { encoding: 'buffer' }));
        inode.size = BigInt(inode.payload.length);
      }
      applyXattrs(inode, path);
      const node = addChild(parent, name, inode);
      if (linkable) seen.set(key, node);
      if (type === FileType.directory) {
        stats.directories++;
        await walk(node, path);
      } else if (type === FileType.regular) {
        stats.files++;
        if (reuseDigest(inode, st)) continue;
        // Most files are small: read whole with synchronous calls (page-cache speed, no
        // thread-pool round trips per open/stat/read/close), hashed in memory, stored only if new.
        if (inode.size <= BigInt(smallFileMax)) fillSmallFile(inode, path, st, readBuffer, options, stats, cache);
        else jobs.push(() => fillLargeFile(inode, path, st, options, stats, cache));
      }
    }
  };
  await walk(root, rootPath);
  if (farMtimes.length > 0) {
    const seconds = await exactMtimeSeconds(farMtimes.map((f) => f.path));
    farMtimes.forEach((f, i) => (f.inode.mtimeSec = seconds[i]!));
  }
  await runPool(jobs, options.concurrency ?? 4);
  await store?.sync();
  await cache?.save();
  computeLinkCounts(root);
  if (enforceLimits) validateTree(root);
  return { root, stats };
}
