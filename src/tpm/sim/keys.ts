/**
 * Key material of the software TPM: generation (from a seeded or system stream, so seeded
 * simulators make the same keys), private KeyObjects rebuilt from TPMT_SENSITIVE, and the
 * signature schemes of Part 1, Annex B/C (RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA, HMAC).
 *
 * RSA keys keep one prime in TPMT_SENSITIVE (TPM2B_PRIVATE_KEY_RSA is half the modulus, Part 2
 * 11.2.4.7); the rest is recomputed from the public modulus, as a real TPM does.
 */
import { checkPrimeSync, constants, createECDH, createHmac, privateEncrypt, publicDecrypt, sign, type KeyObject } from 'node:crypto';
import { bytesEqual, concatBytes, fromHex } from '../../bytes/index.ts';
import { HASH_NODE_NAME, HASH_SIZE, TPM_ALG } from '../constants.ts';
import { ECC_CURVES, publicKeyFromTpm, type RandomSource } from '../crypto/index.ts';
import { tpmHash } from '../names.ts';
import type { TPMT_PUBLIC, TPMT_SENSITIVE, TPMT_SIGNATURE } from '../structures.ts';
import { ecdsaSignDigest, ecdsaVerifyDigest, rawEcdsaCurve } from './ecdsa.ts';
import { fail } from './rc.ts';

const A = TPM_ALG;

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));
function toBytes(v: bigint, size: number): Uint8Array {
  return new Uint8Array(Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex'));
}
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

export function rsaExponent(pub: TPMT_PUBLIC): bigint {
  const e = (pub.parameters as { exponent: number }).exponent;
  return BigInt(e === 0 ? 65537 : e);
}

/**
 * A prime of `bits` bits from the stream: the candidate's top two bits are set (so p·q has the
 * full modulus length) and it is searched upwards in odd steps; primality is OpenSSL's test.
 */
function streamPrime(random: RandomSource, bits: number, e: bigint): bigint {
  for (;;) {
    let c = toBig(random(bits / 8)) | (3n << BigInt(bits - 2)) | 1n;
    for (let i = 0; i < 8192; i++, c += 2n) {
      if (c >> BigInt(bits) !== 0n) break;
      if (gcd(c - 1n, e) === 1n && checkPrimeSync(c)) return c;
    }
  }
}

/** An RSA key from the stream: the modulus (TPMT_PUBLIC.unique) and one prime (TPMT_SENSITIVE). */
export function generateRsa(random: RandomSource, bits: number, e: bigint): { modulus: Uint8Array; prime: Uint8Array } {
  for (;;) {
    const p = streamPrime(random, bits / 2, e);
    const q = streamPrime(random, bits / 2, e);
    if (p === q) continue;
    return { modulus: toBytes(p * q, bits / 8), prime: toBytes(p, bits / 16) };
  }
}

/** A private scalar in [1, n-1] from the stream (by rejection), and its public point. */
export function generateEcc(random: RandomSource, curveId: number): { d: Uint8Array; x: Uint8Array; y: Uint8Array } {
  const curve = ECC_CURVES[curveId] ?? fail('CURVE', `ECC curve 0x${curveId.toString(16)} is not implemented`);
  const ecdh = createECDH(curve.nodeName);
  for (;;) {
    const d = random(curve.bytes);
    const v = toBig(d);
    if (v === 0n || v >= curve.order) continue;
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey();
    return { d, x: new Uint8Array(point.subarray(1, 1 + curve.bytes)), y: new Uint8Array(point.subarray(1 + curve.bytes)) };
  }
}

// DER DigestInfo prefixes of RSASSA-PKCS1-v1_5 (RFC 8017, 9.2 note 1).
const DIGEST_INFO: Readonly<Record<number, Uint8Array>> = {
  [A.SHA1]: fromHex('3021300906052b0e03021a05000414'),
  [A.SHA256]: fromHex('3031300d060960864801650304020105000420'),
  [A.SHA384]: fromHex('3041300d060960864801650304020205000430'),
  [A.SHA512]: fromHex('3051300d060960864801650304020305000440'),
};

function mgf1(hashAlg: number, seed: Uint8Array, length: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let counter = 0, have = 0; have < length; counter++, have += HASH_SIZE[hashAlg]!) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    parts.push(tpmHash(hashAlg, seed, c));
  }
  return concatBytes(...parts).subarray(0, length);
}

