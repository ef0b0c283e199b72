import { open } from 'node:fs/promises';

/** A file longer than the limit its reader set; thrown before more than `maxBytes + 1` bytes are held. */
export class FileTooLargeError extends Error {
  readonly path: string;
  readonly maxBytes: number;
  /** The size fstat reported, when the file is a regular file that says so up front. */
  readonly size: number | undefined;

  constructor(path: string, maxBytes: number, size?: number) {
    super(`${path}: ${size === undefined ? 'more than' : `${size} bytes, over`} the ${maxBytes}-byte limit`);
    this.name = 'FileTooLargeError';
    this.path = path;
    this.maxBytes = maxBytes;
    this.size = size;
  }
}

/** First buffer for a file whose size is unknown (FIFOs, character devices, securityfs and procfs files that report 0). */
const unknownSizeChunk = 64 * 1024;

/**
 * Reads a whole file, holding at most `maxBytes + 1` bytes at any time: a regular file that says
 * it is larger fails at once (a sparse 3 GiB file costs nothing), and a file that does not say or
 * lies (/dev/zero, a FIFO, a file still growing) fails as soon as its `maxBytes + 1`th byte arrives.
 * The bytes are read into one buffer sized from fstat, so a regular file is never copied (readFile
 * followed by new Uint8Array held a 500 MiB image twice).
 *
 * File-system failures are the errno errors of node:fs (ENOENT, EACCES, EISDIR, …), with `path` set.
 */
export async function readFileUpTo(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    if (info.isFile() && info.size > maxBytes) throw new FileTooLargeError(path, maxBytes, info.size);
    // One byte more than fstat promises, so a read that fills it shows the file grew.
    let buffer = Buffer.allocUnsafeSlow(Math.min(maxBytes + 1, info.isFile() && info.size > 0 ? info.size + 1 : unknownSizeChunk));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new FileTooLargeError(path, maxBytes);
        const larger = Buffer.allocUnsafeSlow(Math.min(maxBytes + 1, 2 * buffer.length));
        buffer.copy(larger, 0, 0, length);
        buffer = larger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } catch (e) {
    throw withPath(e, path);
  } finally {
    await handle.close();
  }
}

/** node:fs errors from a file handle name no path; give them the one the caller opened. */
function withPath(e: unknown, path: string): unknown {
  if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).path === undefined) {
    (e as NodeJS.ErrnoException).path = path;
  }
  return e;
}
