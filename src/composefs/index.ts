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
export { parseDump, printDump, printDumpLine, unescapeDumpField, escapeDumpPath } from './dump.ts';
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
  composefsKernelArgument,
  fsverityDigestFile,
} from './fsverity/index.ts';
export type { FsVerityParams, FsVerityHashName, FileDigestOptions } from './fsverity/index.ts';
export { ObjectStore, payloadForDigest, digestFromPayload } from './store.ts';
export type { StoredObject, ObjectWriter, StoreFsckReport, StoreGcReport } from './store.ts';
export { buildTreeFromDirectory, computeLinkCounts, readXattrsRecursive, defaultInlineMax } from './build-dir.ts';
export type { BuildOptions, BuildStats } from './build-dir.ts';
export { readTar, TarType, maxTarMetaHeader } from './tar.ts';
export type { TarEntry } from './tar.ts';
export { LayerTreeBuilder, makeDev, tarPathComponents } from './build-layers.ts';
export type { LayerBuildOptions } from './build-layers.ts';
export { buildTreeFromOciLayout, buildTreeFromTarLayers, readOciLayers, decompressed } from './oci.ts';
export type { OciDescriptor } from './oci.ts';
export { verifyObjects, diffTrees, diffFields, hasHardlinks } from './verify.ts';
export type { ObjectProblem, TreeChange, DiffOptions, DiffField } from './verify.ts';
export { treeFromImageOrDump, isComposefsImage } from './load.ts';
