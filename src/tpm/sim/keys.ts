/**
 * Key generation of the software TPM, from a seeded or system stream so that seeded simulators
 * make the same keys. RSA keys keep one prime in TPMT_SENSITIVE (TPM2B_PRIVATE_KEY_RSA is half the
 * modulus, Part 2 11.2.4.7); src/tpm/crypto rebuilds the private key from it. Signatures are made
 * and checked by src/tpm/crypto (signTpm / verifyTpmSignature), except keyed-hash HMACs here.
 */
import { checkPrimeSync, createECDH, createHmac } from 'node:crypto';
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

/** Odd primes below 2048, for sieving candidates before the costly primality test. */
const SMALL_PRIMES: readonly number[] = (() => {
  const out: number[] = [];
  for (let n = 3; n < 2048; n += 2) if (out.every((p) => p * p > n || n % p !== 0)) out.push(n);
  return out;
})();

/** Miller-Rabin rounds: candidates are random, so the error bound is far below 2^-100 (FIPS 186-5, B.3.1). */
const MR_ROUNDS = 16;

/**
 * A prime of `bits` bits from the stream: the candidate's top two bits are set (so p·q has the
 * full modulus length) and it is searched upwards in odd steps; candidates with a factor below
 * 2048 are sieved out from their residues, the rest go to OpenSSL's Miller-Rabin test.
 */
function streamPrime(random: RandomSource, bits: number, e: bigint): bigint {
  for (;;) {
    const base = toBig(random(bits / 8)) | (3n << BigInt(bits - 2)) | 1n;
    const residues = SMALL_PRIMES.map((p) => Number(base % BigInt(p)));
    for (let step = 0; step < 4096; step += 2) {
      if (SMALL_PRIMES.some((p, i) => (residues[i]! + step) % p === 0)) continue;
      const c = base + BigInt(step);
      if (c >> BigInt(bits) !== 0n) break;
      if (gcd(c - 1n, e) === 1n && checkPrimeSync(c, { checks: MR_ROUNDS })) return c;
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
