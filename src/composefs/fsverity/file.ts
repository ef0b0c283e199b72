/**
 * fs-verity digests of files on disk: streamed (one read buffer and one block per tree level in
 * memory), the next read overlapping the hashing of the current chunk; large files optionally
 * split over worker threads, each hashing the data blocks of one block-aligned range while this
 * thread folds the returned block hashes into the upper tree levels (a few MiB per GiB).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
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
      // One byte past the size: a file that grew (or shrank) under us would give a digest of neither version.
      const read = await readAhead(fh, 0, size + 1, readChunkSize, (chunk) => hasher.update(chunk));
      if (read !== size) throw new Error(`${path.toString()} changed size while being hashed (${size} → ${read})`);
      return hasher.digest();
    }
    await hashInParallel(fh, path, size, p, workers, hasher);
    return hasher.digest();
  } finally {
    await fh.close();
  }
}

/**
 * Splits the file into `threads` block-aligned ranges: this thread hashes the first while
 * `threads - 1` workers hash the others; the block hashes are then folded in file order.
 */
async function hashInParallel(fh: FileHandle, path: string | Buffer, size: number, params: FsVerityParams, threads: number, hasher: FsVerityHasher): Promise<void> {
  const blocks = Math.ceil(size / params.blockSize);
  const perThread = Math.ceil(blocks / threads);
  const ranges: RangeRequest[] = [];
  for (let b = 0; b < blocks; b += perThread) {
    const start = b * params.blockSize;
    ranges.push({ path, start, length: Math.min(size, (b + perThread) * params.blockSize) - start, params: { ...params, salt: params.salt.slice() } });
  }
  const [first, ...rest] = ranges;
  const results = await Promise.all([hashRange(fh, first!), ...rest.map((r) => runWorker(r))]);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (r.length !== ranges[i]!.length) throw new Error(`${path.toString()} changed size while being hashed`);
    hasher.updateBlockHashes(r.hashes, r.length);
  }
}

function runWorker(request: RangeRequest): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: request });
    let result: RangeResult | undefined;
    worker.once('message', (m: RangeResult) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`fs-verity worker exited with code ${code} and no result`))));
  });
}
