// Turns a composefs tree into the inode list the EROFS writer lays out, applying the rewrites
// mkcomposefs applies before writing (libcomposefs lcfs-writer-erofs.c rewrite_tree_for_erofs,
// lcfs-writer.c lcfs_compute_tree). The caller's tree is never modified.
import { externalChunkBits, nodePath, type ByteString, type CfsInode, type CfsNode } from '../tree.ts';
import { ErofsError, unwritable } from './errors.ts';
import type { XattrUse } from './layout.ts';
import {
  COMPOSEFS_VERSION_MAX,
  DIGEST_SIZE,
  FS_VERITY_HASH_ALG_SHA256,
  INODE_EXTERNAL_XATTR_MAX,
  MAX_NONINLINE_CHUNKS,
  OVERLAY_ESCAPED_OPAQUE,
  OVERLAY_ESCAPED_WHITEOUT,
  OVERLAY_ESCAPED_WHITEOUTS,
  OVERLAY_ESCAPE_PREFIX,
  OVERLAY_METACOPY,
  OVERLAY_OPAQUE,
  OVERLAY_PREFIX,
  OVERLAY_REDIRECT,
  OVERLAY_USERXATTR_OPAQUE,
  OVERLAY_USERXATTR_WHITEOUT,
  OVERLAY_USERXATTR_WHITEOUTS,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  XATTR_ENTRY_HEADER_SIZE,
  XATTR_IBODY_HEADER_SIZE,
} from './format.ts';

export interface ImageXattr {
  name: ByteString;
  value: Uint8Array;
  /** Set by the layout: the record of this (name, value) pair across the tree. */
  use?: XattrUse;
}

export interface DirEntry {
  readonly name: ByteString;
  /** The inode the entry names (a hardlink's target, the directory itself for '.'). */
  readonly inode: ImageInode;
  /** '.', '..' and hardlinks: entries that name an inode owned by another entry. */
  readonly isLink: boolean;
}

/** One inode as it will be written; fields mirror struct lcfs_node_s after the rewrites. */
export interface ImageInode extends Pick<CfsInode, 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeSec' | 'mtimeNsec' | 'payload' | 'content'> {
  digest: Uint8Array | null;
  xattrs: ImageXattr[];
  /**
   * The xattr budget libcomposefs charges (lcfs_node_s.xattr_size): it is not updated when an
   * xattr is renamed for escaping, so it is tracked as C tracks it, not recomputed.
   */
  xattrCharged: number;
  /** Directory entries in strcmp order including '.' and '..'; null for non-directories. */
  entries: DirEntry[] | null;
  /** The containing directory (the root's is itself). */
  parent: ImageInode;
  /** Where the inode comes from, for error messages: its tree node, or the path of a whiteout stub. */
  readonly origin: CfsNode | ByteString;
  /** Chunk size bits of an external file's chunk map (set when the file is checked). */
  chunkBits: number;
  /** Breadth-first index: i_ino, and the order inodes are laid out in. */
  index: number;
  /** Where the layout puts it (byte offset / 32), which directory entries refer to. */
  nid: number;
}

export interface PreparedTree {
  /** Inodes in breadth-first order, root first. */
  readonly inodes: readonly ImageInode[];
  readonly formatVersion: number;
  readonly minMtimeSec: bigint;
  readonly minMtimeNsec: number;
  readonly hasAcl: boolean;
}

export interface FormatVersionRange {
  readonly minVersion?: number;
  readonly maxVersion?: number;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const X_VALUE = encoder.encode('x');
const Y_VALUE = encoder.encode('y');

function isWhiteout(inode: { mode: number; rdev: number }): boolean {
  // An overlayfs whiteout is a character device 0:0 (rdev compared as C's 32-bit st_rdev).
  return (inode.mode & S_IFMT) === S_IFCHR && inode.rdev >>> 0 === 0;
}

/**
 * The format version mkcomposefs writes (lcfs_write_to): `minVersion`, raised to 1 when the tree
 * holds a whiteout and `maxVersion` allows it, because version 1 changed how whiteouts are marked.
 */
export function chooseFormatVersion(root: CfsNode, range: FormatVersionRange = {}): number {
  const min = range.minVersion ?? 0;
  let max = range.maxVersion ?? COMPOSEFS_VERSION_MAX;
  for (const v of [min, max]) {
    if (!Number.isInteger(v) || v < 0 || v > COMPOSEFS_VERSION_MAX) {
      throw new ErofsError('ERR_COMPOSEFS_IMAGE_VERSION', `composefs format version ${v} is not one of 0..${COMPOSEFS_VERSION_MAX}`, { version: v });
    }
  }
  if (max < min) max = min;
  if (min >= 1 || max < 1) return min;
  const stack: CfsNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.hardlinkTarget) continue;
    if (isWhiteout(node.inode)) return 1;
    if (node.children) for (const child of node.children.values()) stack.push(child);
  }
  return min;
}

