/**
 * The in-memory composefs tree: what a dump file describes, what the EROFS writer lays out and
 * what the reader recovers. Rules and limits follow libcomposefs (lcfs-writer.c, lcfs-writer.h):
 * any tree built through these functions is one `mkcomposefs` would accept.
 *
 * Names, paths, link targets, backing paths and xattr names are Linux byte strings, not text:
 * they are held as `ByteString`s (one char per byte, code 0..255, i.e. latin1) so that any byte
 * sequence survives, and comparing two of them with `<` is byte order (the order of strcmp, which
 * composefs uses for directory entries). Convert with `byteStringFromBytes` / `bytesFromByteString`.
 */
import { ComposefsError } from './errors.ts';

/** One byte per char (latin1); see the module comment. */
export type ByteString = string;

export function byteStringFromBytes(bytes: Uint8Array): ByteString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function bytesFromByteString(s: ByteString): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/** st_mode file-type bits (<sys/stat.h>). */
export const FileType = {
  mask: 0o170000,
  socket: 0o140000,
  symlink: 0o120000,
  regular: 0o100000,
  blockDevice: 0o060000,
  directory: 0o040000,
  charDevice: 0o020000,
  fifo: 0o010000,
} as const;

/** Limits libcomposefs enforces on external input (lcfs-writer.h, lcfs-internal.h, linux/limits.h). */
export const ComposefsLimits = {
  /** LCFS_MAX_NAME_LENGTH: one path component. */
  maxNameLength: 255,
  /** PATH_MAX minus the NUL: symlink targets and backing paths. */
  maxPayloadLength: 4095,
  /** XATTR_NAME_MAX. */
  maxXattrNameLength: 255,
  /** An xattr value is stored with a u16 length in EROFS. */
  maxXattrValueLength: 0xffff,
  /** LCFS_INODE_EXTERNAL_XATTR_MAX: half of the u16 xattr area, the rest is kept for composefs' own xattrs. */
  maxXattrBudget: 0x7fff,
  /** LCFS_INLINE_CONTENT_MAX. */
  maxInlineContent: 5000,
  /** LCFS_MAX_NONINLINE_CHUNKS: an external file's chunk index must fit in its stub inode's block. */
  maxExternalChunks: 1024,
  /** Per-xattr bookkeeping libcomposefs charges: twice sizeof(erofs_xattr_entry) minus one (worst-case alignment). */
  xattrEntryOverhead: 2 * 4 - 1,
  /** sizeof(erofs_xattr_ibody_header), charged once with the first xattr. */
  xattrHeaderSize: 12,
  /** SHA-256 fs-verity digest length. */
  digestLength: 32,
} as const;

export interface CfsXattr {
  readonly name: ByteString;
  readonly value: Uint8Array;
}

/** The stat-like record of one inode; hardlinked names share one object. */
export interface CfsInode {
  /** st_mode: type bits and permissions. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** st_rdev for character and block devices, 0 otherwise. */
  rdev: number;
  size: bigint;
  mtimeSec: bigint;
  mtimeNsec: number;
  /** Symlink target, or for a regular file the backing object's path relative to the store ("ab/cdef…"). */
  payload: ByteString | null;
  /** Inline file content (small files), `size` bytes. */
  content: Uint8Array | null;
  /** SHA-256 fs-verity digest of a regular file's content (the object the payload points at). */
  fsverityDigest: Uint8Array | null;
  /** In dump order; names are unique. */
  xattrs: CfsXattr[];
}

export interface CfsNode {
  /** The last path component; '' for the root. */
  readonly name: ByteString;
  readonly parent: CfsNode | null;
  readonly inode: CfsInode;
  /** For a hardlink: the node it links to (never itself a hardlink, never a directory). */
  readonly hardlinkTarget: CfsNode | null;
  /** Entries of a directory (unordered; iterate with `sortedChildren`), null for other types. */
  readonly children: Map<ByteString, CfsNode> | null;
}

export function fileTypeOf(mode: number): number {
  return mode & FileType.mask;
}

export function isDirectory(inode: CfsInode): boolean {
  return fileTypeOf(inode.mode) === FileType.directory;
}

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new ComposefsError('ERR_COMPOSEFS_TREE_INVALID', message, details);
}

const validTypes = new Set<number>(Object.values(FileType).filter((t) => t !== FileType.mask));

