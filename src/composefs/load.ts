/**
 * One entry point for "a composefs tree from bytes": an EROFS image (composefs header magic
 * 0xd078629a, little-endian, at offset 0) is read with the image reader, anything else is
 * parsed as a dump. Both reject malformed input with typed errors.
 */
import { parseDump } from './dump.ts';
import { readImage } from './erofs/index.ts';
import type { CfsNode } from './tree.ts';
import { ComposefsError, type ComposefsErrorCodeName } from './errors.ts';

const composefsImageMagic = 0xd078629a;

export function isComposefsImage(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === composefsImageMagic;
}

export function treeFromImageOrDump(bytes: Uint8Array): { root: CfsNode; kind: 'image' | 'dump' } {
  if (isComposefsImage(bytes)) return { root: readImage(bytes), kind: 'image' };
  try {
    return { root: parseDump(bytes), kind: 'dump' };
  } catch (e) {
    // Say both readings failed: a file passed as an image that is not one would otherwise get only a dump parse error.
    if (!(e instanceof ComposefsError)) throw e;
    throw new ComposefsError(e.code as ComposefsErrorCodeName, `not a composefs image (no header magic) nor a dump: ${e.message}`, e.details, { cause: e });
  }
}