function chargeOf(name: ByteString, value: Uint8Array): number {
  return 2 * XATTR_ENTRY_HEADER_SIZE - 1 + name.length + value.length;
}

/** lcfs_node_set_xattr: replace-or-append under the external-input budget. */
function setXattr(inode: ImageInode, name: ByteString, value: Uint8Array): void {
  const existing = inode.xattrs.findIndex((x) => x.name === name);
  if (existing >= 0) {
    const removed = inode.xattrs[existing]!;
    const last = inode.xattrs.pop()!;
    if (existing < inode.xattrs.length) inode.xattrs[existing] = last;
    inode.xattrCharged = inode.xattrs.length > 0 ? inode.xattrCharged - chargeOf(removed.name, removed.value) : 0;
  }
  let charge = chargeOf(name, value);
  if (inode.xattrs.length === 0) charge += XATTR_IBODY_HEADER_SIZE;
  if (inode.xattrCharged + charge > INODE_EXTERNAL_XATTR_MAX) {
    unwritable(`no room for xattr ${name}: the inode's xattrs would exceed ${INODE_EXTERNAL_XATTR_MAX} bytes`, inodePath(inode));
  }
  inode.xattrs.push({ name, value });
  inode.xattrCharged += charge;
}

function cloneInode(node: CfsNode, parent: ImageInode | null): ImageInode {
  const src = node.inode;
  const xattrs = src.xattrs.length === 0 ? [] : src.xattrs.map((x) => ({ name: x.name, value: x.value }));
  let charged = xattrs.length > 0 ? XATTR_IBODY_HEADER_SIZE : 0;
  for (const x of xattrs) charged += chargeOf(x.name, x.value);
  const inode: ImageInode = {
    mode: src.mode >>> 0,
    nlink: src.nlink >>> 0,
    uid: src.uid >>> 0,
    gid: src.gid >>> 0,
    rdev: src.rdev >>> 0,
    size: src.size,
    mtimeSec: src.mtimeSec,
    mtimeNsec: src.mtimeNsec >>> 0,
    payload: src.payload,
    content: src.content,
    digest: src.fsverityDigest,
    xattrs,
    xattrCharged: charged,
    entries: null,
    parent: parent as ImageInode,
    origin: node,
    chunkBits: 0,
    index: -1,
    nid: 0,
  };
  if (parent === null) inode.parent = inode;
  if ((inode.mode & S_IFMT) === S_IFLNK) {
    if (!inode.payload) unwritable('symlink without a target', nodePath(node));
    // As lcfs_node_set_symlink_payload: a symlink's size is its target's length.
    inode.size = BigInt(inode.payload.length);
  }
  return inode;
}

/**
 * add_overlayfs_xattrs: escape the image's own trusted.overlay.* xattrs so overlayfs does not
 * act on them, point external files at their object (metacopy with the fs-verity digest,
 * redirect to the object path), and turn whiteouts into escaped stubs so the image can itself be
 * an overlay lower layer without its whiteouts hiding anything.
 */
