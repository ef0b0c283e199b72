// The one table of hash algorithms: TCG algorithm ids (TPM 2.0 Part 2 §6.3, TPM_ALG_ID), the bank
// names event logs, reference values and tpm2-tools use, digest sizes and node:crypto names. The
// TPM layer, the event log, prediction and the verifier all read it, so a bank can never have two
// sizes or two names.
import { createHash, hash } from 'node:crypto';

export const HashAlgorithm = {
  sha1: { id: 0x0004, size: 20, nodeName: 'sha1' },
  sha256: { id: 0x000b, size: 32, nodeName: 'sha256' },
  sha384: { id: 0x000c, size: 48, nodeName: 'sha384' },
  sha512: { id: 0x000d, size: 64, nodeName: 'sha512' },
  sm3_256: { id: 0x0012, size: 32, nodeName: 'sm3' },
  sha3_256: { id: 0x0027, size: 32, nodeName: 'sha3-256' },
  sha3_384: { id: 0x0028, size: 48, nodeName: 'sha3-384' },
  sha3_512: { id: 0x0029, size: 64, nodeName: 'sha3-512' },
} as const;
export type HashAlgorithmName = keyof typeof HashAlgorithm;

const namesById = new Map<number, HashAlgorithmName>(Object.entries(HashAlgorithm).map(([name, a]) => [a.id, name as HashAlgorithmName]));

export function hashAlgorithmById(id: number): HashAlgorithmName | undefined {
  return namesById.get(id);
}

export function isHashAlgorithmName(name: string): name is HashAlgorithmName {
  return Object.hasOwn(HashAlgorithm, name);
}

/**
 * H(parts…) in the named algorithm. One part goes through node's one-shot `crypto.hash`, which
 * costs a fraction of a Hash object per call (replaying a hostile log hashes tens of thousands).
 */
export function hashBytes(alg: HashAlgorithmName, ...parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) {
    const digest = hash(HashAlgorithm[alg].nodeName, parts[0]!, 'buffer');
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
  }
  const h = createHash(HashAlgorithm[alg].nodeName);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
