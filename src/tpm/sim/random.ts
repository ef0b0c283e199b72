/**
 * The software TPM's randomness. Unseeded, it is the operating system's CSPRNG. Seeded (tests,
 * fleet simulation), it is an HMAC-SHA-256 counter stream (SP 800-108 style), so the same seed
 * and the same command sequence give the same nonces, seeds and keys, byte for byte.
 */
import { createHmac } from 'node:crypto';
import { utf8 } from '../../bytes/index.ts';
import type { RandomSource } from '../crypto/index.ts';

/** A deterministic byte stream keyed by `key` and separated by `label`. */
export function keyedStream(key: Uint8Array, label: string): RandomSource {
  let counter = 0;
  let pool = new Uint8Array(0);
  const tag = utf8(label);
  return (n) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) {
        const ctr = new Uint8Array(4);
        new DataView(ctr.buffer).setUint32(0, ++counter);
        pool = new Uint8Array(createHmac('sha256', key).update(ctr).update(tag).digest());
      }
      const take = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return out;
  };
}

/** Derives a sub-key for one purpose from a seed: HMAC-SHA-256(seed, purpose). */
export function deriveKey(seed: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', seed).update(utf8(purpose)).digest());
}
