/**
 * ECDSA over a precomputed digest (FIPS 186-4, 6.4), for TPM2_Sign / TPM2_VerifySignature in the
 * software TPM: node:crypto only signs and verifies messages it hashes itself. Signing gets k·G
 * from node:crypto's ECDH (constant-time native code); verification, which handles only public
 * values, uses the bigint point arithmetic below (Jacobian coordinates, a = -3).
 */
import { createECDH } from 'node:crypto';
import { TpmCryptoError } from './errors.ts';
import { bigFromBytes, bytesFromBig, modInverse, type EccCurve } from './keys.ts';
import type { RandomSource } from './random.ts';

interface Jacobian {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}
const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function double(p: Jacobian, prime: bigint): Jacobian {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = mod(p.z * p.z, prime);
  const gamma = mod(p.y * p.y, prime);
  const beta = mod(p.x * gamma, prime);
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), prime);
  const x = mod(alpha * alpha - 8n * beta, prime);
  const z = mod((p.y + p.z) ** 2n - gamma - delta, prime);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, prime);
  return { x, y, z };
}

function add(p: Jacobian, q: Jacobian, prime: bigint): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = mod(p.z * p.z, prime);
  const z2z2 = mod(q.z * q.z, prime);
  const u1 = mod(p.x * z2z2, prime);
  const u2 = mod(q.x * z1z1, prime);
  const s1 = mod(p.y * q.z * z2z2, prime);
  const s2 = mod(q.y * p.z * z1z1, prime);
  const h = mod(u2 - u1, prime);
  const r = mod(s2 - s1, prime);
  if (h === 0n) return r === 0n ? double(p, prime) : INFINITY;
  const hh = mod(h * h, prime);
  const hhh = mod(hh * h, prime);
  const x = mod(r * r - hhh - 2n * u1 * hh, prime);
  const y = mod(r * (u1 * hh - x) - s1 * hhh, prime);
  return { x, y, z: mod(h * p.z * q.z, prime) };
}

function multiply(p: Jacobian, k: bigint, prime: bigint): Jacobian {
  let acc = INFINITY;
  for (let i = BigInt(k.toString(2).length - 1); i >= 0n; i--) {
    acc = double(acc, prime);
    if ((k >> i) & 1n) acc = add(acc, p, prime);
  }
  return acc;
}

function affineX(p: Jacobian, prime: bigint): bigint | undefined {
  if (p.z === 0n) return undefined;
  const zi = modInverse(p.z, prime);
  return mod(p.x * zi * zi, prime);
}

const generators = new Map<string, Jacobian>();
function generator(curve: EccCurve): Jacobian {
  let g = generators.get(curve.nodeName);
  if (!g) {
    const one = new Uint8Array(curve.bytes);
    one[curve.bytes - 1] = 1;
    const ecdh = createECDH(curve.nodeName);
    ecdh.setPrivateKey(one);
    const pt = ecdh.getPublicKey();
    g = { x: bigFromBytes(pt.subarray(1, 1 + curve.bytes)), y: bigFromBytes(pt.subarray(1 + curve.bytes)), z: 1n };
    generators.set(curve.nodeName, g);
  }
  return g;
}

/** The digest as an integer: its leftmost bitlen(n) bits (FIPS 186-4, 6.4 and SEC1 4.1.3 step 5). */
function digestInteger(curve: EccCurve, digest: Uint8Array): bigint {
  const nBits = curve.order.toString(2).length;
  const e = bigFromBytes(digest);
  const excess = digest.length * 8 - nBits;
  return excess > 0 ? e >> BigInt(excess) : e;
}

export interface EcdsaSignature {
  readonly r: Uint8Array;
  readonly s: Uint8Array;
}

/** Signs a digest with private scalar `d`; the nonce k comes from `random` (uniform by rejection). */
export function ecdsaSignDigest(curve: EccCurve, d: Uint8Array, digest: Uint8Array, random: RandomSource): EcdsaSignature {
  const n = curve.order;
  const dv = bigFromBytes(d);
  if (dv <= 0n || dv >= n) throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', 'ECDSA private scalar out of range', {});
  const e = digestInteger(curve, digest);
  const topBits = ((n.toString(2).length - 1) % 8) + 1;
  const ecdh = createECDH(curve.nodeName);
  for (;;) {
    const kb = random(curve.bytes);
    kb[0]! &= (1 << topBits) - 1;
    const k = bigFromBytes(kb);
    if (k === 0n || k >= n) continue;
    ecdh.setPrivateKey(kb);
    const r = mod(bigFromBytes(ecdh.getPublicKey().subarray(1, 1 + curve.bytes)), n);
    if (r === 0n) continue;
    const s = mod(modInverse(k, n) * (e + r * dv), n);
    if (s === 0n) continue;
    return { r: bytesFromBig(r, curve.bytes), s: bytesFromBig(s, curve.bytes) };
  }
}

/** Verifies (r, s) over a digest under public point (x, y), which the caller has checked is on the curve. */
export function ecdsaVerifyDigest(curve: EccCurve, point: { x: Uint8Array; y: Uint8Array }, digest: Uint8Array, sig: EcdsaSignature): boolean {
  const n = curve.order;
  const r = bigFromBytes(sig.r);
  const s = bigFromBytes(sig.s);
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const w = modInverse(s, n);
  const u1 = mod(digestInteger(curve, digest) * w, n);
  const u2 = mod(r * w, n);
  const q: Jacobian = { x: bigFromBytes(point.x), y: bigFromBytes(point.y), z: 1n };
  const sum = add(multiply(generator(curve), u1, curve.prime), multiply(q, u2, curve.prime), curve.prime);
  const x = affineX(sum, curve.prime);
  return x !== undefined && mod(x, n) === r;
}
