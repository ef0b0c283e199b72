// xxHash32 (Yann Collet's algorithm, as in the Linux kernel's lib/xxhash.c). EROFS uses it for
// the per-inode xattr name bloom filter (EROFS_FEATURE_COMPAT_XATTR_FILTER), so the writer must
// produce exactly the kernel's bits or lookups of present xattrs would be skipped.

const PRIME32_1 = 2654435761;
const PRIME32_2 = 2246822519;
const PRIME32_3 = 3266489917;
const PRIME32_4 = 668265263;
const PRIME32_5 = 374761393;

function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function round(acc: number, input: number): number {
  acc = (acc + Math.imul(input, PRIME32_2)) >>> 0;
  acc = rotl32(acc, 13);
  return Math.imul(acc, PRIME32_1) >>> 0;
}

function le32(p: Uint8Array, i: number): number {
  return (p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24)) >>> 0;
}

/** xxh32(input, seed) as an unsigned 32-bit number. */
export function xxh32(input: Uint8Array, seed: number): number {
  const len = input.length;
  let p = 0;
  let h32: number;
  if (len >= 16) {
    const limit = len - 16;
    let v1 = (seed + PRIME32_1 + PRIME32_2) >>> 0;
    let v2 = (seed + PRIME32_2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - PRIME32_1) >>> 0;
    do {
      v1 = round(v1, le32(input, p));
      v2 = round(v2, le32(input, p + 4));
      v3 = round(v3, le32(input, p + 8));
      v4 = round(v4, le32(input, p + 12));
      p += 16;
    } while (p <= limit);
    h32 = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) >>> 0;
  } else {
    h32 = (seed + PRIME32_5) >>> 0;
  }
  h32 = (h32 + len) >>> 0;
  while (p + 4 <= len) {
    h32 = (h32 + Math.imul(le32(input, p), PRIME32_3)) >>> 0;
    h32 = Math.imul(rotl32(h32, 17), PRIME32_4) >>> 0;
    p += 4;
  }
  while (p < len) {
    h32 = (h32 + Math.imul(input[p]!, PRIME32_5)) >>> 0;
    h32 = Math.imul(rotl32(h32, 11), PRIME32_1) >>> 0;
    p++;
  }
  h32 = (h32 ^ (h32 >>> 15)) >>> 0;
  h32 = Math.imul(h32, PRIME32_2) >>> 0;
  h32 = (h32 ^ (h32 >>> 13)) >>> 0;
  h32 = Math.imul(h32, PRIME32_3) >>> 0;
  h32 = (h32 ^ (h32 >>> 16)) >>> 0;
  return h32;
}
