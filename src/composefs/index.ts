export { ComposefsError, ComposefsErrorCode } from './errors.ts';
export type { ComposefsErrorCodeName } from './errors.ts';
export {
  FileType,
  ComposefsLimits,
  byteStringFromBytes,
  bytesFromByteString,
  createInode,
  createRoot,
  addChild,
  addHardlink,
  nodePath,
  sortedChildren,
  walkTree,
  lookupPath,
  setXattr,
  fileTypeOf,
  isDirectory,
  externalChunkBits,
  validateInode,
  validateTree,
} from './tree.ts';
export type { ByteString, CfsXattr, CfsInode, CfsNode } from './tree.ts';
export { parseDump, printDump, printDumpLine, unescapeDumpField } from './dump.ts';
export type { ParseDumpOptions } from './dump.ts';
export {
  FsVerityHash,
  FsVerityLimits,
  defaultFsVerityParams,
  fsverityParams,
  FsVerityHasher,
  BlockHasher,
  fsverityDigest,
  fsverityDescriptorDigest,
  composefsDigest,
  fsverityDigestFile,
} from './fsverity/index.ts';
export type { FsVerityParams, FsVerityHashName, FileDigestOptions } from './fsverity/index.ts';
