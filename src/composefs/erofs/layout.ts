// Where every byte of a composefs EROFS image goes: the shared xattr table, each inode's
// compact/extended choice, xattr body, inline tail and padding, and the data blocks. The rules
// are mkcomposefs's (libcomposefs lcfs-writer-erofs.c compute_erofs_shared_xattrs,
// compute_erofs_inodes); the image is only reproducible if every one is followed exactly.
import { unwritable } from './errors.ts';
import {
  EROFS_BLKSIZ,
  EROFS_DIRENT_SIZE,
  EROFS_INODE_COMPACT_SIZE,
  EROFS_INODE_EXTENDED_SIZE,
  EROFS_SLOTSIZE,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  EROFS_XATTR_FILTER_BITS,
  EROFS_XATTR_FILTER_SEED,
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
import { inodePath, type ImageInode, type ImageXattr, type PreparedTree } from './prepare.ts';
import { xxh32 } from './xxhash.ts';

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
  readonly names: XattrNames;
}

export function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** How an xattr name is stored: short-prefix index, the rest of the name, and its bloom-filter bit. */
export interface XattrNameInfo {
  readonly index: number;
  readonly suffix: string;
  readonly filterBit: number;
}

/** Per-image memo of XattrNameInfo: trees use few distinct names across many inodes. */
export class XattrNames {
  private readonly known = new Map<string, XattrNameInfo>();

  info(name: string): XattrNameInfo {
    let info = this.known.get(name);
    if (info === undefined) {
      info = describeXattrName(name);
      this.known.set(name, info);
    }
    return info;
  }

  entrySize(x: ImageXattr): number {
    return roundUp(XATTR_ENTRY_HEADER_SIZE + this.info(x.name).suffix.length + x.value.length, 4);
  }

  /** h_name_filter: bit set = no xattr with a name hashing there (EROFS_FEATURE_COMPAT_XATTR_FILTER). */
  filter(xattrs: readonly ImageXattr[]): number {
    let present = 0;
    for (const x of xattrs) present |= 1 << this.info(x.name).filterBit;
    return ~present >>> 0;
  }
}

/** xattr_erofs_entry_index, and the filter bit: xxh32 of the suffix seeded with the prefix index. */
function describeXattrName(name: string): XattrNameInfo {
  let index = 0;
  let suffix = name;
  for (const i of WRITER_XATTR_PREFIX_INDEXES) {
    const prefix = XATTR_PREFIXES[i]!;
    if (name.startsWith(prefix)) {
      index = i;
      suffix = name.slice(prefix.length);
      break;
    }
  }
  const filterBit = xxh32(Buffer.from(suffix, 'latin1'), (EROFS_XATTR_FILTER_SEED + index) >>> 0) & (EROFS_XATTR_FILTER_BITS - 1);
  return { index, suffix, filterBit };
}

/**
 * A bucket key for a value: FNV-1a over its length and last 16 bytes. Equal values always share
 * a bucket (buckets are then compared byte by byte); the tail is where the values composefs
 * repeats or not differ (digests in metacopy, object paths in redirect), so buckets stay small
 * without hashing every byte of every xattr.
 */
function valueHash(v: Uint8Array): number {
  let h = Math.imul(0x811c9dc5 ^ v.length, 0x01000193);
  for (let i = Math.max(0, v.length - 16); i < v.length; i++) h = Math.imul(h ^ v[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One distinct (name, value) pair of the tree and how many inodes carry it. */
export interface XattrUse {
  readonly xattr: ImageXattr;
  count: number;
  /** Byte offset in the shared table, or -1 when used once (stored inline). */
  sharedOffset: number;
}

/**
 * The shared xattr table: every (name, value) used by more than one inode, ordered by name,
 * then value length, then value bytes, all descending (xattrs_ht_sort compares v2 to v1).
 * Each xattr gets `use` pointing at its pair's record.
 */
function computeSharedXattrs(inodes: readonly ImageInode[], names: XattrNames): { table: ImageXattr[]; size: number } {
  const byName = new Map<string, Map<number, XattrUse[]>>();
  for (const inode of inodes) {
    for (const x of inode.xattrs) {
      let byHash = byName.get(x.name);
      if (!byHash) byName.set(x.name, (byHash = new Map<number, XattrUse[]>()));
      const h = valueHash(x.value);
      let bucket = byHash.get(h);
      if (!bucket) byHash.set(h, (bucket = []));
      let use: XattrUse | undefined;
      for (const u of bucket) {
        if (sameBytes(u.xattr.value, x.value)) {
          use = u;
          break;
        }
      }
      if (use) use.count++;
      else bucket.push((use = { xattr: x, count: 1, sharedOffset: -1 }));
      x.use = use;
    }
  }
  const shared: XattrUse[] = [];
  for (const byHash of byName.values()) for (const bucket of byHash.values()) for (const use of bucket) if (use.count > 1) shared.push(use);
  shared.sort(({ xattr: a }, { xattr: b }) => {
    if (a.name !== b.name) return a.name < b.name ? 1 : -1;
    if (a.value.length !== b.value.length) return b.value.length - a.value.length;
    return Buffer.compare(b.value, a.value);
  });
  let offset = 0;
  for (const use of shared) {
    use.sharedOffset = offset;
    offset += names.entrySize(use.xattr);
  }
  return { table: shared.map((u) => u.xattr), size: offset };
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
      l.chunkBits = inode.chunkBits;
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
  const names = new XattrNames();
  const shared = computeSharedXattrs(prepared.inodes, names);
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
      const offset = x.use!.sharedOffset;
      if (offset >= 0 && l.sharedCount < MAX_SHARED_XATTRS_PER_INODE) {
        l.sharedOffsets.push(offset);
        l.sharedCount++;
      } else {
        l.sharedOffsets.push(-1);
        inlineXattrBytes += names.entrySize(x);
      }
    }
    if (inode.xattrs.length > 0) {
      l.xattrSize = roundUp(XATTR_IBODY_HEADER_SIZE + l.sharedCount * 4 + inlineXattrBytes, 4);
      const icount = (l.xattrSize - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
      if (icount > 0xffff) unwritable(`xattrs of ${l.xattrSize} bytes do not fit the 16-bit i_xattr_icount`, inodePath(inode));
    }

    pos = roundUp(pos, EROFS_SLOTSIZE);
    pos += paddingForTail(l, pos, inodeSize);
    l.offset = pos;
    l.nid = (pos - metaStart) / EROFS_SLOTSIZE;
    inode.nid = l.nid;
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
    if (type !== S_IFDIR && l.nBlocks > 1) unwritable(`${l.nBlocks} data blocks for a non-directory`, inodePath(l.inode));
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
    names,
  };
}
