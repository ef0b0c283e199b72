/**
 * fs-verity digests of files on disk: streamed (one read buffer and one block per tree level in
 * memory), the next read overlapping the hashing of the current chunk; large files optionally
 * split over worker threads, each hashing the data blocks of one block-aligned range while this
 * thread folds the returned block hashes into the upper tree levels (a few MiB per GiB).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { BlockHasher, FsVerityHasher } from './merkle.ts';
import type { FsVerityParams } from './params.ts';
import { fsverityParams } from './params.ts';
import type { RangeRequest, RangeResult } from './worker.ts';

export interface FileDigestOptions {
  /** Threads to hash with: this one plus `workers - 1` worker threads. Default 1 (this thread only). */
  readonly workers?: number;
  /** Files smaller than this are hashed on this thread whatever `workers` says (start-up costs more). */
  readonly parallelThreshold?: number;
}

const readChunkSize = 1 << 20;
const defaultParallelThreshold = 16 << 20;

async function readFull(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Hashes `length` bytes from `position` into `hasher`, reading ahead while hashing. */
async function streamRange(fh: FileHandle, hasher: FsVerityHasher, position: number, length: number): Promise<number> {
  const bufferSize = Math.max(1, Math.min(readChunkSize, length));
  const buffers = [new Uint8Array(bufferSize), new Uint8Array(bufferSize)];
  let which = 0;
  let done = 0;
  let next = readFull(fh, buffers[0]!.subarray(0, Math.min(bufferSize, length)), position);
  while (true) {
    const n = await next;
    if (n === 0) break;
    const current = buffers[which]!.subarray(0, n);
    done += n;
    which ^= 1;
    const want = Math.min(bufferSize, length - done);
    next = want > 0 ? readFull(fh, buffers[which]!.subarray(0, want), position + done) : Promise.resolve(0);
    hasher.update(current);
  }
  return done;
}

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
      const read = await streamRange(fh, hasher, 0, size + 1);
      if (read !== size) throw new Error(`${path.toString()} changed size while being hashed (${size} → ${read})`);
      return hasher.digest();
    }
    await hashInParallel(fh, path, size, p, workers, hasher);
    return hasher.digest();
  } finally {
    await fh.close();
  }
}

/** Data block hashes of one range, hashed on this thread between asynchronous reads. */
async function hashRangeHere(fh: FileHandle, range: RangeRequest, blocks: BlockHasher): Promise<RangeResult> {
  const bs = range.params.blockSize;
  const chunk = new Uint8Array(Math.max(bs, Math.floor(readChunkSize / bs) * bs));
  const hashes = new Uint8Array(Math.ceil(range.length / bs) * blocks.digestSize);
  let done = 0;
  while (done < range.length) {
    const n = await readFull(fh, chunk.subarray(0, Math.min(chunk.length, range.length - done)), range.start + done);
    if (n === 0) break;
    hashes.set(blocks.hashDataBlocks(chunk.subarray(0, n)), (done / bs) * blocks.digestSize);
    done += n;
  }
  return { hashes: hashes.subarray(0, Math.ceil(done / bs) * blocks.digestSize), length: done };
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
  const results = await Promise.all([hashRangeHere(fh, first!, hasher.blockHasher), ...rest.map((r) => runWorker(r))]);
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
