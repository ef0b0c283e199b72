/**
 * The fs-verity file digest (Linux Documentation/filesystems/fsverity.rst, "File digest
 * computation"; fsverity-utils lib/compute_digest.c): data is split into blocks, each block
 * (zero-padded) hashed with the salt prepended, the hashes packed into blocks of the next
 * level, until one block remains; the digest is the hash of the 256-byte fsverity_descriptor
 * holding that root hash. Streaming: memory is one block per tree level, whatever the file size.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { FsVerityHash, type FsVerityParams, fsverityParams } from './params.ts';

interface Level {
  readonly block: Uint8Array;
  fill: number;
  /** Hashes ever pushed into this level. */
  count: number;
}

/** sizeof(struct fsverity_descriptor). */
const descriptorSize = 256;

/**
 * Hashes blocks with the salt prepended. The salt is zero-padded to the hash's own block size
 * (fsverity-utils: "salt is padded to a multiple of the hash block size"), so it costs one
 * compression per block and can be precomputed once.
 */
export class BlockHasher {
  readonly params: FsVerityParams;
  readonly digestSize: number;
  private readonly saltedPrefix: ReturnType<typeof createHash> | null;

  constructor(params: FsVerityParams) {
    this.params = params;
    const alg = FsVerityHash[params.hash];
    this.digestSize = alg.digestSize;
    if (params.salt.length > 0) {
      const padded = new Uint8Array(Math.ceil(params.salt.length / alg.hashBlockSize) * alg.hashBlockSize);
      padded.set(params.salt);
      this.saltedPrefix = createHash(params.hash).update(padded);
    } else {
      this.saltedPrefix = null;
    }
  }

  /** The hash of one full block (the caller zero-pads a short last block). */
  hashBlock(block: Uint8Array): Uint8Array {
    if (this.saltedPrefix) return this.saltedPrefix.copy().update(block).digest();
    return oneShotHash(this.params.hash, block, 'buffer');
  }

  /**
   * Hashes of consecutive data blocks of `data`, concatenated; a short tail is zero-padded
   * (only the file's last block may be short). This is the bulk of the work, and what worker
   * threads do in parallel over disjoint ranges.
   */
  hashDataBlocks(data: Uint8Array): Uint8Array {
    const bs = this.params.blockSize;
    const n = Math.ceil(data.length / bs);
    const out = new Uint8Array(n * this.digestSize);
    for (let i = 0; i < n; i++) {
      let block = data.subarray(i * bs, (i + 1) * bs);
      if (block.length < bs) {
        const padded = new Uint8Array(bs);
        padded.set(block);
        block = padded;
      }
      out.set(this.hashBlock(block), i * this.digestSize);
    }
    return out;
  }
}

/**
 * Streaming fs-verity digest. Feed data with `update` (any chunk sizes), or precomputed data
 * block hashes with `updateBlockHashes` (from `BlockHasher.hashDataBlocks` over block-aligned
 * ranges, in file order); then `digest()` once.
 *
 * @example
 *   const h = new FsVerityHasher(); h.update(bytes); const d = h.digest(); // sha256, 4096, no salt
 */
export class FsVerityHasher {
  readonly params: FsVerityParams;
  private readonly blocks: BlockHasher;
  private readonly pending: Uint8Array;
  private pendingFill = 0;
  private dataSize = 0n;
  private readonly levels: Level[] = [];
  private finished = false;

  constructor(params: Partial<FsVerityParams> = {}) {
    this.params = fsverityParams(params);
    this.blocks = new BlockHasher(this.params);
    this.pending = new Uint8Array(this.params.blockSize);
  }

  get blockHasher(): BlockHasher {
    return this.blocks;
  }

  private pushHash(levelIndex: number, digest: Uint8Array): void {
    let level = this.levels[levelIndex];
    if (!level) {
      level = { block: new Uint8Array(this.params.blockSize), fill: 0, count: 0 };
      this.levels[levelIndex] = level;
    }
    level.block.set(digest, level.fill);
    level.fill += digest.length;
    level.count++;
    if (level.fill + digest.length > level.block.length) this.flushLevel(levelIndex);
  }

  /** Hashes a level's block (zero-padded past `fill`) into the level above. */
  private flushLevel(levelIndex: number): void {
    const level = this.levels[levelIndex]!;
    level.block.fill(0, level.fill);
    const digest = this.blocks.hashBlock(level.block);
    level.fill = 0;
    this.pushHash(levelIndex + 1, digest);
  }

