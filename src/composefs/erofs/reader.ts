// Reads a composefs EROFS image back into a composefs tree, undoing what the writer adds (the
// overlay xattrs, escapes and whiteout stubs) the way libcomposefs' reader does
// (lcfs-writer-erofs.c lcfs_load_node_from_image). The image is untrusted: every offset is
// checked against the image before use, every inode is parsed at most once, directories may
// not be reached twice (no cycles, no directory hardlinks), and anything composefs never
// writes is rejected rather than guessed at.
import { ByteReader } from '../../bytes/index.ts';
import { isVouchError } from '../../errors/index.ts';
import { addChild, addHardlink, byteStringFromBytes, createInode, createRoot, type ByteString, type CfsInode, type CfsNode, type CfsXattr } from '../tree.ts';
import { ErofsError } from './errors.ts';
import {
  COMPOSEFS_FLAG_HAS_ACL,
  COMPOSEFS_HEADER_SIZE,
  COMPOSEFS_HEADER_VERSION,
  COMPOSEFS_MAGIC,
  COMPOSEFS_VERSION_MAX,
  DataLayout,
  DIGEST_SIZE,
  direntFileType,
  EROFS_BLKSIZ,
  EROFS_BLKSIZ_BITS,
  EROFS_CHUNK_FORMAT_BLKBITS_MASK,
  EROFS_DIRENT_SIZE,
  EROFS_INODE_COMPACT_SIZE,
  EROFS_INODE_EXTENDED_SIZE,
  EROFS_I_ALL,
  EROFS_I_DATALAYOUT_BIT,
  EROFS_I_DATALAYOUT_MASK,
  EROFS_NAME_LEN,
  EROFS_SLOTSIZE,
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  FS_VERITY_HASH_ALG_SHA256,
  INLINE_CONTENT_MAX,
  OVERLAY_ESCAPED_WHITEOUT,
  OVERLAY_ESCAPED_WHITEOUTS,
  OVERLAY_ESCAPE_PREFIX,
  OVERLAY_METACOPY,
  OVERLAY_PREFIX,
  OVERLAY_REDIRECT,
  OVERLAY_USERXATTR_WHITEOUT,
  OVERLAY_USERXATTR_WHITEOUTS,
  PATH_MAX,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  XATTR_ENTRY_HEADER_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_NAME_MAX,
  XATTR_PREFIXES,
} from './format.ts';

/** What the composefs header and EROFS superblock say about an image. */
export interface ImageInfo {
  /** composefs format version (0 or 1) the image was written with. */
  readonly formatVersion: number;
  readonly hasAcl: boolean;
  readonly inodeCount: bigint;
  readonly blocks: number;
  readonly rootNid: number;
  readonly buildTimeSec: bigint;
  readonly buildTimeNsec: number;
  readonly metaBlkaddr: number;
  readonly xattrBlkaddr: number;
}

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new ErofsError('ERR_COMPOSEFS_IMAGE_INVALID', message, details);
}

function unsupported(message: string, details: Record<string, unknown> = {}): never {
  throw new ErofsError('ERR_COMPOSEFS_IMAGE_UNSUPPORTED', message, details);
}