function addOverlayXattrs(inode: ImageInode, formatVersion: number): void {
  for (const x of inode.xattrs) {
    if (x.name.startsWith(OVERLAY_PREFIX)) x.name = OVERLAY_ESCAPE_PREFIX + x.name.slice(OVERLAY_PREFIX.length);
  }
  const type = inode.mode & S_IFMT;
  if (type === S_IFREG && inode.size > 0n && inode.content === null) {
    let metacopy = EMPTY;
    if (inode.digest !== null) {
      metacopy = new Uint8Array(4 + DIGEST_SIZE);
      metacopy[0] = 0; // version
      metacopy[1] = metacopy.length;
      metacopy[2] = 0; // flags
      metacopy[3] = FS_VERITY_HASH_ALG_SHA256;
      metacopy.set(inode.digest, 4);
    }
    setXattr(inode, OVERLAY_METACOPY, metacopy);
    if (inode.payload !== null && inode.payload.length > 0) {
      // maybe_join_path("/", payload): always one more '/' in front, even before a leading '/'.
      setXattr(inode, OVERLAY_REDIRECT, latin1('/' + inode.payload));
    }
  }
  if (isWhiteout(inode)) {
    // A chardev whiteout may come with a nonsensical size; the stub is an empty regular file.
    inode.size = 0n;
    inode.mode = ((inode.mode & ~S_IFMT) | S_IFREG) >>> 0;
    setXattr(inode, OVERLAY_ESCAPED_WHITEOUT, EMPTY);
    setXattr(inode, OVERLAY_USERXATTR_WHITEOUT, EMPTY);
    const parent = inode.parent;
    setXattr(parent, OVERLAY_ESCAPED_WHITEOUTS, EMPTY);
    setXattr(parent, OVERLAY_USERXATTR_WHITEOUTS, EMPTY);
    if (formatVersion >= 1) {
      setXattr(parent, OVERLAY_ESCAPED_OPAQUE, X_VALUE);
      setXattr(parent, OVERLAY_USERXATTR_OPAQUE, X_VALUE);
    }
  }
}

function latin1(s: ByteString): Uint8Array {
  return Buffer.from(s, 'latin1');
}

function compareNames(a: { name: ByteString }, b: { name: ByteString }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const HEX = '0123456789abcdef';

/**
 * The whole preparation: clone, overlay rewrite, '.'/'..' entries, root opaque marker, the 256
 * root whiteout stubs "00".."ff" (they hide the object store's fan-out directories when the store
 * is the overlay's data layer), then breadth-first order (lcfs_compute_tree).
 */
export function prepareTree(root: CfsNode, range: FormatVersionRange = {}): PreparedTree {
  const formatVersion = chooseFormatVersion(root, range);
  const rootInode = cloneInode(root, null);
  // Only hardlink targets are looked up by node; every other entry names the inode made with it.
  const targets = linkTargets(root);
  const byTarget = new Map<CfsNode, ImageInode>();
  const links: { dir: ImageInode; child: CfsNode }[] = [];

  // Pass 1: one ImageInode per real (non-hardlink) node, parents before children, with the
  // overlay rewrite applied in that order (a whiteout marks its already-escaped parent), and
  // each directory's entries but its hardlinks.
  const pendingNodes: CfsNode[] = [root];
  const pendingInodes: ImageInode[] = [rootInode];
  const dirs: ImageInode[] = [];
  while (pendingNodes.length > 0) {
    const node = pendingNodes.pop()!;
    const inode = pendingInodes.pop()!;
    checkExternalSize(inode);
    addOverlayXattrs(inode, formatVersion);
    if (node.children !== null && (inode.mode & S_IFMT) === S_IFDIR) {
      dirs.push(inode);
      const entries: DirEntry[] = [
        { name: '.', inode, isLink: true },
        { name: '..', inode: inode.parent, isLink: true },
      ];
      for (const child of node.children.values()) {
        if (child.hardlinkTarget) {
          links.push({ dir: inode, child });
          continue;
        }
        const childInode = cloneInode(child, inode);
        if (targets.size > 0 && targets.has(child)) byTarget.set(child, childInode);
        entries.push({ name: child.name, inode: childInode, isLink: false });
        pendingNodes.push(child);
        pendingInodes.push(childInode);
      }
      inode.entries = entries;
    }
  }

  // Pass 2: hardlink entries, now that every target has its inode.
  for (const { dir, child } of links) {
    const target = byTarget.get(child.hardlinkTarget!);
    if (!target) unwritable(`hardlink target ${nodePath(child.hardlinkTarget!)} is not in the tree`, nodePath(child));
    if ((target.mode & S_IFMT) === S_IFDIR) unwritable('directories cannot be hardlinked', nodePath(child));
    dir.entries!.push({ name: child.name, inode: target, isLink: true });
  }

  setXattr(rootInode, OVERLAY_OPAQUE, Y_VALUE);
  const rootEntries = rootInode.entries!;
  const taken = new Set(rootEntries.map((e) => e.name));
  const selinux = rootInode.xattrs.find((x) => x.name === 'security.selinux');
  for (let i = 0; i < 256; i++) {
    const name = HEX[i >> 4]! + HEX[i & 15]!;
    if (taken.has(name)) continue;
    const stub: ImageInode = {
      mode: S_IFCHR | 0o644,
      nlink: 1,
      uid: rootInode.uid,
      gid: rootInode.gid,
      rdev: 0,
      size: 0n,
      mtimeSec: rootInode.mtimeSec,
      mtimeNsec: rootInode.mtimeNsec,
      payload: null,
      content: null,
      digest: null,
      // Inherit the root's SELinux label so the stubs are as accessible as the root.
      xattrs: selinux ? [{ name: selinux.name, value: selinux.value }] : [],
      xattrCharged: selinux ? XATTR_IBODY_HEADER_SIZE + chargeOf(selinux.name, selinux.value) : 0,
      entries: null,
      parent: rootInode,
      origin: '/' + name,
      chunkBits: 0,
      index: -1,
      nid: 0,
    };
    rootEntries.push({ name, inode: stub, isLink: false });
  }
  for (const inode of dirs) inode.entries!.sort(compareNames);

  return orderBreadthFirst(rootInode, formatVersion);
}

/** The nodes some hardlink of the tree points at. */
function linkTargets(root: CfsNode): Set<CfsNode> {
  const targets = new Set<CfsNode>();
  const stack: CfsNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.hardlinkTarget) targets.add(node.hardlinkTarget);
    if (node.children) for (const child of node.children.values()) stack.push(child);
  }
  return targets;
}

