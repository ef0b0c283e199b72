/**
 * The outer wrapper of protected storage (TPM 2.0 Library Part 1, 22.4 and 24): how a credential
 * (TPM2B_ID_OBJECT) or a private area (TPM2B_PRIVATE) is bound to a seed and an object Name.
 *
 *   symKey   = KDFa(nameAlg, seed, "STORAGE", Name, "", symmetric.keyBits)
 *   enc      = AES-CFB(symKey, iv = 0, plaintext)
 *   hmacKey  = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
 *   blob     = TPM2B_DIGEST(HMAC(hmacKey, enc ‖ Name)) ‖ enc
 *
 * The Name inside both the key and the HMAC is what makes a credential usable only with the
 * intended object: activating it for another key's Name fails the integrity check.
 * `nameAlg` and `symmetric` are those of the protecting key (the EK for credentials, the parent
 * for private areas), never those of the protected object.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { ByteReader, ByteWriter, constantTimeEqual } from '../../bytes/index.ts';
import { TPM_ALG, algName } from '../constants.ts';
import type { TPMT_PUBLIC } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize, hashName, kdfa } from './kdf.ts';

/** A protecting key's symmetric definition (TPMT_SYM_DEF_OBJECT): only AES-CFB is implemented. */
export interface SymmetricDef {
  readonly algorithm: number;
  readonly keyBits: number | null;
  readonly mode: number | null;
}

export interface OuterWrapKey {
  /** nameAlg of the protecting key. */
  readonly hashAlg: number;
  readonly symmetric: SymmetricDef;
  readonly seed: Uint8Array;
}

/** The wrap parameters of a storage key (restricted decrypt RSA/ECC key with a symmetric definition). */
export function storageParameters(key: TPMT_PUBLIC): { hashAlg: number; symmetric: SymmetricDef } {
  if (key.type !== TPM_ALG.RSA && key.type !== TPM_ALG.ECC) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', `a ${algName(key.type)} key is not an asymmetric storage key`, { type: key.type });
  }
  const { objectAttributes: a } = key;
  if (!a.restricted || !a.decrypt) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', 'the protecting key must be a restricted decryption key (an EK or storage key)', {
      restricted: a.restricted,
      decrypt: a.decrypt,
    });
  }
  return { hashAlg: key.nameAlg, symmetric: (key.parameters as { symmetric: SymmetricDef }).symmetric };
}

/** AES-CFB with a zero IV (the outer wrap uses a fresh key per seed and Name, so the IV may be fixed). */
export function aesCfbZeroIv(symmetric: SymmetricDef, key: Uint8Array, data: Uint8Array, direction: 'encrypt' | 'decrypt'): Uint8Array {
  const cipher = cfbCipherName(symmetric);
  const iv = new Uint8Array(16);
  const c = direction === 'encrypt' ? createCipheriv(cipher, key, iv) : createDecipheriv(cipher, key, iv);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function cfbCipherName(symmetric: SymmetricDef): string {
  if (symmetric.algorithm !== TPM_ALG.AES || symmetric.mode !== TPM_ALG.CFB || ![128, 192, 256].includes(symmetric.keyBits ?? 0)) {
    throw new TpmCryptoError(
      'ERR_TPM_CRYPTO_UNSUPPORTED',
      `symmetric ${algName(symmetric.algorithm)}-${String(symmetric.keyBits)}-${symmetric.mode === null ? 'none' : algName(symmetric.mode)} is not supported (AES-CFB is)`,
      { ...symmetric },
    );
  }
  return `aes-${symmetric.keyBits}-cfb`;
}

function integrity(hashAlg: number, seed: Uint8Array, enc: Uint8Array, name: Uint8Array): Uint8Array {
  const hmacKey = kdfa(hashAlg, seed, 'INTEGRITY', new Uint8Array(0), new Uint8Array(0), digestSize(hashAlg) * 8);
  return new Uint8Array(createHmac(hashName(hashAlg), hmacKey).update(enc).update(name).digest());
}

function storageKey(k: OuterWrapKey, name: Uint8Array): Uint8Array {
  cfbCipherName(k.symmetric);
  return kdfa(k.hashAlg, k.seed, 'STORAGE', name, new Uint8Array(0), k.symmetric.keyBits!);
}

/** Encrypts and integrity-protects `plaintext` for the object called `name`. */
export function outerWrap(k: OuterWrapKey, name: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const enc = aesCfbZeroIv(k.symmetric, storageKey(k, name), plaintext, 'encrypt');
  const hmac = integrity(k.hashAlg, k.seed, enc, name);
  return new ByteWriter(2 + hmac.length + enc.length).u16(hmac.length).bytes(hmac).bytes(enc).finish();
}

/**
 * Checks the integrity HMAC first (ERR_TPM_CRYPTO_INTEGRITY, constant-time), then decrypts: an
 * attacker who alters the blob or presents it for another Name learns nothing from decryption.
 */
export function outerUnwrap(k: OuterWrapKey, name: Uint8Array, blob: Uint8Array): Uint8Array {
  const size = digestSize(k.hashAlg);
  const r = new ByteReader(blob);
  if (r.remaining < 2) throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `wrapped blob of ${blob.length} bytes has no integrity field`, { length: blob.length });
  const hmacSize = r.u16();
  if (hmacSize !== size || r.remaining < size) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `integrity HMAC of ${hmacSize} bytes (${r.remaining} left) where ${algName(k.hashAlg)} needs ${size}`, {
      hmacSize,
      expected: size,
    });
  }
  const hmac = r.bytesView(size);
  const enc = r.bytesView(r.remaining);
  if (!constantTimeEqual(hmac, integrity(k.hashAlg, k.seed, enc, name))) {
    throw new TpmCryptoError(
      'ERR_TPM_CRYPTO_INTEGRITY',
      'integrity HMAC does not verify: the blob was altered, or it was made for another key or object Name',
      {},
    );
  }
  return aesCfbZeroIv(k.symmetric, storageKey(k, name), enc, 'decrypt');
}
