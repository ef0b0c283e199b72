// composefs EROFS images through the image reader (`vouch composefs verify`/`dump` of an image):
// the header and superblock, then the whole tree.
import { printDump } from '../../src/composefs/index.ts';
import { readImage, readImageInfo } from '../../src/composefs/erofs/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  typed(() => readImageInfo(data));
  printDump(readImage(data));
}
