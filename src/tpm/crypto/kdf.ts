/**
 * The TPM's key derivation functions (TPM 2.0 Library Part 1, 11.4.10).
 *
 * KDFa (SP800-108 counter mode with HMAC) derives session keys ("ATH"), parameter-encryption
 * keys ("CFB"), and the symmetric and HMAC keys that protect credentials and private areas
 * ("STORAGE", "INTEGRITY"). KDFe (SP800-56A concatenation KDF) turns an ECDH shared secret into
 * a seed or salt ("IDENTITY", "SECRET", "DUPLICATE").
 */
import { createHash, createHmac } from 'node:crypto';
import { ByteWriter, utf8 } from '../../bytes/index.ts';
import { HASH_NODE_NAME, HASH_SIZE, algName } from '../constants.ts';
import { TpmCryptoError } from './errors.ts';

/** Derived keys are at most this long: enough for AES-256 key + IV, or a SHA-512 HMAC key, many times over. */
export const KDF_MAX_BITS = 8 * 1024;

/** A KDF label: a string ("STORAGE") or bytes; see labelBytes for the terminating zero. */
export type KdfLabel = string | Uint8Array;

/** node:crypto name of a TPM hash; ERR_TPM_CRYPTO_UNSUPPORTED otherwise. */
export function hashName(hashAlg: number): string {
  const name = HASH_NODE_NAME[hashAlg];
  if (!name) throw new TpmCryptoError('ERR_TPM_CRYPTO_UNSUPPORTED', `hash ${algName(hashAlg)} is not supported`, { hashAlg });
  return name;
}

/** Digest size in bytes of a supported TPM hash. */
export function digestSize(hashAlg: number): number {
  hashName(hashAlg);
  return HASH_SIZE[hashAlg]!;
}

/**
 * The label as the TPM hashes it: followed by one 0x00 unless it already ends in one (the
 * reference implementation's CryptKDFa rule, so "IDENTITY" and "IDENTITY\0" derive the same key).
 */
function labelBytes(label: KdfLabel): Uint8Array {
  const b = typeof label === 'string' ? utf8(label) : label;
  if (b.length > 0 && b[b.length - 1] === 0) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits <= 0 || bits > KDF_MAX_BITS) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `KDF output of ${bits} bits is outside 1..${KDF_MAX_BITS}`, { bits });
  }
}

/** Keeps the first ceil(bits/8) bytes and clears the unused high bits of the first byte (Part 1, 11.4.10.2). */
function truncate(stream: Uint8Array, bits: number): Uint8Array {
  const out = stream.slice(0, Math.ceil(bits / 8));
  if (bits % 8 !== 0) out[0]! &= (1 << (bits % 8)) - 1;
  return out;
}

/**
 * KDFa(hashAlg, key, label, contextU, contextV, bits): HMAC_key([i]32 ‖ label ‖ 0 ‖ contextU ‖
 * contextV ‖ [bits]32) for i = 1, 2, ... truncated to `bits`.
 */
export function kdfa(hashAlg: number, key: Uint8Array, label: KdfLabel, contextU: Uint8Array, contextV: Uint8Array, bits: number): Uint8Array {
  return counterMode(hashAlg, label, bits, (name, counter, lbl) =>
    createHmac(name, key).update(counter).update(lbl).update(contextU).update(contextV).update(new ByteWriter(4).u32(bits).finish()).digest(),
  );
}

/**
 * KDFe(hashAlg, Z, use, partyUInfo, partyVInfo, bits): H([i]32 ‖ Z ‖ use ‖ 0 ‖ partyUInfo ‖
 * partyVInfo) for i = 1, 2, ... truncated to `bits`. Z is the x coordinate of the ECDH shared
 * point; partyU is the ephemeral key's x, partyV the TPM key's x.
 */
export function kdfe(hashAlg: number, z: Uint8Array, use: KdfLabel, partyUInfo: Uint8Array, partyVInfo: Uint8Array, bits: number): Uint8Array {
  return counterMode(hashAlg, use, bits, (name, counter, lbl) =>
    createHash(name).update(counter).update(z).update(lbl).update(partyUInfo).update(partyVInfo).digest(),
  );
}

/** Both KDFs: blocks for counter i = 1, 2, ... (as a 32-bit big-endian word), concatenated and truncated to `bits`. */
function counterMode(hashAlg: number, label: KdfLabel, bits: number, block: (hash: string, counter: Uint8Array, label: Uint8Array) => Uint8Array): Uint8Array {
  checkBits(bits);
  const name = hashName(hashAlg);
  const lbl = labelBytes(label);
  const size = HASH_SIZE[hashAlg]!;
  const blocks = Math.ceil(bits / 8 / size);
  const out = new Uint8Array(blocks * size);
  for (let i = 1; i <= blocks; i++) out.set(block(name, new ByteWriter(4).u32(i).finish(), lbl), (i - 1) * size);
  return truncate(out, bits);
}
