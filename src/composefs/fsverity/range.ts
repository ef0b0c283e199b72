// Hashing the data blocks of one block-aligned range of a file: the unit of parallel work.
import type { FileHandle } from 'node:fs/promises';
import { BlockHasher } from './merkle.ts';
import type { FsVerityParams } from './params.ts';
import { readAhead } from './read-ahead.ts';

export interface RangeRequest {
  /** A Buffer path arrives in a worker as a plain Uint8Array (structured clone). */
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

/** The concatenated hashes of the range's data blocks (the last block zero-padded if short). */
export async function hashRange(fh: FileHandle, request: RangeRequest): Promise<RangeResult> {
  const blocks = new BlockHasher(request.params);
  const bs = request.params.blockSize;
  const hashes = new Uint8Array(Math.ceil(request.length / bs) * blocks.digestSize);
  let offset = 0;
  const read = await readAhead(fh, request.start, request.length, Math.max(bs, Math.floor(chunkBytes / bs) * bs), (chunk) => {
    hashes.set(blocks.hashDataBlocks(chunk), offset);
    offset += Math.ceil(chunk.length / bs) * blocks.digestSize;
  });
  return { hashes: hashes.subarray(0, offset), length: read };
}