/** Parses and checks the composefs header and the EROFS superblock. */
export function readImageInfo(image: Uint8Array): ImageInfo {
  if (image.length < EROFS_BLKSIZ || image.length % EROFS_BLKSIZ !== 0) {
    invalid(`image of ${image.length} bytes is not a whole number of ${EROFS_BLKSIZ}-byte blocks`, { size: image.length });
  }
  const h = new ByteReader(image, 0, COMPOSEFS_HEADER_SIZE);
  const magic = h.u32le('composefs header magic');
  if (magic !== COMPOSEFS_MAGIC) invalid(`not a composefs image: header magic 0x${magic.toString(16)}, expected 0x${COMPOSEFS_MAGIC.toString(16)}`);
  const headerVersion = h.u32le('composefs header version');
  if (headerVersion !== COMPOSEFS_HEADER_VERSION) unsupported(`composefs header version ${headerVersion}, expected ${COMPOSEFS_HEADER_VERSION}`);
  const flags = h.u32le('composefs header flags');
  if ((flags & ~COMPOSEFS_FLAG_HAS_ACL) !== 0) unsupported(`unknown composefs header flags 0x${flags.toString(16)}`);
  const formatVersion = h.u32le('composefs_version');
  if (formatVersion > COMPOSEFS_VERSION_MAX) unsupported(`composefs format version ${formatVersion}, this reader knows 0..${COMPOSEFS_VERSION_MAX}`);

  const s = new ByteReader(image, EROFS_SUPER_OFFSET, image.length);
  const sbMagic = s.u32le('superblock magic');
  if (sbMagic !== EROFS_SUPER_MAGIC_V1) invalid(`EROFS superblock magic 0x${sbMagic.toString(16)}, expected 0x${EROFS_SUPER_MAGIC_V1.toString(16)}`);
  s.skip(4, 'superblock checksum');
  s.skip(4, 'superblock feature_compat');
  const blkszbits = s.u8('superblock blkszbits');
  if (blkszbits !== EROFS_BLKSIZ_BITS) unsupported(`EROFS block size 2^${blkszbits}; composefs images use 2^${EROFS_BLKSIZ_BITS}`);
  const extslots = s.u8('superblock sb_extslots');
  if (extslots !== 0) unsupported(`superblock has ${extslots} extension slots`);
  const rootNid = s.u16le('superblock root_nid');
  const inodeCount = s.u64le('superblock inos');
  const buildTimeSec = BigInt.asIntN(64, s.u64le('superblock build_time'));
  const buildTimeNsec = s.u32le('superblock build_time_nsec');
  const blocks = s.u32le('superblock blocks');
  const metaBlkaddr = s.u32le('superblock meta_blkaddr');
  const xattrBlkaddr = s.u32le('superblock xattr_blkaddr');
  s.skip(32, 'superblock uuid and volume_name');
  const incompat = s.u32le('superblock feature_incompat');
  // composefs needs no incompatible feature; any set bit means an image from another writer
  // whose meaning (compression, devices, long prefixes...) this reader would get wrong.
  if (incompat !== 0) unsupported(`EROFS incompatible features 0x${incompat.toString(16)}`);
  if (blocks * EROFS_BLKSIZ !== image.length) invalid(`superblock counts ${blocks} blocks but the image has ${image.length / EROFS_BLKSIZ}`, { blocks });
  if (metaBlkaddr >= blocks || xattrBlkaddr >= blocks)
    invalid('superblock metadata or xattr block is past the end of the image', { metaBlkaddr, xattrBlkaddr });
  return {
    formatVersion,
    hasAcl: (flags & COMPOSEFS_FLAG_HAS_ACL) !== 0,
    inodeCount,
    blocks,
    rootNid,
    buildTimeSec,
    buildTimeNsec,
    metaBlkaddr,
    xattrBlkaddr,
  };
}

/** One inode as stored, before interpretation. */
interface RawInode {
  readonly nid: number;
  readonly offset: number;
  readonly layout: number;
  readonly inodeSize: number;
  readonly xattrSize: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  readonly mtimeSec: bigint;
  readonly mtimeNsec: number;
  /** The i_u union: raw_blkaddr, rdev or chunk info. */
  readonly iu: number;
}

interface ReadContext {
  readonly image: Uint8Array;
  readonly info: ImageInfo;
  readonly metaStart: number;
  readonly xattrStart: number;
  /** Shared xattr entries parsed so far, by id: an entry is read once however many inodes use it. */
  readonly sharedXattrs: Map<number, CfsXattr>;
  /**
   * Bytes of inode metadata and of data blocks read so far. In a well-formed image inodes and
   * blocks never overlap, so neither can exceed the image size; a crafted image whose inodes
   * alias the same bytes (to make the reader repeat work) is cut off there.
   */
  metadataBytesRead: number;
  dataBytesRead: number;
}

function chargeMetadata(ctx: ReadContext, raw: RawInode, bytes: number): void {
  ctx.metadataBytesRead += bytes;
  if (ctx.metadataBytesRead > ctx.image.length) invalid(`inode nid ${raw.nid}: inodes overlap (more metadata read than the image holds)`, { nid: raw.nid });
}

