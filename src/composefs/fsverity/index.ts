export { FsVerityHash, FsVerityLimits, defaultFsVerityParams, fsverityParams } from './params.ts';
export type { FsVerityParams, FsVerityHashName } from './params.ts';
export { FsVerityHasher, BlockHasher, fsverityDigest, fsverityDescriptorDigest, composefsDigest, composefsKernelArgument } from './merkle.ts';
export { fsverityDigestFile } from './file.ts';
export type { FileDigestOptions } from './file.ts';
