// Double-buffered reads: the next chunk is read (in libuv's thread pool, i.e. on another core)
// while the caller processes the current one, so hashing never waits for a copy from the page cache.
import type { FileHandle } from 'node:fs/promises';

async function readFull(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Calls `onChunk` with consecutive chunks of `length` bytes from `position` (fewer at end of file)
 * and returns the bytes read. `chunkSize` should be a multiple of the fs-verity block size so that
 * only the last chunk can end mid-block. A chunk is valid only during its callback.
 */
export async function readAhead(fh: FileHandle, position: number, length: number, chunkSize: number, onChunk: (chunk: Uint8Array) => void): Promise<number> {
  const size = Math.max(1, Math.min(chunkSize, length));
  const buffers = [new Uint8Array(size), new Uint8Array(size)];
  let which = 0;
  let done = 0;
  let next = length > 0 ? readFull(fh, buffers[0]!.subarray(0, size), position) : Promise.resolve(0);
  for (;;) {
    const n = await next;
    if (n === 0) break;
    const current = buffers[which]!.subarray(0, n);
    done += n;
    which ^= 1;
    const want = n < size ? 0 : Math.min(size, length - done);
    next = want > 0 ? readFull(fh, buffers[which]!.subarray(0, want), position + done) : Promise.resolve(0);
    onChunk(current);
  }
  return done;
}
