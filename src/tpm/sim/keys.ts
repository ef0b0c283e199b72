/**
 * Key generation of the software TPM, from a seeded or system stream so that seeded simulators
 * make the same keys. RSA keys keep one prime in TPMT_SENSITIVE (TPM2B_PRIVATE_KEY_RSA is half the
 * modulus, Part 2 11.2.4.7); src/tpm/crypto rebuilds the private key from it. Signatures are made
 * and checked by src/tpm/crypto (signTpm / verifyTpmSignature), except keyed-hash HMACs here.
 */
import { constants, createECDH, createHash, createHmac, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';
import { HASH_NODE_NAME } from '../constants.ts';
import { ECC_CURVES, type RandomSource } from '../crypto/index.ts';
import type { TPMT_PUBLIC } from '../structures.ts';
import { fail } from './rc.ts';

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));
function toBytes(v: bigint, size: number): Uint8Array {
  return new Uint8Array(Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex'));
}
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

export function rsaExponent(pub: TPMT_PUBLIC): bigint {
  const e = (pub.parameters as { exponent: number }).exponent;
  return BigInt(e === 0 ? 65537 : e);
}

/** Sieve bound: no odd prime below 2^16 divides a candidate that reaches Miller-Rabin (~90 % of odd numbers are ruled out). */
const SIEVE_LIMIT = 1 << 16;
/** Odd candidates examined from one random starting point (base, base + 2, ...). */
const WINDOW = 2048;

const SIEVE_PRIMES: readonly bigint[] = (() => {
  const composite = new Uint8Array(SIEVE_LIMIT);
  const out: bigint[] = [];
  for (let n = 3; n < SIEVE_LIMIT; n += 2) {
    if (composite[n]) continue;
    out.push(BigInt(n));
    for (let m = n * n; m < SIEVE_LIMIT; m += 2 * n) composite[m] = 1;
  }
  return out;
})();

/** Marks the offsets k < WINDOW for which a sieve prime divides base + 2k. */
function sieveWindow(base: bigint): Uint8Array {
  const divisible = new Uint8Array(WINDOW);
  for (const bigP of SIEVE_PRIMES) {
    const p = Number(bigP);
    const r = Number(base % bigP);
    // base + 2k ≡ 0 (mod p)  ⇔  k ≡ -r · 2⁻¹ (mod p), and 2⁻¹ = (p + 1) / 2 for odd p.
    for (let k = (((p - r) % p) * ((p + 1) / 2)) % p; k < WINDOW; k += p) divisible[k] = 1;
  }
  return divisible;
}

/**
 * Miller-Rabin rounds for a random candidate of `bits` bits: FIPS 186-5 Table B.1 (5 for the
 * 1024-bit primes of RSA-2048, 4 for RSA-3072's 1536-bit ones: error below 2^-112), more for the
 * 512-bit primes of RSA-1024.
 */
function millerRabinRounds(bits: number): number {
  return bits >= 1536 ? 4 : bits >= 1024 ? 5 : 8;
}

/**
 * a^exponent mod modulus for a fixed odd modulus and exponent, by OpenSSL. node:crypto has no
 * modular exponentiation, but a raw RSA public operation (no padding) with n = modulus and
 * e = exponent is exactly that, about 7 times faster than bigint arithmetic. (checkPrimeSync is
 * no substitute: OpenSSL 3 runs at least 64 rounds on every prime, ~20 ms at 1024 bits, whatever
 * `checks` says.)
 */
function modularPower(modulus: bigint, exponent: bigint, bytes: number): (base: bigint) => bigint {
  const base64url = (v: bigint): string => {
    const hex = v.toString(16);
    return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
  };
  const key: KeyObject = createPublicKey({ key: { kty: 'RSA', n: base64url(modulus), e: base64url(exponent) }, format: 'jwk' });
  return (base) => toBig(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, toBytes(base, bytes)));
}

/**
 * Miller-Rabin (FIPS 186-5, B.3.1) on an odd candidate that passed the sieve. The witnesses are
 * derived from the candidate (SHA-256), so the verdict, and with it every seeded key, is the same
 * from run to run.
 */
function isProbablePrime(c: bigint, bits: number): boolean {
  let d = c - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  const bytes = bits / 8;
  const power = modularPower(c, d, bytes);
  const candidateBytes = toBytes(c, bytes);
  for (let round = 0; round < millerRabinRounds(bits); round++) {
    const witness = 2n + (toBig(createHash('sha256').update(candidateBytes).update(Uint8Array.of(round)).digest()) % (c - 3n));
    let x = power(witness);
    if (x === 1n || x === c - 1n) continue;
    let composite = true;
    for (let i = 1; i < s && composite; i++) {
      x = (x * x) % c;
      if (x === c - 1n) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

/**
 * A prime of `bits` bits from the stream: the candidate's top two bits are set (so p·q has the
 * full modulus length) and it is searched upwards in odd steps; candidates with a factor below
 * 2^16 are sieved out, the rest go to Miller-Rabin. The sieve only skips composites, so the prime
 * found depends on the stream alone: seeded keys are the same from run to run.
 */
function streamPrime(random: RandomSource, bits: number, e: bigint): bigint {
  for (;;) {
    const base = toBig(random(bits / 8)) | (3n << BigInt(bits - 2)) | 1n;
    const divisible = sieveWindow(base);
    for (let k = 0; k < WINDOW; k++) {
      if (divisible[k]) continue;
      const c = base + BigInt(2 * k);
      if (c >> BigInt(bits) !== 0n) break;
      if (gcd(c - 1n, e) === 1n && isProbablePrime(c, bits)) return c;
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

/** TPM_ALG_HMAC "signature" of a keyed-hash signing key (Part 1, 11.4.7): HMAC(key, digest). */
export function hmacSign(hashAlg: number, key: Uint8Array, digest: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(HASH_NODE_NAME[hashAlg]!, key).update(digest).digest());
}
