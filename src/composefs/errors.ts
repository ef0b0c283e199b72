import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const ComposefsErrorCode = defineErrorCodes('composefs', {
  ERR_COMPOSEFS_DUMP_PARSE: 'A composefs dump line is malformed or breaks a composefs rule; the message names the line and the reason.',
  ERR_COMPOSEFS_TREE_INVALID: 'A file tree cannot be represented in composefs (bad mode, name, path, link target, xattr or size limit).',
  ERR_COMPOSEFS_FSVERITY_PARAMS:
    'fs-verity parameters are out of range: hash must be sha256 or sha512, block size a power of two in 512..65536, salt at most 32 bytes.',
  ERR_COMPOSEFS_STORE_INVALID: 'The object store holds something that is not a valid object (bad name or a digest that does not match its content).',
  ERR_COMPOSEFS_STORE_BUSY:
    'gc and a writer would overlap on one object store: gc refuses while a build or add holds the store, and a build or add refuses while gc runs; retry when the other has finished.',
  ERR_COMPOSEFS_STORE_SYNC:
    "Making new objects durable failed (syncfs through coreutils' sync -f, which must be installed); they were not put under their names, so no image can reference them.",
  ERR_COMPOSEFS_OBJECT_MISSING: 'An object referenced by an image or tree is not in the object store.',
  ERR_COMPOSEFS_FILE_CHANGED: 'A file changed (size or identity) while it was being hashed or copied; build or hash again once nothing writes to it.',
  ERR_COMPOSEFS_SOURCE_UNSUPPORTED: 'A source tree holds something composefs cannot represent or that cannot be read (unknown file type, unreadable entry).',
  ERR_COMPOSEFS_TAR_INVALID: 'A tar layer stream is malformed: bad header checksum, truncated member, bad PAX record or unsafe path.',
  ERR_COMPOSEFS_OCI_INVALID: 'An OCI image layout is malformed or unsupported: missing index or manifest, bad digest, unknown layer media type.',
});

export type ComposefsErrorCodeName = keyof typeof ComposefsErrorCode;

export class ComposefsError extends VouchError {
  constructor(code: ComposefsErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
