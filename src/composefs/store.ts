/**
 * The composefs object store: `objects/XX/<62 hex>` named by the SHA-256 fs-verity digest of its
 * content, the layout composefs' `--digest-store` and the kernel's overlay lookups expect (a
 * regular file's dump PAYLOAD is the path below `objects/`).
 *
 * Writes are atomic and safe under concurrent writers: content goes to a private temp file in
 * the store (same file system); `sync()` makes every temp file written so far durable at once
 * (one syncfs(2), through coreutils' `sync -f`, as OSTree commits its objects, instead of an
 * fsync per object), then renames each onto its digest name and makes the names durable (a
 * second syncfs). An object is visible only once `sync()` has returned; a crash leaves either no
 * object or a whole one, never a torn file under a valid name (at worst temp files, which fsck
 * lists and gc removes). Two writers adding the same content race harmlessly: both renames
 * install identical bytes. Objects are never rewritten in place, so a reader holding one open is
 * unaffected.
 *
 * gc never removes an object a running build may be about to reference: every writer holds a
 * lease (`writers/<pid>-<random>`, taken before its first lookup, dropped by `release()` once its
 * image is written) and gc holds `gc.lock`. Each side creates its own file first and then looks
 * for the other's, so of a writer and a gc that overlap at least one sees the other and refuses
 * with ERR_COMPOSEFS_STORE_BUSY: an add never races a delete. Files of dead processes are ignored.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants as fsConstants, mkdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, open, readFile, readdir, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ComposefsError } from './errors.ts';
import { FsVerityHasher, fsverityDigest, fsverityDigestFile } from './fsverity/index.ts';
import { makeDirectory } from '../io/index.ts';

export interface StoredObject {
  /** SHA-256 fs-verity digest, hex. */
  readonly digest: string;
  /** Path below `objects/`, "XX/<62 hex>": what a dump's PAYLOAD holds. */
  readonly payload: string;
  readonly size: number;
  /** False when an object with this digest was already stored (deduplicated). */
  readonly added: boolean;
}

export interface ObjectWriter {
  write(chunk: Uint8Array): Promise<void>;
  finish(): Promise<StoredObject>;
  abort(): Promise<void>;
}

export interface StoreFsckReport {
  readonly checked: number;
  /** Objects whose content no longer has the digest in their name (bit rot or tampering). */
  readonly corrupt: { readonly payload: string; readonly actual: string }[];
  /** Entries under objects/ that are not objects (wrong name shape or type). */
  readonly strays: string[];
  /** Temp files of writers that are no longer running. */
  readonly staleTemp: string[];
}

export interface StoreGcReport {
  readonly kept: number;
  readonly removed: string[];
  readonly removedBytes: number;
  readonly staleTempRemoved: string[];
}

const digestHex = /^[0-9a-f]{64}$/;
const fanoutDir = /^[0-9a-f]{2}$/;
const objectRest = /^[0-9a-f]{62}$/;
const tempPrefix = '.tmp-';
const copyChunk = 1 << 20;
/** Files up to this size are read whole, hashed in memory and written only if new. */
const smallObjectMax = 4 << 20;

export function payloadForDigest(digestHexText: string): string {
  if (!digestHex.test(digestHexText)) throw new ComposefsError('ERR_COMPOSEFS_STORE_INVALID', `not a SHA-256 digest: ${JSON.stringify(digestHexText)}`);
  return `${digestHexText.slice(0, 2)}/${digestHexText.slice(2)}`;
}

/** The digest an object path "XX/<62 hex>" names, or undefined for any other payload shape. */
export function digestFromPayload(payload: string): string | undefined {
  const m = /^([0-9a-f]{2})\/([0-9a-f]{62})$/.exec(payload);
  return m ? m[1]! + m[2]! : undefined;
}

/** Temp files and writer leases start with their process id, so a live writer's file can be told from debris. */
function writerAlive(tempName: string): boolean {
  return processAlive(Number(tempName.slice(tempName.startsWith(tempPrefix) ? tempPrefix.length : 0).split('-')[0]));
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** syncfs(2) on the file system holding `path` (Node has no binding for it). */
function syncFileSystem(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['--file-system', '--', path], (err, _stdout, stderr) => {
      if (!err) resolve();
      else reject(new ComposefsError('ERR_COMPOSEFS_STORE_SYNC', `making new objects in ${path} durable failed: ${stderr.trim() || err.message}`, { path }));
    });
  });
}

