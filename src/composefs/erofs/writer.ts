// Serializes a laid-out composefs image: the composefs header, the EROFS superblock, inodes with
// their xattrs and inline tails, the shared xattr table, then directory/file/symlink blocks.
// Byte-for-byte what mkcomposefs writes (libcomposefs lcfs_write_erofs_to) for format 0 and 1.
import type { CfsNode } from '../tree.ts';
import {
  COMPOSEFS_FLAG_HAS_ACL,
  COMPOSEFS_HEADER_VERSION,
  COMPOSEFS_MAGIC,
  DataLayout,
  DirentFileType,
  direntFileType,
  EROFS_BLKSIZ,
  EROFS_BLKSIZ_BITS,
  EROFS_DIRENT_SIZE,
  EROFS_FEATURE_COMPAT_MTIME,
  EROFS_FEATURE_COMPAT_XATTR_FILTER,
  EROFS_INODE_COMPACT_SIZE,
  EROFS_INODE_EXTENDED_SIZE,
  EROFS_I_DATALAYOUT_BIT,
  EROFS_I_VERSION_BIT,
  EROFS_NULL_ADDR,
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  MAX_NONINLINE_CHUNKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  XATTR_IBODY_HEADER_SIZE,
} from './format.ts';
import { layoutImage, type ImageLayout, type InodeLayout, type XattrNames } from './layout.ts';
import { prepareTree, type FormatVersionRange, type ImageInode, type ImageXattr } from './prepare.ts';

export type WriteImageOptions = FormatVersionRange;

/**
 * Writes the composefs EROFS image of a tree, byte-identical to `mkcomposefs` with the same
 * `--min-version`/`--max-version` (default 0..1: version 1 only when the tree has whiteouts).
 *
 * @example
 *   const image = writeImage(parseDump(text), { minVersion: 0, maxVersion: 1 });
 *   // mount -t composefs …, or pin it: fs-verity digest of `image` → composefs=<hex>
 *
 * The caller's tree is not modified. Throws ErofsError ERR_COMPOSEFS_IMAGE_UNWRITABLE when the
 * tree breaks a format limit, ERR_COMPOSEFS_IMAGE_VERSION for a bad version range.
 */
export function writeImage(root: CfsNode, options: WriteImageOptions = {}): Uint8Array {
  return serializeImage(layoutImage(prepareTree(root, options)));
}

class ImageBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private readonly buffer: Buffer;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.buffer = Buffer.from(this.bytes.buffer);
  }
  u8(at: number, v: number): void {
    this.bytes[at] = v;
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v & 0xffff, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  u64(at: number, v: bigint): void {
    this.view.setBigUint64(at, BigInt.asUintN(64, v), true);
  }
  put(at: number, data: Uint8Array): number {
    this.bytes.set(data, at);
    return at + data.length;
  }
  /** Writes a byte string (one char per byte) and returns the end. */
  putString(at: number, s: string): number {
    return at + this.buffer.write(s, at, 'latin1');
  }
}

/** write_erofs_xattr: entry header, name suffix, value, padded to 4 bytes. Returns the end. */
function putXattrEntry(out: ImageBuffer, at: number, x: ImageXattr, names: XattrNames): number {
  const { index, suffix } = names.info(x.name);
  out.u8(at, suffix.length);
  out.u8(at + 1, index);
  out.u16(at + 2, x.value.length);
  let p = out.putString(at + 4, suffix);
  p = out.put(p, x.value);
  return (p + 3) & ~3;
}

/** A run of dirents then their names; nameoff counts from the start of the run. */
function putDirents(out: ImageBuffer, at: number, entries: readonly { name: string; inode: ImageInode }[], first: number, count: number): void {
  let nameoff = count * EROFS_DIRENT_SIZE;
  let namePos = at + nameoff;
  for (let i = first; i < first + count; i++) {
    const e = entries[i]!;
    const d = at + (i - first) * EROFS_DIRENT_SIZE;
    // The u64 nid as two u32 halves: no BigInt per entry.
    out.u32(d, e.inode.nid % 0x100000000);
    out.u32(d + 4, Math.floor(e.inode.nid / 0x100000000));
    out.u16(d + 8, nameoff);
    out.u8(d + 10, direntFileType(e.inode.mode) ?? DirentFileType.unknown);
    nameoff += e.name.length;
    namePos = out.putString(namePos, e.name);
  }
}

function inodeSizeField(l: InodeLayout): bigint {
  const inode = l.inode;
  switch (inode.mode & S_IFMT) {
    case S_IFDIR:
      return BigInt(l.nBlocks * EROFS_BLKSIZ + l.tailSize);
    case S_IFREG:
      return inode.size;
    case S_IFLNK:
      return BigInt(inode.payload!.length);
    default:
      return 0n;
  }
}