/** A fresh inode; fields not given default to zero / absent. */
export function createInode(fields: Partial<CfsInode> & Pick<CfsInode, 'mode'>): CfsInode {
  if (!Number.isInteger(fields.mode) || fields.mode < 0 || fields.mode > 0xffffffff || !validTypes.has(fileTypeOf(fields.mode))) {
    invalid(`invalid mode ${fields.mode.toString(8)}: not a regular file, directory, symlink, device, fifo or socket`);
  }
  return {
    mode: fields.mode,
    nlink: fields.nlink ?? 1,
    uid: fields.uid ?? 0,
    gid: fields.gid ?? 0,
    rdev: fields.rdev ?? 0,
    size: fields.size ?? 0n,
    mtimeSec: fields.mtimeSec ?? 0n,
    mtimeNsec: fields.mtimeNsec ?? 0,
    payload: fields.payload ?? null,
    content: fields.content ?? null,
    fsverityDigest: fields.fsverityDigest ?? null,
    xattrs: fields.xattrs ? [...fields.xattrs] : [],
  };
}

export function createRoot(inode: CfsInode): CfsNode {
  if (!isDirectory(inode)) invalid('the root must be a directory');
  return { name: '', parent: null, inode, hardlinkTarget: null, children: new Map() };
}

function checkName(parent: CfsNode, name: ByteString): void {
  if (parent.children === null) invalid(`parent ${nodePath(parent)} is not a directory`);
  if (name.length === 0) invalid('empty file name');
  if (name === '.' || name === '..') invalid(`invalid name ${JSON.stringify(name)}`);
  if (name.length > ComposefsLimits.maxNameLength) invalid(`file name of ${name.length} bytes exceeds ${ComposefsLimits.maxNameLength}`);
  // '/' would split the name into two components and NUL ends it in every kernel interface.
  if (name.includes('/') || name.includes('\0')) invalid(`file name ${JSON.stringify(name)} contains '/' or NUL`);
  if (parent.children.has(name)) invalid(`${joinPath(parent, name)} already exists`);
}

function joinPath(parent: CfsNode, name: ByteString): ByteString {
  const p = nodePath(parent);
  return p === '/' ? `/${name}` : `${p}/${name}`;
}

/** Adds `name` (one component) under directory `parent` with its own inode. */
export function addChild(parent: CfsNode, name: ByteString, inode: CfsInode): CfsNode {
  checkName(parent, name);
  const node: CfsNode = { name, parent, inode, hardlinkTarget: null, children: isDirectory(inode) ? new Map() : null };
  parent.children!.set(name, node);
  return node;
}

/**
 * Adds `name` under `parent` as another name of `target`'s inode. A link to a hardlink resolves
 * to its target; directories cannot be hardlinked (a cycle in the namespace).
 */
export function addHardlink(parent: CfsNode, name: ByteString, target: CfsNode): CfsNode {
  const real = target.hardlinkTarget ?? target;
  if (isDirectory(real.inode)) invalid(`hardlink ${joinPath(parent, name)} points at directory ${nodePath(real)}`);
  checkName(parent, name);
  const node: CfsNode = { name, parent, inode: real.inode, hardlinkTarget: real, children: null };
  parent.children!.set(name, node);
  return node;
}

/** Absolute path of a node ("/" for the root), as a ByteString. */
export function nodePath(node: CfsNode): ByteString {
  const parts: string[] = [];
  for (let n = node; n.parent; n = n.parent) parts.push(n.name);
  return '/' + parts.reverse().join('/');
}

