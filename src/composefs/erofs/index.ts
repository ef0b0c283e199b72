// composefs EROFS images: write them byte-identical to mkcomposefs, read them back.
export { writeImage, serializeImage } from './writer.ts';
export type { WriteImageOptions } from './writer.ts';
export { readImage, readImageInfo } from './reader.ts';
export type { ImageInfo } from './reader.ts';
export { prepareTree, chooseFormatVersion, inodePath } from './prepare.ts';
export type { FormatVersionRange, PreparedTree } from './prepare.ts';
export { layoutImage } from './layout.ts';
export type { ImageLayout } from './layout.ts';
export { xxh32 } from './xxhash.ts';
export { ErofsError, ErofsErrorCode } from './errors.ts';
export type { ErofsErrorCodeName } from './errors.ts';
export { COMPOSEFS_VERSION_MAX } from './format.ts';
