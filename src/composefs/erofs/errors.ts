import { VouchError, defineErrorCodes, type ErrorDetails } from '../../errors/index.ts';

export const ErofsErrorCode = defineErrorCodes('composefs', {
  ERR_COMPOSEFS_IMAGE_INVALID:
    'A composefs EROFS image is malformed: bad magic, a field or offset out of range, a loop, or trailing data; the message names the inode (nid) and field.',
  ERR_COMPOSEFS_IMAGE_UNSUPPORTED:
    'A composefs EROFS image uses a feature composefs never writes (another block size, compression, unknown header version or xattr prefix).',
  ERR_COMPOSEFS_IMAGE_UNWRITABLE:
    'A tree breaks a limit of the composefs EROFS format (file too large for its chunk map, too many xattrs, inline data over a block, too many inodes before the root).',
  ERR_COMPOSEFS_IMAGE_VERSION: 'A requested composefs format version is not 0 or 1 (the versions mkcomposefs knows).',
});

export type ErofsErrorCodeName = keyof typeof ErofsErrorCode;

export class ErofsError extends VouchError {
  constructor(code: ErofsErrorCodeName, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/** Throws ERR_COMPOSEFS_IMAGE_UNWRITABLE for the inode at `path`. */
export function unwritable(message: string, path: string): never {
  throw new ErofsError('ERR_COMPOSEFS_IMAGE_UNWRITABLE', `${path}: ${message}`, { path });
}