function parseRawInode(ctx: ReadContext, nid: number): RawInode {
  const offset = ctx.metaStart + nid * EROFS_SLOTSIZE;
  const where = `inode nid ${nid}`;
  if (offset + EROFS_INODE_COMPACT_SIZE > ctx.image.length) invalid(`${where}: offset ${offset} is past the end of the image`, { nid });
  const r = new ByteReader(ctx.image, offset, ctx.image.length);
  const format = r.u16le(`${where} i_format`);
  if ((format & ~EROFS_I_ALL) !== 0) invalid(`${where}: unknown i_format bits 0x${format.toString(16)}`, { nid });
  const extended = (format & 1) === 1;
  const layout = (format >> EROFS_I_DATALAYOUT_BIT) & EROFS_I_DATALAYOUT_MASK;
  if (layout !== DataLayout.flatPlain && layout !== DataLayout.flatInline && layout !== DataLayout.chunkBased) {
    unsupported(`${where}: data layout ${layout} (compressed or unknown)`, { nid, layout });
  }
  const xattrIcount = r.u16le(`${where} i_xattr_icount`);
  const mode = r.u16le(`${where} i_mode`);
  let raw: Omit<RawInode, 'xattrSize'>;
  if (extended) {
    r.skip(2, `${where} i_reserved`);
    const size = r.u64le(`${where} i_size`);
    const iu = r.u32le(`${where} i_u`);
    r.skip(4, `${where} i_ino`);
    const uid = r.u32le(`${where} i_uid`);
    const gid = r.u32le(`${where} i_gid`);
    const mtimeSec = BigInt.asIntN(64, r.u64le(`${where} i_mtime`));
    const mtimeNsec = r.u32le(`${where} i_mtime_nsec`);
    const nlink = r.u32le(`${where} i_nlink`);
    r.skip(16, `${where} i_reserved2`);
    raw = { nid, offset, layout, inodeSize: EROFS_INODE_EXTENDED_SIZE, mode, nlink, uid, gid, size, mtimeSec, mtimeNsec, iu };
  } else {
    const nlink = r.u16le(`${where} i_nlink`);
    const size = BigInt(r.u32le(`${where} i_size`));
    r.skip(4, `${where} i_reserved`);
    const iu = r.u32le(`${where} i_u`);
    r.skip(4, `${where} i_ino`);
    const uid = r.u16le(`${where} i_uid`);
    const gid = r.u16le(`${where} i_gid`);
    r.skip(4, `${where} i_reserved2`);
    // Compact inodes take their mtime from the superblock's build time.
    raw = {
      nid,
      offset,
      layout,
      inodeSize: EROFS_INODE_COMPACT_SIZE,
      mode,
      nlink,
      uid,
      gid,
      size,
      mtimeSec: ctx.info.buildTimeSec,
      mtimeNsec: ctx.info.buildTimeNsec,
      iu,
    };
  }
  const xattrSize = xattrIcount === 0 ? 0 : XATTR_IBODY_HEADER_SIZE + (xattrIcount - 1) * 4;
  if (offset + raw.inodeSize + xattrSize > ctx.image.length) invalid(`${where}: xattrs run past the end of the image`, { nid });
  return { ...raw, xattrSize };
}

/** The bytes of an inode's data: blocks then an inline tail that may not cross a block. */
function inodeData(ctx: ReadContext, raw: RawInode, size: number): Uint8Array {
  const where = `inode nid ${raw.nid}`;
  const inline = raw.layout === DataLayout.flatInline;
  const tailSize = inline ? size % EROFS_BLKSIZ : 0;
  const blockBytes = size - tailSize;
  if (inline && tailSize === 0) invalid(`${where}: inline layout without an inline tail`, { nid: raw.nid });
  const out = new Uint8Array(size);
  if (blockBytes > 0) {
    ctx.dataBytesRead += blockBytes;
    if (ctx.dataBytesRead > ctx.image.length) invalid(`${where}: data blocks are shared between inodes`, { nid: raw.nid });
    const start = raw.iu * EROFS_BLKSIZ;
    // Block 0 holds the composefs header and superblock, never file data.
    if (start < EROFS_BLKSIZ || start + blockBytes > ctx.image.length)
      invalid(`${where}: data block ${raw.iu} is outside the image's data area`, { nid: raw.nid });
    out.set(ctx.image.subarray(start, start + blockBytes));
  }
  if (tailSize > 0) {
    chargeMetadata(ctx, raw, tailSize);
    const start = raw.offset + raw.inodeSize + raw.xattrSize;
    if (start + tailSize > ctx.image.length) invalid(`${where}: inline data runs past the end of the image`, { nid: raw.nid });
    if (Math.floor(start / EROFS_BLKSIZ) !== Math.floor((start + tailSize - 1) / EROFS_BLKSIZ)) {
      invalid(`${where}: inline data crosses a block boundary`, { nid: raw.nid });
    }
    out.set(ctx.image.subarray(start, start + tailSize), blockBytes);
  }
  return out;
}