/** Children in byte order of their names (strcmp order, as composefs writes and dumps them). */
export function sortedChildren(node: CfsNode): CfsNode[] {
  if (!node.children) return [];
  return [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every node, parents before children, siblings in byte order: the order of a dump. */
export function* walkTree(root: CfsNode): Generator<CfsNode> {
  const stack: CfsNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    yield node;
    const kids = sortedChildren(node);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
}

/** Looks up an absolute path; returns undefined when any component is missing. */
export function lookupPath(root: CfsNode, path: ByteString): CfsNode | undefined {
  let node: CfsNode | undefined = root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    node = node.children?.get(part);
    if (!node) return undefined;
  }
  return node;
}

function xattrCost(x: CfsXattr): number {
  return ComposefsLimits.xattrEntryOverhead + x.name.length + x.value.length;
}

/**
 * Sets an xattr the way libcomposefs does for external input (lcfs_node_set_xattr): a name that
 * already exists is removed first (the last entry takes its slot) and the new value appended, and
 * the inode's total stays within the budget that leaves room for composefs' own xattrs.
 */
export function setXattr(inode: CfsInode, name: ByteString, value: Uint8Array): void {
  if (name.length === 0 || name.length > ComposefsLimits.maxXattrNameLength) {
    invalid(`xattr name of ${name.length} bytes: must be 1..${ComposefsLimits.maxXattrNameLength}`);
  }
  if (name.includes('\0')) invalid(`xattr name ${JSON.stringify(name)} contains NUL`);
  if (value.length > ComposefsLimits.maxXattrValueLength) {
    invalid(`xattr ${name} value of ${value.length} bytes exceeds ${ComposefsLimits.maxXattrValueLength}`);
  }
  const existing = inode.xattrs.findIndex((x) => x.name === name);
  if (existing >= 0) {
    const last = inode.xattrs.pop()!;
    if (existing < inode.xattrs.length) inode.xattrs[existing] = last;
  }
  const entry: CfsXattr = { name, value };
  let total = ComposefsLimits.xattrHeaderSize + xattrCost(entry);
  for (const x of inode.xattrs) total += xattrCost(x);
  if (total > ComposefsLimits.maxXattrBudget) {
    invalid(`xattrs of ${total} bytes exceed the ${ComposefsLimits.maxXattrBudget}-byte budget composefs allows per inode`, { xattr: name });
  }
  inode.xattrs.push(entry);
}

/** Chunk size bits libcomposefs picks for an external file (erofs_compute_chunk_bitsize). */
export function externalChunkBits(size: bigint): number {
  const blockBits = 12;
  const maxChunkFormatBits = 0x1f;
  let bits = size <= 1n ? 0 : (size - 1n).toString(2).length;
  if (bits < blockBits) bits = blockBits;
  if (bits - blockBits > maxChunkFormatBits) bits = maxChunkFormatBits + blockBits;
  return bits;
}

/**
 * Checks what libcomposefs checks per inode (lcfs_node_validate and the setters): symlink
 * targets non-empty and below PATH_MAX, backing paths below PATH_MAX, inline content within
 * its maximum and matching the size, digests 32 bytes, and an external file small enough that
 * its chunk index fits one block.
 */
export function validateInode(inode: CfsInode, where: string): void {
  const type = fileTypeOf(inode.mode);
  const fail = (reason: string): never => invalid(`${where}: ${reason}`, { path: where });
  if (!validTypes.has(type)) fail(`invalid mode ${inode.mode.toString(8)}`);
  if (inode.payload !== null) {
    if (inode.payload.length > ComposefsLimits.maxPayloadLength) fail(`payload of ${inode.payload.length} bytes exceeds ${ComposefsLimits.maxPayloadLength}`);
    if (inode.payload.includes('\0')) fail('payload contains NUL');
  }
  if (type === FileType.symlink) {
    if (!inode.payload) fail('symlink without a target');
    if (inode.content !== null && inode.content.length > 0) fail('symlink cannot have content');
  }
  if (inode.content !== null) {
    if (inode.content.length > ComposefsLimits.maxInlineContent)
      fail(`inline content of ${inode.content.length} bytes exceeds ${ComposefsLimits.maxInlineContent}`);
    if (BigInt(inode.content.length) !== inode.size) fail(`inline content of ${inode.content.length} bytes does not match size ${inode.size}`);
  }
  if (inode.fsverityDigest !== null && inode.fsverityDigest.length !== ComposefsLimits.digestLength) {
    fail(`fs-verity digest of ${inode.fsverityDigest.length} bytes, expected ${ComposefsLimits.digestLength}`);
  }
  if (type === FileType.regular && inode.size > 0n && inode.content === null) {
    const chunks = (inode.size + (1n << BigInt(externalChunkBits(inode.size))) - 1n) >> BigInt(externalChunkBits(inode.size));
    if (chunks > BigInt(ComposefsLimits.maxExternalChunks))
      fail(`file of ${inode.size} bytes is too big for composefs (needs ${chunks} chunks, at most ${ComposefsLimits.maxExternalChunks})`);
  }
}

/** Validates every inode of a tree (each shared inode once). */
export function validateTree(root: CfsNode): void {
  const seen = new Set<CfsInode>();
  for (const node of walkTree(root)) {
    if (seen.has(node.inode)) continue;
    seen.add(node.inode);
    validateInode(node.inode, nodePath(node));
  }
}
