/**
 * One entry point for "a composefs tree from bytes": an EROFS image (composefs header magic
 * 0xd078629a, little-endian, at offset 0) is read with the image reader, anything else is
 * parsed as a dump. Both reject malformed input with typed errors.
 */
import { parseDump } from './dump.ts';
import { readImage } from './erofs/index.ts';
import type { CfsNode } from './tree.ts';

const composefsImageMagic = 0xd078629a;

export function isComposefsImage(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === composefsImageMagic;
}

export function treeFromImageOrDump(bytes: Uint8Array): { root: CfsNode; kind: 'image' | 'dump' } {
  return isComposefsImage(bytes) ? { root: readImage(bytes), kind: 'image' } : { root: parseDump(bytes), kind: 'dump' };
}
