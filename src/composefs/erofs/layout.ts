// Where every byte of a composefs EROFS image goes: the shared xattr table, each inode's
// compact/extended choice, xattr body, inline tail and padding, and the data blocks. The rules
// are mkcomposefs's (libcomposefs lcfs-writer-erofs.c compute_erofs_shared_xattrs,
// compute_erofs_inodes); the image is only reproducible if every one is followed exactly.
import { externalChunkBits } from '../tree.ts';
import { ErofsError } from './errors.ts';
import {
  EROFS_BLKSIZ,
  EROFS_DIRENT_SIZE,
  EROFS_INODE_COMPACT_SIZE,
  EROFS_INODE_EXTENDED_SIZE,
  EROFS_SLOTSIZE,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  MAX_SHARED_XATTRS_PER_INODE,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  XATTR_ENTRY_HEADER_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_PREFIXES,
  WRITER_XATTR_PREFIX_INDEXES,
} from './format.ts';
import type { ImageInode, ImageXattr, PreparedTree } from './prepare.ts';

/** A run of directory entries that fills one directory block (or the inline tail). */
export interface DirentChunk {
  readonly first: number;
  readonly count: number;
  readonly bytes: number;
}

export interface InodeLayout {
  readonly inode: ImageInode;
  compact: boolean;
  /** Byte offset of the inode in the image (slot aligned); nid = offset / 32 (metadata starts at block 0). */
  offset: number;
  nid: number;
  /** Size of the xattr body (header, shared refs, inline entries). */
  xattrSize: number;
  /** Shared-table byte offset per xattr (in sorted order), or -1 when stored inline. */
  sharedOffsets: number[];
  sharedCount: number;
  /** Whole blocks of data outside the inode (directory blocks, file or symlink block). */
  nBlocks: number;
  /** Bytes stored inline right after the xattrs: dirents, file tail, symlink target, chunk map. */
  tailSize: number;
  /** First data block, when nBlocks > 0. */
  blkaddr: number;
  /** For directories: entries split into blocks, the last possibly the inline tail. */
  direntChunks: DirentChunk[] | null;
  /** For external regular files: chunk size bits and count of the (all-hole) chunk map. */
  chunkBits: number;
  chunkCount: number;
}

export interface ImageLayout {
  readonly prepared: PreparedTree;
  readonly inodes: InodeLayout[];
  /** Entries of the shared xattr table in table order. */
  readonly sharedXattrs: ImageXattr[];
  readonly inodesEnd: number;
  readonly sharedXattrSize: number;
  readonly dataBlockStart: number;
  readonly nDataBlocks: number;
  readonly imageSize: number;
}

export function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** The e_name_index for a name and the rest of the name after its short prefix (xattr_erofs_entry_index). */
export function xattrPrefixIndex(name: string): { index: number; suffix: string } {
  for (const index of WRITER_XATTR_PREFIX_INDEXES) {
    const prefix = XATTR_PREFIXES[index]!;
    if (name.startsWith(prefix)) return { index, suffix: name.slice(prefix.length) };
  }
  return { index: 0, suffix: name };
}

export function xattrEntrySize(x: ImageXattr): number {
  return roundUp(XATTR_ENTRY_HEADER_SIZE + xattrPrefixIndex(x.name).suffix.length + x.value.length, 4);
}

function xattrKey(x: ImageXattr): string {
  // Names hold no NUL, so name NUL value is unique per (name, value).
  return x.name + '\0' + Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength).toString('latin1');
}

/**
 * The shared xattr table: every (name, value) used by more than one inode, ordered by name,
 * then value length, then value bytes, all descending (xattrs_ht_sort compares v2 to v1).
 */
function computeSharedXattrs(inodes: readonly ImageInode[]): { table: ImageXattr[]; offsets: Map<string, number>; size: number } {
  const counts = new Map<string, { xattr: ImageXattr; count: number }>();
  for (const inode of inodes) {
    for (const x of inode.xattrs) {
      const key = xattrKey(x);
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { xattr: x, count: 1 });
    }
  }
  const shared = [...counts.values()].filter((e) => e.count > 1).map((e) => e.xattr);
  shared.sort((a, b) => {
    if (a.name !== b.name) return a.name < b.name ? 1 : -1;
    if (a.value.length !== b.value.length) return b.value.length - a.value.length;
    return Buffer.compare(b.value, a.value);
  });
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const x of shared) {
    offsets.set(xattrKey(x), offset);
    offset += xattrEntrySize(x);
  }
  return { table: shared, offsets, size: offset };
}

