/**
 * fs-verity digests of files on disk: streamed (one read buffer and one block per tree level in
 * memory), the next read overlapping the hashing of the current chunk; large files optionally
 * split over worker threads, each hashing the data blocks of one block-aligned range while this
 * thread folds the returned block hashes into the upper tree levels (a few MiB per GiB).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { ComposefsError } from '../errors.ts';
import { FsVerityHasher } from './merkle.ts';
import { readAhead } from './read-ahead.ts';
import type { FsVerityParams } from './params.ts';
import { fsverityParams } from './params.ts';
import { hashRange, type RangeRequest, type RangeResult } from './range.ts';

export interface FileDigestOptions {
  /** Threads to hash with: this one plus `workers - 1` worker threads. Default 1 (this thread only). */
  readonly workers?: number;
  /** Files smaller than this are hashed on this thread whatever `workers` says (start-up costs more). */
  readonly parallelThreshold?: number;
}

const readChunkSize = 1 << 20;

/** A digest of a file that grew or shrank mid-read would be the digest of neither version. */
function changedWhileHashed(path: string | Buffer, size: number, read: number): ComposefsError {
  return new ComposefsError('ERR_COMPOSEFS_FILE_CHANGED', `${path.toString()} changed size while being hashed (${size} bytes at open, ${read} read)`, {
    path: path.toString(),
    size,
    read,
  });
}
const defaultParallelThreshold = 16 << 20;

/** The fs-verity digest of the file at `path`. */
export async function fsverityDigestFile(path: string | Buffer, params: Partial<FsVerityParams> = {}, options: FileDigestOptions = {}): Promise<Uint8Array> {
  const p = fsverityParams(params);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const workers = Math.max(1, Math.floor(options.workers ?? 1));
    const hasher = new FsVerityHasher(p);
    if (workers === 1 || size < (options.parallelThreshold ?? defaultParallelThreshold)) {
      // One byte past the size, so a file that grew is noticed.
      const read = await readAhead(fh, 0, size + 1, readChunkSize, (chunk) => hasher.update(chunk));
      if (read !== size) throw changedWhileHashed(path, size, read);
      return hasher.digest();
    }
    await hashInParallel(fh, path, size, p, workers, hasher);
    return hasher.digest();
  } finally {
    await fh.close();
  }
}

/** Work unit of parallel hashing: small enough that a thread slowed by a busy core does not hold up the rest. */
const parallelUnit = 32 << 20;

/**
 * Hashes the file's data blocks in block-aligned units handed out on demand to this thread and
 * `threads - 1` workers (whoever is free takes the next unit), then folds the block hashes into
 * the tree in file order.
 */
async function hashInParallel(
  fh: FileHandle,
  path: string | Buffer,
  size: number,
  params: FsVerityParams,
  threads: number,
  hasher: FsVerityHasher,
): Promise<void> {
  const unit = Math.max(params.blockSize, Math.floor(parallelUnit / params.blockSize) * params.blockSize);
  const units: RangeRequest[] = [];
  for (let start = 0; start < size; start += unit)
    units.push({ path, start, length: Math.min(unit, size - start), params: { ...params, salt: params.salt.slice() } });
  const results = new Array<RangeResult>(units.length);
  let next = 0;
  const workers = Array.from({ length: threads - 1 }, () => new HashWorker());
  try {
    const drain = async (hash: (r: RangeRequest) => Promise<RangeResult>): Promise<void> => {
      while (next < units.length) {
        const i = next++;
        results[i] = await hash(units[i]!);
      }
    };
    await Promise.all([drain((r) => hashRange(fh, r)), ...workers.map((w) => drain((r) => w.hash(r)))]);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
  for (let i = 0; i < units.length; i++) {
    if (results[i]!.length !== units[i]!.length) throw changedWhileHashed(path, size, units[i]!.start + results[i]!.length);
    hasher.updateBlockHashes(results[i]!.hashes, results[i]!.length);
  }
  // Ranges read exactly their length, so growth shows only here.
  const sizeAfter = (await fh.stat()).size;
  if (sizeAfter !== size) throw changedWhileHashed(path, size, sizeAfter);
}

/** One worker thread answering range requests in order (worker.ts). */
class HashWorker {
  private readonly worker = new Worker(new URL('./worker.ts', import.meta.url));
  private readonly waiting: { resolve: (r: RangeResult) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker.on('message', (m: RangeResult) => this.waiting.shift()?.resolve(m));
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`fs-verity worker exited with code ${code}`)));
  }

  hash(request: RangeRequest): Promise<RangeResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
