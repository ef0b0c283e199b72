import { ComposefsError } from '../errors.ts';

/** Hash algorithms of the Linux fs-verity descriptor (FS_VERITY_HASH_ALG_*). */
export const FsVerityHash = {
  sha256: { id: 1, digestSize: 32, hashBlockSize: 64 },
  sha512: { id: 2, digestSize: 64, hashBlockSize: 128 },
} as const;
export type FsVerityHashName = keyof typeof FsVerityHash;

export interface FsVerityParams {
  readonly hash: FsVerityHashName;
  /** Merkle tree block size: a power of two, 512..65536 (the kernel needs ≤ page size to enable it). */
  readonly blockSize: number;
  /** At most 32 bytes; empty means no salt. */
  readonly salt: Uint8Array;
}

/** What composefs and `fsverity digest` use unless told otherwise. */
export const defaultFsVerityParams: FsVerityParams = { hash: 'sha256', blockSize: 4096, salt: new Uint8Array(0) };

export const FsVerityLimits = { minBlockSize: 512, maxBlockSize: 65536, maxSaltSize: 32 } as const;

/** Fills in defaults and checks ranges; throws ERR_COMPOSEFS_FSVERITY_PARAMS. */
export function fsverityParams(p: Partial<FsVerityParams> = {}): FsVerityParams {
  const hash = p.hash ?? defaultFsVerityParams.hash;
  const blockSize = p.blockSize ?? defaultFsVerityParams.blockSize;
  const salt = p.salt ?? defaultFsVerityParams.salt;
  if (!Object.hasOwn(FsVerityHash, hash)) {
    throw new ComposefsError('ERR_COMPOSEFS_FSVERITY_PARAMS', `unknown fs-verity hash ${JSON.stringify(hash)}: expected sha256 or sha512`);
  }
  if (
    !Number.isInteger(blockSize) ||
    blockSize < FsVerityLimits.minBlockSize ||
    blockSize > FsVerityLimits.maxBlockSize ||
    (blockSize & (blockSize - 1)) !== 0
  ) {
    throw new ComposefsError(
      'ERR_COMPOSEFS_FSVERITY_PARAMS',
      `fs-verity block size ${blockSize}: expected a power of two in ${FsVerityLimits.minBlockSize}..${FsVerityLimits.maxBlockSize}`,
    );
  }
  if (salt.length > FsVerityLimits.maxSaltSize) {
    throw new ComposefsError('ERR_COMPOSEFS_FSVERITY_PARAMS', `fs-verity salt of ${salt.length} bytes: at most ${FsVerityLimits.maxSaltSize}`);
  }
  return { hash, blockSize, salt };
}