/** compute_erofs_dir_size: greedy packing of 12-byte dirents plus names into blocks. */
function splitDirents(inode: ImageInode): DirentChunk[] {
  const chunks: DirentChunk[] = [];
  let first = 0;
  let bytes = 0;
  const entries = inode.entries!;
  for (let i = 0; i < entries.length; i++) {
    const len = EROFS_DIRENT_SIZE + entries[i]!.name.length;
    if (bytes + len > EROFS_BLKSIZ) {
      chunks.push({ first, count: i - first, bytes });
      first = i;
      bytes = 0;
    }
    bytes += len;
  }
  chunks.push({ first, count: entries.length - first, bytes });
  return chunks;
}

function unwritable(message: string, path: string): never {
  throw new ErofsError('ERR_COMPOSEFS_IMAGE_UNWRITABLE', `${path}: ${message}`, { path });
}

/** compute_erofs_inode_size: how much of the inode's data goes into blocks and how much inline. */
function dataSplit(l: InodeLayout): void {
  const inode = l.inode;
  const type = inode.mode & S_IFMT;
  if (type === S_IFDIR) {
    const chunks = splitDirents(inode);
    l.direntChunks = chunks;
    const last = chunks[chunks.length - 1]!;
    l.nBlocks = chunks.length - 1;
    l.tailSize = last.bytes;
    // Never inline more than half a block (mkcomposefs's heuristic).
    if (l.tailSize > EROFS_BLKSIZ / 2) {
      l.nBlocks++;
      l.tailSize = 0;
    }
  } else if (type === S_IFLNK) {
    l.tailSize = inode.payload!.length;
  } else if (type === S_IFREG && inode.size > 0n) {
    if (inode.content !== null) {
      const size = inode.content.length;
      l.nBlocks = Math.floor(size / EROFS_BLKSIZ);
      l.tailSize = size % EROFS_BLKSIZ;
      if (l.tailSize > EROFS_BLKSIZ / 2) {
        l.nBlocks++;
        l.tailSize = 0;
      }
    } else {
      l.chunkBits = externalChunkBits(inode.size);
      const chunk = 1n << BigInt(l.chunkBits);
      l.chunkCount = Number((inode.size + chunk - 1n) / chunk);
      l.tailSize = l.chunkCount * 4;
    }
  }
}

function fitsCompact(l: InodeLayout, prepared: PreparedTree): boolean {
  const inode = l.inode;
  // Compact inodes have no mtime of their own: they take the superblock's build time.
  if (inode.mtimeSec !== prepared.minMtimeSec || inode.mtimeNsec !== prepared.minMtimeNsec) return false;
  if (inode.nlink > 0xffff || inode.uid > 0xffff || inode.gid > 0xffff) return false;
  const size = (inode.mode & S_IFMT) === S_IFDIR ? BigInt(l.nBlocks * EROFS_BLKSIZ + l.tailSize) : inode.size;
  return size <= 0xffffffffn;
}

/** compute_erofs_inode_padding_for_tail: keep an inline tail from straddling a block boundary. */
function paddingForTail(l: InodeLayout, pos: number, inodeSize: number): number {
  const nonTail = inodeSize + l.xattrSize;
  if ((l.inode.mode & S_IFMT) === S_IFLNK) {
    // A symlink keeps inode and target in one block; a target that cannot fit goes to a block.
    const total = nonTail + l.tailSize;
    const crosses = Math.floor(pos / EROFS_BLKSIZ) !== Math.floor((pos + total - 1) / EROFS_BLKSIZ);
    if (total >= EROFS_BLKSIZ) {
      l.nBlocks++;
      l.tailSize = 0;
    }
    return crosses ? roundUp(pos, EROFS_BLKSIZ) - pos : 0;
  }
  const remainder = EROFS_BLKSIZ - ((pos + nonTail) % EROFS_BLKSIZ);
  if (remainder >= l.tailSize) return 0;
  const pad = roundUp(remainder, EROFS_SLOTSIZE);
  if (l.tailSize <= EROFS_BLKSIZ - ((pos + nonTail + pad) % EROFS_BLKSIZ)) return pad;
  // Still does not fit: move the tail to a block of its own and start the inode on a block.
  l.nBlocks++;
  l.tailSize = 0;
  return roundUp(pos, EROFS_BLKSIZ) - pos;
}