  update(data: Uint8Array): this {
    this.assertOpen();
    const bs = this.params.blockSize;
    this.dataSize += BigInt(data.length);
    let offset = 0;
    if (this.pendingFill > 0) {
      const take = Math.min(bs - this.pendingFill, data.length);
      this.pending.set(data.subarray(0, take), this.pendingFill);
      this.pendingFill += take;
      offset = take;
      if (this.pendingFill < bs) return this;
      this.pushHash(0, this.blocks.hashBlock(this.pending));
      this.pendingFill = 0;
    }
    for (; offset + bs <= data.length; offset += bs) this.pushHash(0, this.blocks.hashBlock(data.subarray(offset, offset + bs)));
    if (offset < data.length) {
      this.pending.set(data.subarray(offset));
      this.pendingFill = data.length - offset;
    }
    return this;
  }

  /**
   * Adds the hashes of `dataBytes` bytes of file data hashed elsewhere. Everything fed so far must
   * end on a block boundary (only the file's final range may end mid-block).
   */
  updateBlockHashes(hashes: Uint8Array, dataBytes: number): this {
    this.assertOpen();
    if (this.pendingFill !== 0 || this.dataSize % BigInt(this.params.blockSize) !== 0n) {
      throw new RangeError('updateBlockHashes: data fed so far does not end on a block boundary');
    }
    const ds = this.blocks.digestSize;
    if (hashes.length !== Math.ceil(dataBytes / this.params.blockSize) * ds) {
      throw new RangeError(`updateBlockHashes: ${hashes.length} hash bytes do not cover ${dataBytes} data bytes`);
    }
    for (let o = 0; o < hashes.length; o += ds) this.pushHash(0, hashes.subarray(o, o + ds));
    this.dataSize += BigInt(dataBytes);
    return this;
  }

  /** The Merkle tree root (all zeros for an empty file). */
  private rootHash(): Uint8Array {
    if (this.pendingFill > 0) {
      this.pending.fill(0, this.pendingFill);
      this.pushHash(0, this.blocks.hashBlock(this.pending));
      this.pendingFill = 0;
    }
    if (this.dataSize === 0n) return new Uint8Array(this.blocks.digestSize);
    for (let i = 0; ; i++) {
      const level = this.levels[i]!;
      // One hash in a level means nothing was ever flushed above it: it is the root.
      if (level.count === 1) return level.block.slice(0, this.blocks.digestSize);
      if (level.fill > 0) this.flushLevel(i);
    }
  }

  /** The fs-verity file digest; the hasher cannot be used afterwards. */
  digest(): Uint8Array {
    this.assertOpen();
    const root = this.rootHash();
    this.finished = true;
    return fsverityDescriptorDigest(this.params, this.dataSize, root);
  }

  private assertOpen(): void {
    if (this.finished) throw new Error('FsVerityHasher: digest() was already called');
  }
}

/** H(fsverity_descriptor): version 1, algorithm, log2(block size), salt, size, root hash. */
export function fsverityDescriptorDigest(params: FsVerityParams, dataSize: bigint, rootHash: Uint8Array): Uint8Array {
  const d = new Uint8Array(descriptorSize);
  const view = new DataView(d.buffer);
  d[0] = 1;
  d[1] = FsVerityHash[params.hash].id;
  d[2] = Math.log2(params.blockSize);
  d[3] = params.salt.length;
  // bytes 4..7: sig_size, always 0 in the digest
  view.setBigUint64(8, dataSize, true);
  d.set(rootHash, 16);
  d.set(params.salt, 16 + 64);
  return oneShotHash(params.hash, d, 'buffer');
}

/** The fs-verity digest of bytes in memory. */
export function fsverityDigest(data: Uint8Array, params: Partial<FsVerityParams> = {}): Uint8Array {
  return new FsVerityHasher(params).update(data).digest();
}

/**
 * The composefs image digest: fs-verity SHA-256 (4096-byte blocks, no salt) of the EROFS image,
 * the value `composefs=<hex>` on the kernel command line carries and the measured boot binds.
 */
export function composefsDigest(image: Uint8Array): Uint8Array {
  return fsverityDigest(image);
}

/**
 * The kernel command-line argument that pins a composefs root: `composefs=<hex digest>`. The
 * initramfs mounts the image only if its fs-verity digest matches, and the command line is
 * measured (PCR 11 for a UKI, PCR 8 via GRUB, PCR 12 for systemd-stub extras), so a quote
 * binds the whole tree.
 */
export function composefsKernelArgument(imageDigest: Uint8Array): string {
  return `composefs=${Buffer.from(imageDigest).toString('hex')}`;
}
