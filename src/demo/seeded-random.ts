// Reproducible randomness for the demo: every nonce, credential secret and file content comes
// from HMAC-SHA256(seed, label ‖ counter), so `vouch demo --seed S` prints the same fleet every
// time while different labels (node names, purposes) never share a stream.
// Never used where secrecy matters: a demo seed is printed on the screen.
import { createHmac } from 'node:crypto';
import type { RandomSource } from '../tpm/crypto/index.ts';

/** A deterministic byte stream for one purpose (`label`) under the demo seed. */
export function seededRandom(seed: string, label: string): RandomSource {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let filled = 0; filled < length; counter++) {
      const block = createHmac('sha256', seed).update(`${label}\0${counter}`).digest();
      out.set(block.subarray(0, Math.min(block.length, length - filled)), filled);
      filled += block.length;
    }
    return out;
  };
}

/** Release contents do not depend on the demo seed: a release has the same digests on every run. */
const RELEASE_CONTENT_SEED = 'vouch-demo-releases';

/** Generated content of a release artifact (a binary, a kernel), the same on every run. */
export function releaseContent(label: string, size: number): Uint8Array {
  return seededRandom(RELEASE_CONTENT_SEED, label)(size);
}