/** Lays out every inode, the shared xattr table and the data blocks of a prepared tree. */
export function layoutImage(prepared: PreparedTree): ImageLayout {
  const shared = computeSharedXattrs(prepared.inodes);
  const metaStart = 0; // (EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE) rounded down to a block
  let pos = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE;
  let nDataBlocks = 0;
  const layouts: InodeLayout[] = [];
  for (const inode of prepared.inodes) {
    const l: InodeLayout = {
      inode,
      compact: false,
      offset: 0,
      nid: 0,
      xattrSize: 0,
      sharedOffsets: [],
      sharedCount: 0,
      nBlocks: 0,
      tailSize: 0,
      blkaddr: 0,
      direntChunks: null,
      chunkBits: 0,
      chunkCount: 0,
    };
    dataSplit(l);
    l.compact = fitsCompact(l, prepared);
    const inodeSize = l.compact ? EROFS_INODE_COMPACT_SIZE : EROFS_INODE_EXTENDED_SIZE;

    let inlineXattrBytes = 0;
    for (const x of inode.xattrs) {
      const offset = shared.offsets.get(xattrKey(x));
      if (offset !== undefined && l.sharedCount < MAX_SHARED_XATTRS_PER_INODE) {
        l.sharedOffsets.push(offset);
        l.sharedCount++;
      } else {
        l.sharedOffsets.push(-1);
        inlineXattrBytes += xattrEntrySize(x);
      }
    }
    if (inode.xattrs.length > 0) {
      l.xattrSize = roundUp(XATTR_IBODY_HEADER_SIZE + l.sharedCount * 4 + inlineXattrBytes, 4);
      const icount = (l.xattrSize - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
      if (icount > 0xffff) unwritable(`xattrs of ${l.xattrSize} bytes do not fit the 16-bit i_xattr_icount`, inode.path);
    }

    pos = roundUp(pos, EROFS_SLOTSIZE);
    pos += paddingForTail(l, pos, inodeSize);
    l.offset = pos;
    l.nid = (pos - metaStart) / EROFS_SLOTSIZE;
    nDataBlocks += l.nBlocks;
    pos += inodeSize + l.xattrSize + l.tailSize;
    layouts.push(l);
  }
  const root = layouts[0]!;
  if (root.nid >= 0xffff) unwritable(`root nid ${root.nid} does not fit the superblock's 16-bit root_nid`, '/');

  const inodesEnd = roundUp(pos, EROFS_SLOTSIZE);
  const dataBlockStart = roundUp(inodesEnd + shared.size, EROFS_BLKSIZ);
  let currentBlock = dataBlockStart / EROFS_BLKSIZ;
  for (const l of layouts) {
    const type = l.inode.mode & S_IFMT;
    // mkcomposefs writes exactly one data block for a file or symlink; more would be a bug there.
    if (type !== S_IFDIR && l.nBlocks > 1) unwritable(`${l.nBlocks} data blocks for a non-directory`, l.inode.path);
    if (l.nBlocks > 0 && (type === S_IFDIR || type === S_IFREG || type === S_IFLNK)) {
      l.blkaddr = currentBlock;
      currentBlock += l.nBlocks;
    }
  }
  if (currentBlock > 0xffffffff) unwritable(`image of ${currentBlock} blocks exceeds the 32-bit block count`, '/');
  return {
    prepared,
    inodes: layouts,
    sharedXattrs: shared.table,
    inodesEnd,
    sharedXattrSize: shared.size,
    dataBlockStart,
    nDataBlocks,
    imageSize: dataBlockStart + nDataBlocks * EROFS_BLKSIZ,
  };
}