/** lcfs_node_validate: an external file's chunk index must fit one block. */
function checkExternalSize(inode: ImageInode): void {
  if ((inode.mode & S_IFMT) !== S_IFREG || inode.size <= 0n || inode.content !== null) return;
  inode.chunkBits = externalChunkBits(inode.size);
  const bits = BigInt(inode.chunkBits);
  const chunks = (inode.size + (1n << bits) - 1n) >> bits;
  if (chunks > BigInt(MAX_NONINLINE_CHUNKS)) {
    unwritable(`file of ${inode.size} bytes needs ${chunks} chunks, composefs allows ${MAX_NONINLINE_CHUNKS}`, inodePath(inode));
  }
}

/** The inode's path in the source tree (the first name it was found under). */
export function inodePath(inode: ImageInode): ByteString {
  return typeof inode.origin === 'string' ? inode.origin : nodePath(inode.origin);
}

function orderBreadthFirst(root: ImageInode, formatVersion: number): PreparedTree {
  const inodes: ImageInode[] = [root];
  let minSec = root.mtimeSec;
  let minNsec = root.mtimeNsec;
  let hasAcl = false;
  for (let i = 0; i < inodes.length; i++) {
    const inode = inodes[i]!;
    inode.index = i;
    if (inode.entries !== null) {
      let subdirs = 0;
      for (const e of inode.entries) {
        if (e.isLink) continue;
        if ((e.inode.mode & S_IFMT) === S_IFDIR) subdirs++;
        inodes.push(e.inode);
      }
      // Directory link counts are always 2 + subdirectories, whatever the input said.
      inode.nlink = 2 + subdirs;
    }
    const xattrs = inode.xattrs;
    if (xattrs.length > 1) xattrs.sort(compareNames);
    if (inode.mtimeSec <= minSec && (inode.mtimeSec < minSec || inode.mtimeNsec < minNsec)) {
      minSec = inode.mtimeSec;
      minNsec = inode.mtimeNsec;
    }
    for (const x of xattrs) if (x.name === 'system.posix_acl_access' || x.name === 'system.posix_acl_default') hasAcl = true;
  }
  return { inodes, formatVersion, minMtimeSec: minSec, minMtimeNsec: minNsec, hasAcl };
}