function fullXattrName(index: number, suffix: Uint8Array, where: string): ByteString {
  if (index >= XATTR_PREFIXES.length) unsupported(`${where}: xattr name index ${index} (long prefixes are not used by composefs)`);
  const name = XATTR_PREFIXES[index]! + byteStringFromBytes(suffix);
  if (name.length === 0 || name.length > XATTR_NAME_MAX || name.includes('\0')) invalid(`${where}: invalid xattr name ${JSON.stringify(name)}`);
  return name;
}

/** One erofs_xattr_entry at `r`; returns its name and value (copied). */
function readXattrEntry(r: ByteReader, where: string): CfsXattr {
  const nameLen = r.u8(`${where} e_name_len`);
  const index = r.u8(`${where} e_name_index`);
  const valueSize = r.u16le(`${where} e_value_size`);
  const suffix = r.bytesView(nameLen, `${where} name`);
  const value = r.bytesView(valueSize, `${where} value`).slice();
  const padding = (4 - ((XATTR_ENTRY_HEADER_SIZE + nameLen + valueSize) % 4)) % 4;
  r.skip(Math.min(padding, r.remaining), `${where} padding`);
  return { name: fullXattrName(index, suffix, where), value };
}

function readXattrs(ctx: ReadContext, raw: RawInode): CfsXattr[] {
  if (raw.xattrSize === 0) return [];
  const where = `inode nid ${raw.nid} xattrs`;
  const start = raw.offset + raw.inodeSize;
  const r = new ByteReader(ctx.image, start, start + raw.xattrSize);
  r.skip(4, `${where} h_name_filter`);
  const sharedCount = r.u8(`${where} h_shared_count`);
  r.skip(7, `${where} h_reserved2`);
  const sharedIds: number[] = [];
  for (let i = 0; i < sharedCount; i++) sharedIds.push(r.u32le(`${where} h_shared_xattrs[${i}]`));
  const xattrs: CfsXattr[] = [];
  while (r.remaining > 0) xattrs.push(readXattrEntry(r, `${where} inline entry ${xattrs.length}`));
  for (const id of sharedIds) {
    const at = ctx.xattrStart + id * 4;
    if (at >= ctx.image.length) invalid(`${where}: shared xattr id ${id} is past the end of the image`, { nid: raw.nid });
    let shared = ctx.sharedXattrs.get(id);
    if (!shared) {
      shared = readXattrEntry(new ByteReader(ctx.image, at, ctx.image.length), `${where} shared xattr ${id}`);
      ctx.sharedXattrs.set(id, shared);
    }
    xattrs.push(shared);
  }
  return xattrs;
}

/** What the overlay xattrs say about a file once composefs' own xattrs are taken out. */
interface InterpretedXattrs {
  readonly xattrs: CfsXattr[];
  readonly redirect: ByteString | null;
  readonly digest: Uint8Array | null;
  readonly escapedWhiteout: boolean;
}

/**
 * lcfs_build_node_erofs_xattr: composefs' overlay xattrs become payload, digest and whiteout;
 * escaped trusted.overlay.overlay.* names return to trusted.overlay.*; other trusted.overlay.*
 * names (the root's opaque marker) belong to the image format and are dropped.
 */