const PSS_ZEROS = new Uint8Array(8);

/** EMSA-PSS-ENCODE (RFC 8017, 9.1.1) for a modulus of `modBits` bits, salt as long as the digest (what TPMs use). */
function pssEncode(hashAlg: number, digest: Uint8Array, modBits: number, salt: Uint8Array): Uint8Array {
  const hLen = HASH_SIZE[hashAlg]!;
  const emLen = Math.ceil((modBits - 1) / 8);
  const h = tpmHash(hashAlg, PSS_ZEROS, digest, salt);
  const db = new Uint8Array(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 1;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(hashAlg, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - (modBits - 1));
  return concatBytes(db, h, new Uint8Array([0xbc]));
}

/** EMSA-PSS-VERIFY (RFC 8017, 9.1.2), any salt length. */
function pssVerify(hashAlg: number, digest: Uint8Array, em: Uint8Array, modBits: number): boolean {
  const hLen = HASH_SIZE[hashAlg]!;
  const emLen = Math.ceil((modBits - 1) / 8);
  if (em.length > emLen) {
    if (em.subarray(0, em.length - emLen).some((b) => b !== 0)) return false;
    em = em.subarray(em.length - emLen);
  }
  if (em.length !== emLen || em[emLen - 1] !== 0xbc || emLen < hLen + 2) return false;
  const db = em.slice(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >>> (8 * emLen - (modBits - 1));
  if ((db[0]! & ~topMask) !== 0) return false;
  const mask = mgf1(hashAlg, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topMask;
  const one = db.indexOf(1);
  if (one < 0 || db.subarray(0, one).some((b) => b !== 0)) return false;
  return bytesEqual(tpmHash(hashAlg, PSS_ZEROS, digest, db.subarray(one + 1)), h);
}

export interface SigningKey {
  readonly public: TPMT_PUBLIC;
  readonly sensitive: TPMT_SENSITIVE;
  readonly privateKey: () => KeyObject;
}

/** Signs a digest with scheme `scheme` / `hashAlg` (TPM2_Sign, and TPM2_Quote through signMessage). */
export function signDigest(key: SigningKey, scheme: number, hashAlg: number, digest: Uint8Array, random: RandomSource): TPMT_SIGNATURE {
  switch (scheme) {
    case A.RSASSA: {
      const sig = privateEncrypt({ key: key.privateKey(), padding: constants.RSA_PKCS1_PADDING }, concatBytes(DIGEST_INFO[hashAlg]!, digest));
      return { sigAlg: A.RSASSA, signature: { hash: hashAlg as never, sig: new Uint8Array(sig) } };
    }
    case A.RSAPSS: {
      const modulus = key.public.unique as Uint8Array;
      const modBits = toBig(modulus).toString(2).length;
      const em = pssEncode(hashAlg, digest, modBits, random(HASH_SIZE[hashAlg]!));
      const sig = privateEncrypt({ key: key.privateKey(), padding: constants.RSA_NO_PADDING }, concatBytes(new Uint8Array(modulus.length - em.length), em));
      return { sigAlg: A.RSAPSS, signature: { hash: hashAlg as never, sig: new Uint8Array(sig) } };
    }
    case A.ECDSA: {
      const curveId = (key.public.parameters as { curveID: number }).curveID;
      if (!rawEcdsaCurve(curveId)) fail('CURVE', 'ECDSA on this curve is not implemented');
      const { r, s } = ecdsaSignDigest(curveId, key.sensitive.sensitive as Uint8Array, digest, random);
      return { sigAlg: A.ECDSA, signature: { hash: hashAlg as never, signatureR: r, signatureS: s } };
    }
    case A.HMAC: {
      const mac = createHmac(HASH_NODE_NAME[hashAlg]!, key.sensitive.sensitive as Uint8Array).update(digest).digest();
      return { sigAlg: A.HMAC, signature: { hashAlg: hashAlg as never, digest: new Uint8Array(mac) } };
    }
    default:
      return fail('SCHEME', `signature scheme 0x${scheme.toString(16)} is not implemented`);
  }
}

/**
 * Signs a whole message (TPMS_ATTEST of a quote) with node:crypto, which hashes it itself: the
 * fast path for the commands that have the message. ECDSA and PSS take OpenSSL's randomness.
 */
export function signMessage(key: SigningKey, scheme: number, hashAlg: number, message: Uint8Array, random: RandomSource): TPMT_SIGNATURE {
  const hashName = HASH_NODE_NAME[hashAlg]!;
  switch (scheme) {
    case A.RSASSA:
      return { sigAlg: A.RSASSA, signature: { hash: hashAlg as never, sig: new Uint8Array(sign(hashName, message, key.privateKey())) } };
    case A.RSAPSS: {
      const sig = sign(hashName, message, { key: key.privateKey(), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      return { sigAlg: A.RSAPSS, signature: { hash: hashAlg as never, sig: new Uint8Array(sig) } };
    }
    case A.ECDSA: {
      const size = ECC_CURVES[(key.public.parameters as { curveID: number }).curveID]!.bytes;
      const sig = sign(hashName, message, { key: key.privateKey(), dsaEncoding: 'ieee-p1363' });
      return { sigAlg: A.ECDSA, signature: { hash: hashAlg as never, signatureR: new Uint8Array(sig.subarray(0, size)), signatureS: new Uint8Array(sig.subarray(size)) } };
    }
    default:
      return signDigest(key, scheme, hashAlg, tpmHash(hashAlg, message), random);
  }
}

/** Verifies a signature over a digest (TPM2_VerifySignature); `hmacKey` for KEYEDHASH keys. */
export function verifyDigestSignature(pub: TPMT_PUBLIC, digest: Uint8Array, sig: TPMT_SIGNATURE, hmacKey?: Uint8Array): boolean {
  switch (sig.sigAlg) {
    case A.RSASSA:
    case A.RSAPSS: {
      if (pub.type !== A.RSA) return false;
      const { hash: hashAlg, sig: s } = sig.signature as { hash: number; sig: Uint8Array };
      const modulus = pub.unique as Uint8Array;
      if (s.length !== modulus.length || !DIGEST_INFO[hashAlg] || digest.length !== HASH_SIZE[hashAlg]) return false;
      const key = publicKeyFromTpm(pub);
      try {
        if (sig.sigAlg === A.RSASSA) {
          return bytesEqual(new Uint8Array(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, s)), concatBytes(DIGEST_INFO[hashAlg]!, digest));
        }
        const em = new Uint8Array(publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, s));
        return pssVerify(hashAlg, digest, em, toBig(modulus).toString(2).length);
      } catch {
        return false;
      }
    }
    case A.ECDSA: {
      if (pub.type !== A.ECC) return false;
      const curveId = (pub.parameters as { curveID: number }).curveID;
      if (!rawEcdsaCurve(curveId)) return false;
      const { signatureR, signatureS } = sig.signature as { signatureR: Uint8Array; signatureS: Uint8Array };
      const point = pub.unique as { x: Uint8Array; y: Uint8Array };
      return ecdsaVerifyDigest(curveId, point.x, point.y, digest, signatureR, signatureS);
    }
    case A.HMAC: {
      if (!hmacKey) return false;
      const { hashAlg, digest: mac } = sig.signature as { hashAlg: number; digest: Uint8Array };
      if (!HASH_NODE_NAME[hashAlg]) return false;
      return bytesEqual(new Uint8Array(createHmac(HASH_NODE_NAME[hashAlg]!, hmacKey).update(digest).digest()), mac);
    }
    default:
      return false;
  }
}