export class ObjectStore {
  readonly root: string;
  readonly objectsDir: string;
  /** Objects written to temp files, not yet durable nor under their names (see `sync`): digest → temp path. */
  private readonly pending = new Map<string, string>();
  /** Fan-out directories known to exist (never removed: gc deletes objects only). */
  private readonly fanoutDirs = new Set<string>();
  private readonly leasesDir: string;
  private readonly gcLockPath: string;
  /** This writer's lease file, once taken (see the module comment). */
  private lease: Promise<string> | undefined;
  /** True once the lease is taken (and until released): the synchronous adds need it held. */
  private leaseHeld = false;

  private constructor(root: string) {
    this.root = root;
    this.objectsDir = join(root, 'objects');
    this.leasesDir = join(root, 'writers');
    this.gcLockPath = join(root, 'gc.lock');
  }

  /** The pid in gc.lock when a live gc holds it. */
  private async liveGc(): Promise<number | undefined> {
    const pid = Number(await readFile(this.gcLockPath, 'latin1').catch(() => ''));
    return processAlive(pid) ? pid : undefined;
  }

  /** Takes this writer's lease before its first lookup or write; refuses while a gc runs. */
  private writerLease(): Promise<string> {
    this.lease ??= (async () => {
      await makeDirectory(this.leasesDir);
      const path = join(this.leasesDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
      await writeFile(path, '', { flag: 'wx' });
      const gcPid = await this.liveGc();
      if (gcPid !== undefined) {
        await rm(path, { force: true });
        throw new ComposefsError('ERR_COMPOSEFS_STORE_BUSY', `gc (pid ${gcPid}) is running on ${this.root}; add again when it has finished`, {
          root: this.root,
          pid: gcPid,
        });
      }
      return path;
    })();
    this.lease.catch(() => (this.lease = undefined));
    return this.lease;
  }

  /**
   * Takes this writer's lease now (every add takes it anyway): a builder that looks objects up
   * without adding them (has, hasSync) holds it first, so that gc cannot remove what it found.
   */
  async holdLease(): Promise<void> {
    await this.writerLease();
    this.leaseHeld = true;
  }

  /**
   * Drops this writer's lease: call it once the image referencing the objects added is written
   * (gc may then run, keeping what that image references). Adding again takes a new lease.
   */
  async release(): Promise<void> {
    // Objects never synced are referenced by no image: their temp files go.
    for (const temp of this.pending.values()) rmSync(temp, { force: true });
    this.pending.clear();
    const lease = this.lease;
    this.lease = undefined;
    this.leaseHeld = false;
    if (lease) await rm(await lease, { force: true });
  }

  /** Opens (and with `create`, makes) a store rooted at `root`. */
  static async open(root: string, options: { create?: boolean } = {}): Promise<ObjectStore> {
    const store = new ObjectStore(root);
    if (options.create) await makeDirectory(store.objectsDir);
    const s = await stat(store.objectsDir).catch(() => undefined);
    if (!s?.isDirectory()) throw new ComposefsError('ERR_COMPOSEFS_STORE_INVALID', `${root} is not an object store (no objects/ directory)`, { root });
    return store;
  }

  /**
   * Makes every object added so far durable and puts it under its name: one syncfs for all the
   * temp files, the renames, then one more for the names. Builders call it before an image that
   * references the objects is written; until then the objects are not in the store.
   */
  async sync(): Promise<void> {
    if (this.pending.size === 0) return;
    await syncFileSystem(this.objectsDir);
    for (const [digest, temp] of this.pending) {
      const dir = join(this.objectsDir, digest.slice(0, 2));
      if (!this.fanoutDirs.has(dir)) {
        mkdirSync(dir, { recursive: true });
        this.fanoutDirs.add(dir);
      }
      renameSync(temp, join(dir, digest.slice(2)));
      this.pending.delete(digest);
    }
    await syncFileSystem(this.objectsDir);
  }

  objectPath(digest: string): string {
    return join(this.objectsDir, payloadForDigest(digest));
  }

  /** True when the object file exists; errors other than "no such file" (EACCES, EIO) are thrown, not taken for absence. */
  async has(digest: string): Promise<boolean> {
    if (this.pending.has(digest)) return true;
    try {
      return (await stat(this.objectPath(digest))).isFile();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw e;
    }
  }

  /** `has` without a thread-pool round trip, for a builder checking many objects. */
  hasSync(digest: string): boolean {
    if (this.pending.has(digest)) return true;
    try {
      return statSync(this.objectPath(digest)).isFile();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw e;
    }
  }

  private tempPath(): string {
    return join(this.objectsDir, `${tempPrefix}${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  private async createTemp(): Promise<{ path: string; fh: FileHandle }> {
    const path = this.tempPath();
    return { path, fh: await open(path, 'wx', 0o644) };
  }

  /** Queues a finished temp file for `sync` to install (or drops it when the object is already there). */
  private install(tempPath: string, digest: string, size: number): StoredObject {
    const payload = payloadForDigest(digest);
    if (this.pending.has(digest) || this.hasSync(digest)) {
      unlinkSync(tempPath);
      return { digest, payload, size, added: false };
    }
    this.pending.set(digest, tempPath);
    return { digest, payload, size, added: true };
  }

  /**
   * Starts an object written piece by piece (a tar member, a download): `write` chunks in order,
   * then `finish` to hash-name and install it, or `abort`.
   */
  async createWriter(): Promise<ObjectWriter> {
    await this.writerLease();
    const temp = await this.createTemp();
    const hasher = new FsVerityHasher();
    let size = 0;
    return {
      async write(chunk: Uint8Array): Promise<void> {
        hasher.update(chunk);
        let written = 0;
        while (written < chunk.length) written += (await temp.fh.write(chunk, written, chunk.length - written)).bytesWritten;
        size += chunk.length;
      },
      finish: async (): Promise<StoredObject> => {
        await temp.fh.close();
        return this.install(temp.path, Buffer.from(hasher.digest()).toString('hex'), size);
      },
      async abort(): Promise<void> {
        await temp.fh.close().catch(() => undefined);
        await rm(temp.path, { force: true });
      },
    };
  }

  /**
   * Copies a file into the store (in it once `sync()` returns). The file is hashed first and copied only when its object is
   * absent (rebuilds write nothing); the copy is hashed again, so a file changed in between is
   * stored under the digest of what was actually copied.
   */
  async addFile(path: string | Buffer): Promise<StoredObject> {
    await this.writerLease();
    // Non-blocking, so a FIFO is refused below instead of waiting for a writer forever.
    const source = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const info = await source.stat();
      if (!info.isFile())
        throw new ComposefsError('ERR_COMPOSEFS_SOURCE_UNSUPPORTED', `${path.toString()} is not a regular file; only regular files become objects`, {
          path: path.toString(),
        });
      const size = info.size;
      if (size <= smallObjectMax) {
        const bytes = new Uint8Array(size);
        let got = 0;
        while (got < size) {
          const { bytesRead } = await source.read(bytes, got, size - got, got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return await this.addBytes(bytes.subarray(0, got));
      }
      const digest = Buffer.from(await fsverityDigestFile(path)).toString('hex');
      if (await this.has(digest)) return { digest, payload: payloadForDigest(digest), size, added: false };
      const writer = await this.createWriter();
      try {
        const buf = new Uint8Array(copyChunk);
        for (let position = 0; ;) {
          const { bytesRead } = await source.read(buf, 0, buf.length, position);
          if (bytesRead === 0) break;
          position += bytesRead;
          await writer.write(buf.subarray(0, bytesRead));
        }
        return await writer.finish();
      } catch (e) {
        await writer.abort();
        throw e;
      }
    } finally {
      await source.close();
    }
  }

  /** Stores bytes held in memory (in the store once `sync()` returns); writes nothing when the object is already present. */
  async addBytes(bytes: Uint8Array): Promise<StoredObject> {
    await this.holdLease();
    return this.addBytesSync(bytes);
  }

  /**
   * `addBytes` for a writer that holds the lease (`holdLease`): all of it synchronous, a small
   * write landing in the page cache, so a builder may pass a buffer it reuses right after.
   */
  addBytesSync(bytes: Uint8Array): StoredObject {
    if (!this.leaseHeld) throw new Error('ObjectStore.addBytesSync needs the writer lease: call holdLease() first');
    const digest = Buffer.from(fsverityDigest(bytes)).toString('hex');
    if (this.hasSync(digest)) return { digest, payload: payloadForDigest(digest), size: bytes.length, added: false };
    const temp = this.tempPath();
    try {
      writeFileSync(temp, bytes, { flag: 'wx', mode: 0o644 });
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
    return this.install(temp, digest, bytes.length);
  }

  /** Every object's digest (hex); strays and temp files are skipped (fsck reports them). */
  async *digests(): AsyncGenerator<string> {
    for (const fan of (await readdir(this.objectsDir)).sort()) {
      if (!fanoutDir.test(fan)) continue;
      const entries = await readdir(join(this.objectsDir, fan), { withFileTypes: true }).catch(() => []);
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (e.isFile() && objectRest.test(e.name)) yield fan + e.name;
      }
    }
  }

  /** Recomputes an object's digest (also of one added but not yet synced); true when its content still matches its name. */
  async verifyObject(digest: string): Promise<{ ok: boolean; actual: string }> {
    // An object this writer added and has not synced yet is read from its temp file.
    const actual = Buffer.from(await fsverityDigestFile(this.pending.get(digest) ?? this.objectPath(digest))).toString('hex');
    return { ok: actual === digest, actual };
  }

  /** Checks every object against its name and lists anything else found under objects/. */
  async fsck(): Promise<StoreFsckReport> {
    const corrupt: { payload: string; actual: string }[] = [];
    const strays: string[] = [];
    const staleTemp: string[] = [];
    let checked = 0;
    for (const entry of (await readdir(this.objectsDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith(tempPrefix)) {
        if (!writerAlive(entry.name)) staleTemp.push(entry.name);
        continue;
      }
      if (!entry.isDirectory() || !fanoutDir.test(entry.name)) {
        strays.push(entry.name);
        continue;
      }
      for (const obj of (await readdir(join(this.objectsDir, entry.name), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const payload = `${entry.name}/${obj.name}`;
        if (!obj.isFile() || !objectRest.test(obj.name)) {
          strays.push(payload);
          continue;
        }
        checked++;
        const result = await this.verifyObject(entry.name + obj.name);
        if (!result.ok) corrupt.push({ payload, actual: result.actual });
      }
    }
    return { checked, corrupt, strays, staleTemp };
  }

  /**
   * Takes gc.lock (one gc at a time; a dead gc's lock is taken over), then refuses if any live
   * writer holds a lease. Leases of dead writers are removed.
   */
  private async lockForGc(): Promise<void> {
    // The lock appears with its pid already in it (written aside, then hard-linked into place):
    // a lock seen empty would pass for a dead gc's.
    const staged = `${this.gcLockPath}.${process.pid}-${randomBytes(8).toString('hex')}`;
    await writeFile(staged, String(process.pid), { flag: 'wx' });
    try {
      for (;;) {
        try {
          await link(staged, this.gcLockPath);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const pid = await this.liveGc();
          if (pid !== undefined)
            throw new ComposefsError('ERR_COMPOSEFS_STORE_BUSY', `another gc (pid ${pid}) is running on ${this.root}`, { root: this.root, pid });
          await rm(this.gcLockPath, { force: true });
        }
      }
    } finally {
      await rm(staged, { force: true });
    }
    for (const name of await readdir(this.leasesDir).catch(() => [])) {
      if (!writerAlive(name)) {
        await rm(join(this.leasesDir, name), { force: true });
        continue;
      }
      await rm(this.gcLockPath, { force: true });
      const pid = Number(name.split('-')[0]);
      throw new ComposefsError(
        'ERR_COMPOSEFS_STORE_BUSY',
        `a build or add (pid ${pid}) is writing to ${this.root}; its objects are not referenced by any image yet, so gc waits until it has finished`,
        { root: this.root, pid },
      );
    }
  }

  /**
   * Removes every object whose digest is not in `keep`, and temp files of dead writers. The
   * caller computes `keep` from every image that must stay mountable. Refuses to start while a
   * writer holds the store (and writers refuse while it runs): see the module comment.
   */
  async gc(keep: ReadonlySet<string>): Promise<StoreGcReport> {
    await this.lockForGc();
    try {
      return await this.removeUnreferenced(keep);
    } finally {
      await rm(this.gcLockPath, { force: true });
    }
  }

  private async removeUnreferenced(keep: ReadonlySet<string>): Promise<StoreGcReport> {
    const removed: string[] = [];
    const staleTempRemoved: string[] = [];
    let kept = 0;
    let removedBytes = 0;
    for await (const digest of this.digests()) {
      if (keep.has(digest)) {
        kept++;
        continue;
      }
      const path = this.objectPath(digest);
      removedBytes += (await stat(path)).size;
      await unlink(path);
      removed.push(digest);
    }
    for (const name of await readdir(this.objectsDir)) {
      if (name.startsWith(tempPrefix) && !writerAlive(name)) {
        await rm(join(this.objectsDir, name), { force: true });
        staleTempRemoved.push(name);
      }
    }
    return { kept, removed, removedBytes, staleTempRemoved };
  }
}