function interpretXattrs(stored: CfsXattr[], isRegular: boolean, where: string): InterpretedXattrs {
  const xattrs: CfsXattr[] = [];
  let redirect: ByteString | null = null;
  let digest: Uint8Array | null = null;
  let escapedWhiteout = false;
  const seen = new Set<ByteString>();
  for (const x of stored) {
    if (seen.has(x.name)) invalid(`${where}: xattr ${x.name} appears twice`);
    seen.add(x.name);
    if (x.name === OVERLAY_REDIRECT) {
      if (isRegular) {
        const v = byteStringFromBytes(x.value);
        redirect = v.length > 1 && v.startsWith('/') ? v.slice(1) : v;
      }
      continue;
    }
    if (x.name === OVERLAY_METACOPY) {
      if (isRegular && x.value.length > 0) {
        const v = x.value;
        if (v.length !== 4 + DIGEST_SIZE || v[0] !== 0 || v[1] !== v.length || v[3] !== FS_VERITY_HASH_ALG_SHA256) {
          invalid(`${where}: malformed ${OVERLAY_METACOPY} xattr of ${v.length} bytes`);
        }
        digest = v.slice(4);
      }
      continue;
    }
    if (x.name === OVERLAY_ESCAPED_WHITEOUT && isRegular) {
      escapedWhiteout = true;
      continue;
    }
    if (x.name === OVERLAY_ESCAPED_WHITEOUTS || x.name === OVERLAY_USERXATTR_WHITEOUT || x.name === OVERLAY_USERXATTR_WHITEOUTS) continue;
    if (x.name.startsWith(OVERLAY_PREFIX)) {
      if (!x.name.startsWith(OVERLAY_ESCAPE_PREFIX)) continue;
      xattrs.push({ name: OVERLAY_PREFIX + x.name.slice(OVERLAY_ESCAPE_PREFIX.length), value: x.value });
      continue;
    }
    xattrs.push(x);
  }
  return { xattrs, redirect, digest, escapedWhiteout };
}

interface RawDirent {
  readonly nid: number;
  readonly name: ByteString;
  readonly fileType: number;
}

/** The dirents of one directory block (or the inline tail): entries first, then their names. */
function parseDirentBlock(block: Uint8Array, where: string): RawDirent[] {
  const r = new ByteReader(block);
  r.skip(8, `${where} first dirent nid`);
  const firstNameoff = r.u16le(`${where} first dirent nameoff`);
  if (firstNameoff === 0 || firstNameoff % EROFS_DIRENT_SIZE !== 0 || firstNameoff > block.length) {
    invalid(`${where}: first name offset ${firstNameoff} is not a whole number of dirents within the block`);
  }
  const count = firstNameoff / EROFS_DIRENT_SIZE;
  const heads: { nid: number; nameoff: number; fileType: number }[] = [];
  r.offset = 0;
  for (let i = 0; i < count; i++) {
    const nid = r.u64le(`${where} dirent ${i} nid`);
    const nameoff = r.u16le(`${where} dirent ${i} nameoff`);
    const fileType = r.u8(`${where} dirent ${i} file_type`);
    r.skip(1, `${where} dirent ${i} reserved`);
    if (nid > BigInt(Number.MAX_SAFE_INTEGER)) invalid(`${where}: dirent ${i} nid ${nid} out of range`);
    heads.push({ nid: Number(nid), nameoff, fileType });
  }
  const out: RawDirent[] = [];
  for (let i = 0; i < count; i++) {
    const start = heads[i]!.nameoff;
    let end: number;
    if (i + 1 < count) {
      end = heads[i + 1]!.nameoff;
    } else {
      // The last name runs to the first NUL (block padding) or the end of the block.
      const nul = block.indexOf(0, start);
      end = nul < 0 ? block.length : nul;
      if (block.subarray(end).some((b) => b !== 0)) invalid(`${where}: non-zero bytes after the last name`);
    }
    if (start < firstNameoff || end > block.length || end <= start)
      invalid(`${where}: dirent ${i} name offsets ${start}..${end} are out of order or out of the block`);
    if (end - start > EROFS_NAME_LEN) invalid(`${where}: dirent ${i} name of ${end - start} bytes exceeds ${EROFS_NAME_LEN}`);
    out.push({ nid: heads[i]!.nid, name: byteStringFromBytes(block.subarray(start, end)), fileType: heads[i]!.fileType });
  }
  return out;
}