function putInode(out: ImageBuffer, l: InodeLayout, layout: ImageLayout): void {
  const inode = l.inode;
  const type = inode.mode & S_IFMT;
  const external = type === S_IFREG && inode.size > 0n && inode.content === null;
  let dataLayout: number = l.tailSize > 0 ? DataLayout.flatInline : DataLayout.flatPlain;
  if (external) dataLayout = DataLayout.chunkBased;
  const format = (dataLayout << EROFS_I_DATALAYOUT_BIT) | ((l.compact ? 0 : 1) << EROFS_I_VERSION_BIT);
  const xattrIcount = l.xattrSize === 0 ? 0 : (l.xattrSize - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
  const size = inodeSizeField(l);
  const at = l.offset;

  out.u16(at, format);
  out.u16(at + 2, xattrIcount);
  out.u16(at + 4, inode.mode);
  // i_u (raw_blkaddr / rdev / chunk info) sits at 16 in both inode versions.
  if (type === S_IFCHR || type === S_IFBLK) {
    out.u32(at + 16, inode.rdev);
  } else if (l.nBlocks > 0 && (type === S_IFDIR || type === S_IFREG || type === S_IFLNK)) {
    out.u32(at + 16, l.blkaddr);
  }
  // The chunk format overwrites the low half of the same union, as mkcomposefs does.
  if (external) out.u16(at + 16, l.chunkBits - EROFS_BLKSIZ_BITS);
  out.u32(at + 20, inode.index);
  if (l.compact) {
    out.u16(at + 6, inode.nlink);
    out.u32(at + 8, Number(size));
    out.u16(at + 24, inode.uid);
    out.u16(at + 26, inode.gid);
  } else {
    out.u64(at + 8, size);
    out.u32(at + 24, inode.uid);
    out.u32(at + 28, inode.gid);
    out.u64(at + 32, inode.mtimeSec);
    out.u32(at + 40, inode.mtimeNsec);
    out.u32(at + 44, inode.nlink);
  }
  let p = at + (l.compact ? EROFS_INODE_COMPACT_SIZE : EROFS_INODE_EXTENDED_SIZE);

  if (l.xattrSize > 0) {
    out.u32(p, layout.names.filter(inode.xattrs));
    out.u8(p + 4, l.sharedCount);
    p += XATTR_IBODY_HEADER_SIZE;
    // Shared references count in 4-byte units from the start of the block holding the table.
    const tableBase = layout.inodesEnd % EROFS_BLKSIZ;
    for (const offset of l.sharedOffsets) {
      if (offset < 0) continue;
      out.u32(p, (tableBase + offset) / 4);
      p += 4;
    }
    inode.xattrs.forEach((x, i) => {
      if (l.sharedOffsets[i]! < 0) p = putXattrEntry(out, p, x, layout.names);
    });
  }

  if (l.tailSize === 0) return;
  if (type === S_IFDIR) {
    const last = l.direntChunks![l.direntChunks!.length - 1]!;
    putDirents(out, p, inode.entries!, last.first, last.count);
  } else if (type === S_IFLNK) {
    out.putString(p, inode.payload!);
  } else if (external) {
    for (let i = 0; i < l.chunkCount; i++) out.u32(p + 4 * i, EROFS_NULL_ADDR);
  } else if (type === S_IFREG) {
    const content = inode.content!;
    out.put(p, content.subarray(content.length - l.tailSize));
  }
}

function putDataBlocks(out: ImageBuffer, l: InodeLayout): void {
  if (l.nBlocks === 0) return;
  const inode = l.inode;
  const at = l.blkaddr * EROFS_BLKSIZ;
  switch (inode.mode & S_IFMT) {
    case S_IFDIR: {
      const chunks = l.direntChunks!;
      // Every chunk but an inline tail fills one block, zero padded.
      const blockChunks = l.tailSize > 0 ? chunks.length - 1 : chunks.length;
      for (let b = 0; b < blockChunks; b++) {
        const c = chunks[b]!;
        putDirents(out, at + b * EROFS_BLKSIZ, inode.entries!, c.first, c.count);
      }
      return;
    }
    case S_IFLNK:
      out.putString(at, inode.payload!);
      return;
    case S_IFREG:
      if (inode.content === null) {
        // A chunk map too large to inline: one block of hole markers.
        for (let i = 0; i < MAX_NONINLINE_CHUNKS; i++) out.u32(at + 4 * i, EROFS_NULL_ADDR);
      } else {
        out.put(at, inode.content.subarray(0, Math.min(inode.content.length, EROFS_BLKSIZ)));
      }
      return;
  }
}

/** Writes the bytes of a laid-out image. */
export function serializeImage(layout: ImageLayout): Uint8Array {
  const { prepared } = layout;
  const out = new ImageBuffer(layout.imageSize);

  out.u32(0, COMPOSEFS_MAGIC);
  out.u32(4, COMPOSEFS_HEADER_VERSION);
  out.u32(8, prepared.hasAcl ? COMPOSEFS_FLAG_HAS_ACL : 0);
  out.u32(12, prepared.formatVersion);

  const sb = EROFS_SUPER_OFFSET;
  out.u32(sb, EROFS_SUPER_MAGIC_V1);
  out.u32(sb + 8, EROFS_FEATURE_COMPAT_MTIME | EROFS_FEATURE_COMPAT_XATTR_FILTER);
  out.u8(sb + 12, EROFS_BLKSIZ_BITS);
  out.u16(sb + 14, layout.inodes[0]!.nid);
  out.u64(sb + 16, BigInt(prepared.inodes.length));
  out.u64(sb + 24, prepared.minMtimeSec);
  out.u32(sb + 32, prepared.minMtimeNsec);
  out.u32(sb + 36, layout.dataBlockStart / EROFS_BLKSIZ + layout.nDataBlocks);
  out.u32(sb + 40, Math.floor((EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE) / EROFS_BLKSIZ));
  out.u32(sb + 44, Math.floor(layout.inodesEnd / EROFS_BLKSIZ));

  for (const l of layout.inodes) putInode(out, l, layout);
  let p = layout.inodesEnd;
  for (const x of layout.sharedXattrs) p = putXattrEntry(out, p, x, layout.names);
  for (const l of layout.inodes) putDataBlocks(out, l);
  return out.bytes;
}
