/**
 * RSA encodings the TPM uses (RFC 8017): EME-OAEP for secret exchange, EMSA-PKCS1-v1_5 and
 * EMSA-PSS for signatures over a digest. node:crypto does OAEP and PSS itself but takes neither a
 * randomness source (the seeded software TPM must be reproducible) nor a precomputed digest
 * (TPM2_Sign and TPM2_VerifySignature work on digests), so these are applied around raw RSA.
 */
import { createHash } from 'node:crypto';
import { DER_NULL, encodeOctetString, encodeOid, encodeSequence } from '../../der/index.ts';
import { TPM_ALG } from '../constants.ts';
import { TpmCryptoError } from './errors.ts';
import type { RandomSource } from './random.ts';

/** Hash algorithm OIDs of EMSA-PKCS1-v1_5's DigestInfo (RFC 8017, 9.2 note 1). */
const DIGEST_INFO_ALGORITHM: Readonly<Record<number, string>> = {
  [TPM_ALG.SHA1]: '1.3.14.3.2.26',
  [TPM_ALG.SHA256]: '2.16.840.1.101.3.4.2.1',
  [TPM_ALG.SHA384]: '2.16.840.1.101.3.4.2.2',
  [TPM_ALG.SHA512]: '2.16.840.1.101.3.4.2.3',
};

/** DigestInfo(hash, digest), with NULL parameters: what an RSASSA signature carries after PKCS#1 type-1 padding. */
export function digestInfo(hashAlg: number, digest: Uint8Array): Uint8Array {
  const algorithm = DIGEST_INFO_ALGORITHM[hashAlg];
  if (!algorithm) throw new TpmCryptoError('ERR_TPM_CRYPTO_UNSUPPORTED', `no RSASSA DigestInfo for hash 0x${hashAlg.toString(16)}`, { hashAlg });
  return encodeSequence(encodeSequence(encodeOid(algorithm), DER_NULL), encodeOctetString(digest));
}

export function mgf1(hash: string, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const counter = new Uint8Array(4);
  for (let done = 0, i = 0; done < length; i++) {
    new DataView(counter.buffer).setUint32(0, i);
    const block = createHash(hash).update(seed).update(counter).digest();
    out.set(block.subarray(0, Math.min(block.length, length - done)), done);
    done += block.length;
  }
  return out;
}

/** EME-OAEP encoding (RFC 8017, 7.1.1 step 2) of `message` for a k-byte modulus. */
export function oaepEncode(hash: string, hLen: number, k: number, label: Uint8Array, message: Uint8Array, random: RandomSource): Uint8Array {
  if (message.length > k - 2 * hLen - 2)
    throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `${message.length} bytes do not fit RSA-OAEP with a ${k * 8}-bit key`, { length: message.length });
  const db = new Uint8Array(k - hLen - 1);
  db.set(createHash(hash).update(label).digest());
  db[k - hLen - 2 - message.length] = 1;
  db.set(message, k - hLen - 1 - message.length);
  const padSeed = random(hLen);
  const dbMask = mgf1(hash, padSeed, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= dbMask[i]!;
  const seedMask = mgf1(hash, db, hLen);
  const em = new Uint8Array(k);
  for (let i = 0; i < hLen; i++) em[1 + i] = padSeed[i]! ^ seedMask[i]!;
  em.set(db, 1 + hLen);
  return em;
}

function pssPrime(hash: string, mHash: Uint8Array, salt: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(new Uint8Array(8)).update(mHash).update(salt).digest());
}

/**
 * EMSA-PSS encoding (RFC 8017, 9.1.1) of a digest for a modulus of `modBits`, padded to the
 * modulus length. The salt is one digest long, as the TPM reference implementation signs.
 */
export function pssEncode(hash: string, hLen: number, modBits: number, mHash: Uint8Array, random: RandomSource): Uint8Array {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = random(hLen);
  const h = pssPrime(hash, mHash, salt);
  const db = new Uint8Array(emLen - hLen - 1);
  db[db.length - hLen - 1] = 1;
  db.set(salt, db.length - hLen);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = new Uint8Array(Math.ceil(modBits / 8));
  em.set(db, em.length - emLen);
  em.set(h, em.length - emLen + db.length);
  em[em.length - 1] = 0xbc;
  return em;
}

/**
 * EMSA-PSS verification (RFC 8017, 9.1.2) of the recovered encoding `em` (modulus-length bytes).
 * Any salt length is accepted: TPMs use the digest length or the maximum, and both are sound.
 */
export function pssVerify(hash: string, hLen: number, modBits: number, mHash: Uint8Array, em: Uint8Array): boolean {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length < emLen || em.length - emLen > 1 || (em.length > emLen && em[0] !== 0)) return false;
  const e = em.subarray(em.length - emLen);
  if (emLen < hLen + 2 || e[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((e[0]! & ~topMask) !== 0) return false;
  const h = e.subarray(emLen - hLen - 1, emLen - 1);
  const db = e.slice(0, emLen - hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topMask;
  let i = 0;
  while (i < db.length && db[i] === 0) i++;
  if (i === db.length || db[i] !== 1) return false;
  return Buffer.compare(pssPrime(hash, mHash, db.subarray(i + 1)), h) === 0;
}