/** Every entry of a directory inode in block order, checked to be in strict byte order. */
function readDirents(ctx: ReadContext, raw: RawInode): RawDirent[] {
  const where = `directory nid ${raw.nid}`;
  if (raw.layout === DataLayout.chunkBased) unsupported(`${where}: chunk-based directory`);
  if (raw.size > BigInt(ctx.image.length)) invalid(`${where}: size ${raw.size} exceeds the image`, { nid: raw.nid });
  const data = inodeData(ctx, raw, Number(raw.size));
  const entries: RawDirent[] = [];
  for (let off = 0; off < data.length; off += EROFS_BLKSIZ) {
    const block = data.subarray(off, Math.min(off + EROFS_BLKSIZ, data.length));
    for (const e of parseDirentBlock(block, `${where} block ${off / EROFS_BLKSIZ}`)) {
      const prev = entries[entries.length - 1];
      // EROFS looks names up by binary search: entries out of order would be unreachable.
      if (prev && !(prev.name < e.name)) invalid(`${where}: entry ${JSON.stringify(e.name)} is not after ${JSON.stringify(prev.name)}`, { nid: raw.nid });
      entries.push(e);
    }
  }
  return entries;
}

interface NodeFrame {
  readonly node: CfsNode;
  readonly nid: number;
  readonly parentNid: number;
  readonly entries: RawDirent[];
  next: number;
}

/**
 * Reads an image into a composefs tree: the tree mkcomposefs was given, as far as the image
 * keeps it (the C reader's semantics: whiteout stubs and composefs' own xattrs removed, escaped
 * names restored, xattrs in the order the C reader lists them: inline entries, then shared ones).
 *
 * @example
 *   const tree = readImage(await readFile('image.cfs'));
 *   printDump(tree); // composefs-info dump
 *
 * Throws ErofsError (ERR_COMPOSEFS_IMAGE_INVALID / _UNSUPPORTED) or BytesError on malformed
 * input; never reads outside `image`.
 */
export function readImage(image: Uint8Array): CfsNode {
  const info = readImageInfo(image);
  const ctx: ReadContext = {
    image,
    info,
    metaStart: info.metaBlkaddr * EROFS_BLKSIZ,
    xattrStart: info.xattrBlkaddr * EROFS_BLKSIZ,
    sharedXattrs: new Map(),
    metadataBytesRead: 0,
    dataBytesRead: 0,
  };
  try {
    return buildTree(ctx);
  } catch (e) {
    // The tree model rejects what no composefs tree may hold (bad names, sizes, xattr budgets);
    // coming from an image that is a malformed image.
    if (isVouchError(e) && e.code === 'ERR_COMPOSEFS_TREE_INVALID') invalid(e.message, { cause: e.code });
    throw e;
  }
}

function buildTree(ctx: ReadContext): CfsNode {
  const rootRaw = parseRawInode(ctx, ctx.info.rootNid);
  if ((rootRaw.mode & S_IFMT) !== S_IFDIR) invalid(`root nid ${ctx.info.rootNid} is not a directory`);
  const root = createRoot(toInode(ctx, rootRaw, 'root directory'));
  const seen = new Map<number, CfsNode>([[rootRaw.nid, root]]);
  const stack: NodeFrame[] = [{ node: root, nid: rootRaw.nid, parentNid: rootRaw.nid, entries: readDirents(ctx, rootRaw), next: 0 }];
  checkDotEntries(stack[0]!);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.entries.length) {
      stack.pop();
      continue;
    }
    const e = frame.entries[frame.next++]!;
    if (e.name === '.' || e.name === '..') continue;
    const existing = seen.get(e.nid);
    if (existing) {
      if (existing.children !== null) invalid(`directory nid ${e.nid} is reached twice (a directory hardlink or a loop)`, { nid: e.nid });
      if (direntFileType(existing.inode.mode) !== e.fileType && !isRestoredWhiteout(existing))
        invalid(`nid ${frame.nid} entry ${JSON.stringify(e.name)}: file type ${e.fileType} does not match its inode`);
      addHardlink(frame.node, e.name, existing);
      continue;
    }
    const raw = parseRawInode(ctx, e.nid);
    if (direntFileType(raw.mode) !== e.fileType)
      invalid(`nid ${frame.nid} entry ${JSON.stringify(e.name)}: file type ${e.fileType} does not match its inode mode ${raw.mode.toString(8)}`);
    if ((raw.mode & S_IFMT) === S_IFCHR && raw.iu === 0) {
      // A real whiteout: the root's "00".."ff" stubs (or any other); a hardlinked whiteout makes no sense.
      if (raw.nlink > 1) invalid(`whiteout nid ${e.nid} has ${raw.nlink} links`, { nid: e.nid });
      continue;
    }
    const node = addChild(frame.node, e.name, toInode(ctx, raw, `entry ${JSON.stringify(e.name)} of directory nid ${frame.nid}`));
    seen.set(e.nid, node);
    if (node.children !== null) {
      const child: NodeFrame = { node, nid: e.nid, parentNid: frame.nid, entries: readDirents(ctx, raw), next: 0 };
      checkDotEntries(child);
      stack.push(child);
    }
  }
  return root;
}

