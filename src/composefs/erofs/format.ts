// On-disk constants of a composefs EROFS image. Field layouts follow the Linux EROFS on-disk
// format (include/uapi erofs_fs.h, "EROFS core on-disk format") and the composefs header
// (libcomposefs lcfs-erofs.h). Every multi-byte field is little-endian.

/** composefs header at offset 0 (struct lcfs_erofs_header_s): magic, version, flags, composefs_version, 4 unused u32. */
export const COMPOSEFS_MAGIC = 0xd078629a;
/** The header layout version; composefs format versions 0 and 1 both use header version 1. */
export const COMPOSEFS_HEADER_VERSION = 1;
export const COMPOSEFS_HEADER_SIZE = 32;
/** Header flag: some inode carries a POSIX ACL xattr (the kernel then mounts with ACL support). */
export const COMPOSEFS_FLAG_HAS_ACL = 1;
/** Highest composefs format version this writer and reader know (LCFS_VERSION_MAX). */
export const COMPOSEFS_VERSION_MAX = 1;

export const EROFS_SUPER_OFFSET = 1024;
export const EROFS_SUPER_SIZE = 128;
export const EROFS_SUPER_MAGIC_V1 = 0xe0f5e1e2;
export const EROFS_FEATURE_COMPAT_MTIME = 0x2;
export const EROFS_FEATURE_COMPAT_XATTR_FILTER = 0x4;

export const EROFS_BLKSIZ_BITS = 12;
export const EROFS_BLKSIZ = 1 << EROFS_BLKSIZ_BITS;
/** Inodes sit on 32-byte slots; a nid counts slots from the metadata start. */
export const EROFS_SLOTSIZE = 32;

export const EROFS_INODE_COMPACT_SIZE = 32;
export const EROFS_INODE_EXTENDED_SIZE = 64;
/** i_format: bit 0 = version (0 compact, 1 extended), bits 1..3 = data layout. */
export const EROFS_I_VERSION_BIT = 0;
export const EROFS_I_DATALAYOUT_BIT = 1;
export const EROFS_I_DATALAYOUT_MASK = 0x7;
export const EROFS_I_ALL = 0xf;

export const DataLayout = {
  flatPlain: 0,
  compressedFull: 1,
  flatInline: 2,
  compressedCompact: 3,
  chunkBased: 4,
} as const;

/** Chunk format of a chunk-based inode: low 5 bits = chunk size bits beyond the block size. */
export const EROFS_CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
/** Block-map entry meaning "hole": composefs regular files keep no data in the image. */
export const EROFS_NULL_ADDR = 0xffffffff;
/** composefs keeps a file's chunk map within one block (LCFS_MAX_NONINLINE_CHUNKS). */
export const MAX_NONINLINE_CHUNKS = 1024;

export const EROFS_DIRENT_SIZE = 12;
export const EROFS_NAME_LEN = 255;

/** EROFS_FT_*: the file type byte of a directory entry. */
export const DirentFileType = {
  unknown: 0,
  regular: 1,
  directory: 2,
  chardev: 3,
  blockdev: 4,
  fifo: 5,
  socket: 6,
  symlink: 7,
} as const;

export const XATTR_IBODY_HEADER_SIZE = 12;
export const XATTR_ENTRY_HEADER_SIZE = 4;
/** Shared-xattr references per inode stay below this (EROFS_XATTR_LONG_PREFIX), as mkcomposefs does. */
export const MAX_SHARED_XATTRS_PER_INODE = 0x80;
export const EROFS_XATTR_FILTER_BITS = 32;
export const EROFS_XATTR_FILTER_SEED = 0x25bbe08f;

/**
 * Short xattr name prefixes by e_name_index. The writer uses only user, the two POSIX ACL
 * names, trusted and security (as mkcomposefs); the reader also accepts lustre (index 5).
 */
export const XATTR_PREFIXES: readonly string[] = ['', 'user.', 'system.posix_acl_access', 'system.posix_acl_default', 'trusted.', 'lustre.', 'security.'];
export const WRITER_XATTR_PREFIX_INDEXES: readonly number[] = [1, 2, 3, 4, 6];

// File types (st_mode & S_IFMT).
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** PATH_MAX: symlink targets and backing paths are shorter than this. */
export const PATH_MAX = 4096;
/** Largest inline file content mkcomposefs accepts (LCFS_INLINE_CONTENT_MAX). */
export const INLINE_CONTENT_MAX = 5000;
/** Accounting limit on one inode's xattrs taken from external input (LCFS_INODE_EXTERNAL_XATTR_MAX). */
export const INODE_EXTERNAL_XATTR_MAX = 0x7fff;
export const XATTR_NAME_MAX = 255;

// Overlayfs xattrs composefs writes so that the image, mounted as the lower layer of an
// overlay with a data-only layer (the object store), resolves every file to its object.
export const OVERLAY_PREFIX = 'trusted.overlay.';
export const OVERLAY_ESCAPE_PREFIX = 'trusted.overlay.overlay.';
export const OVERLAY_METACOPY = 'trusted.overlay.metacopy';
export const OVERLAY_REDIRECT = 'trusted.overlay.redirect';
export const OVERLAY_OPAQUE = 'trusted.overlay.opaque';
export const OVERLAY_ESCAPED_WHITEOUT = 'trusted.overlay.overlay.whiteout';
export const OVERLAY_ESCAPED_WHITEOUTS = 'trusted.overlay.overlay.whiteouts';
export const OVERLAY_ESCAPED_OPAQUE = 'trusted.overlay.overlay.opaque';
export const OVERLAY_USERXATTR_WHITEOUT = 'user.overlay.whiteout';
export const OVERLAY_USERXATTR_WHITEOUTS = 'user.overlay.whiteouts';
export const OVERLAY_USERXATTR_OPAQUE = 'user.overlay.opaque';
/** fs-verity hash algorithm number in the metacopy xattr (FS_VERITY_HASH_ALG_SHA256). */
export const FS_VERITY_HASH_ALG_SHA256 = 1;
export const DIGEST_SIZE = 32;

/** The EROFS_FT_* byte for a mode's file type, or undefined for a type EROFS cannot hold. */
export function direntFileType(mode: number): number | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return DirentFileType.regular;
    case S_IFDIR:
      return DirentFileType.directory;
    case S_IFCHR:
      return DirentFileType.chardev;
    case S_IFBLK:
      return DirentFileType.blockdev;
    case S_IFIFO:
      return DirentFileType.fifo;
    case S_IFSOCK:
      return DirentFileType.socket;
    case S_IFLNK:
      return DirentFileType.symlink;
    default:
      return undefined;
  }
}
