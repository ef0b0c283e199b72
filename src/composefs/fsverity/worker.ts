// Worker thread: hashes the data blocks of one block-aligned range of a file (see file.ts).
import { openSync, readSync, closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BlockHasher } from './merkle.ts';
import type { FsVerityParams } from './params.ts';

export interface RangeRequest {
  /** A Buffer path arrives as a plain Uint8Array (structured clone). */
  readonly path: string | Uint8Array;
  readonly start: number;
  readonly length: number;
  readonly params: FsVerityParams;
}

export interface RangeResult {
  readonly hashes: Uint8Array;
  /** Bytes actually read (less than asked when the file shrank). */
  readonly length: number;
}

const chunkBytes = 1 << 20;

function hashRange(request: RangeRequest): RangeResult {
  const hasher = new BlockHasher(request.params);
  const bs = request.params.blockSize;
  // The chunk is a whole number of blocks, so only the file's final chunk can end mid-block.
  const chunk = new Uint8Array(Math.max(bs, Math.floor(chunkBytes / bs) * bs));
  const hashes = new Uint8Array(Math.ceil(request.length / bs) * hasher.digestSize);
  const fd = openSync(typeof request.path === 'string' ? request.path : Buffer.from(request.path), 'r');
  let done = 0;
  try {
    while (done < request.length) {
      let n = 0;
      const want = Math.min(chunk.length, request.length - done);
      while (n < want) {
        const r = readSync(fd, chunk, n, want - n, request.start + done + n);
        if (r === 0) break;
        n += r;
      }
      if (n === 0) break;
      hashes.set(hasher.hashDataBlocks(chunk.subarray(0, n)), (done / bs) * hasher.digestSize);
      done += n;
      if (n < want) break;
    }
  } finally {
    closeSync(fd);
  }
  return { hashes: hashes.subarray(0, Math.ceil(done / bs) * hasher.digestSize), length: done };
}

if (parentPort && workerData) {
  const result = hashRange(workerData as RangeRequest);
  parentPort.postMessage(result, [result.hashes.buffer as ArrayBuffer]);
}