/** An escaped whiteout: a regular file in the image (its dirent says so), a whiteout in the tree. */
function isRestoredWhiteout(node: CfsNode): boolean {
  return (node.inode.mode & S_IFMT) === S_IFCHR && node.inode.rdev === 0;
}

/** Every EROFS directory names itself '.' and its parent '..' (the root is its own parent). */
function checkDotEntries(frame: NodeFrame): void {
  const dot = frame.entries.find((e) => e.name === '.');
  const dotdot = frame.entries.find((e) => e.name === '..');
  if (!dot || dot.nid !== frame.nid || !dotdot || dotdot.nid !== frame.parentNid) {
    invalid(`directory nid ${frame.nid}: '.' and '..' entries missing or pointing elsewhere`, { nid: frame.nid });
  }
}

function toInode(ctx: ReadContext, raw: RawInode, entry: string): CfsInode {
  const where = `${entry} (nid ${raw.nid})`;
  const type = raw.mode & S_IFMT;
  chargeMetadata(ctx, raw, raw.inodeSize + raw.xattrSize);
  if (direntFileType(raw.mode) === undefined) invalid(`${where}: invalid mode ${raw.mode.toString(8)}`, { nid: raw.nid });
  if (type !== S_IFREG && raw.layout === DataLayout.chunkBased) unsupported(`${where}: chunk-based layout on a non-regular file`);
  const meaning = interpretXattrs(readXattrs(ctx, raw), type === S_IFREG, where);
  const fields: Partial<CfsInode> & { mode: number } = {
    mode: raw.mode,
    nlink: raw.nlink,
    uid: raw.uid,
    gid: raw.gid,
    mtimeSec: raw.mtimeSec,
    mtimeNsec: raw.mtimeNsec,
    // As the C reader: i_size as stored (for a directory, the bytes of its dirents).
    size: raw.size,
    xattrs: meaning.xattrs,
  };
  if (type === S_IFREG) {
    fields.payload = meaning.redirect;
    fields.fsverityDigest = meaning.digest;
  }
  switch (type) {
    case S_IFCHR:
    case S_IFBLK:
      fields.rdev = raw.iu;
      break;
    case S_IFLNK: {
      if (raw.size === 0n || raw.size >= BigInt(PATH_MAX))
        invalid(`${where}: symlink target of ${raw.size} bytes (must be 1..${PATH_MAX - 1})`, { nid: raw.nid });
      const target = inodeData(ctx, raw, Number(raw.size));
      if (target.includes(0)) invalid(`${where}: symlink target contains NUL`, { nid: raw.nid });
      fields.payload = byteStringFromBytes(target);
      break;
    }
    case S_IFREG:
      if (meaning.escapedWhiteout) {
        // The writer stored this overlay whiteout as an escaped empty file; give it back.
        fields.mode = ((raw.mode & ~S_IFMT) | S_IFCHR) >>> 0;
        fields.rdev = 0;
        fields.size = 0n;
        break;
      }
      if (raw.size === 0n) break;
      if (raw.layout === DataLayout.chunkBased) {
        // The chunk map holds only holes: the content lives in the object store, found through
        // the redirect and pinned by the metacopy digest.
        if ((raw.iu & 0xffff & ~EROFS_CHUNK_FORMAT_BLKBITS_MASK) !== 0)
          unsupported(`${where}: chunk format 0x${(raw.iu & 0xffff).toString(16)} (chunk indexes)`);
      } else {
        if (raw.size > BigInt(INLINE_CONTENT_MAX)) invalid(`${where}: inline file of ${raw.size} bytes exceeds ${INLINE_CONTENT_MAX}`, { nid: raw.nid });
        fields.content = inodeData(ctx, raw, Number(raw.size));
      }
      break;
  }
  return createInode(fields);
}
