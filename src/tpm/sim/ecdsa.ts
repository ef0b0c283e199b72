/**
 * ECDSA over a digest the caller already computed (FIPS 186-5, 6.4). TPM2_Sign and
 * TPM2_VerifySignature receive only the digest, and node:crypto signs and verifies messages (it
 * always hashes), so these two commands need the raw primitive. Quotes, which have the message,
 * use node:crypto instead (see keys.ts).
 *
 * Jacobian-coordinate arithmetic on the NIST prime curves with a = -3. Not constant-time: the
 * software TPM is a test and simulation device, not a place for production secrets.
 */
import { TPM_ECC_CURVE } from '../constants.ts';

interface Curve {
  readonly p: bigint;
  readonly n: bigint;
  readonly b: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly size: number;
}

const CURVES: Readonly<Record<number, Curve>> = {
  [TPM_ECC_CURVE.NIST_P256]: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    size: 32,
  },
  [TPM_ECC_CURVE.NIST_P384]: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    size: 48,
  },
};

export function rawEcdsaCurve(curveId: number): boolean {
  return CURVES[curveId] !== undefined;
}

type Jacobian = readonly [bigint, bigint, bigint];
const INFINITY: Jacobian = [0n, 1n, 0n];

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function invert(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return INFINITY;
  const { p } = c;
  const zz = (z * z) % p;
  const m = (3n * mod(x - zz, p) * ((x + zz) % p)) % p;
  const yy = (y * y) % p;
  const s = (4n * x * yy) % p;
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  const z3 = (2n * y * z) % p;
  return [x3, y3, z3];
}

function add(c: Curve, a: Jacobian, b: Jacobian): Jacobian {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const { p } = c;
  const z1z1 = (a[2] * a[2]) % p;
  const z2z2 = (b[2] * b[2]) % p;
  const u1 = (a[0] * z2z2) % p;
  const u2 = (b[0] * z1z1) % p;
  const s1 = (a[1] * b[2] * z2z2) % p;
  const s2 = (b[1] * a[2] * z1z1) % p;
  if (u1 === u2) return s1 === s2 ? double(c, a) : INFINITY;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = (h * h) % p;
  const hhh = (h * hh) % p;
  const v = (u1 * hh) % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = (a[2] * b[2] * h) % p;
  return [x3, y3, z3];
}

function multiply(c: Curve, k: bigint, point: Jacobian): Jacobian {
  let result = INFINITY;
  let addend = point;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(c, result, addend);
    addend = double(c, addend);
  }
  return result;
}

function affineX(c: Curve, [x, , z]: Jacobian): bigint {
  const zi = invert(z, c.p);
  return (x * zi * zi) % c.p;
}

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));
function toBytes(v: bigint, size: number): Uint8Array {
  return new Uint8Array(Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex'));
}

/** The digest as an integer, truncated to the order's bit length (FIPS 186-5, 6.4.1 step 3). */
function digestToInt(c: Curve, digest: Uint8Array): bigint {
  const bits = c.n.toString(2).length;
  let e = toBig(digest);
  const excess = digest.length * 8 - bits;
  if (excess > 0) e >>= BigInt(excess);
  return e;
}

/** Signs `digest` with private scalar `d`; `nonce` supplies per-signature randomness (seeded or system). */
export function ecdsaSignDigest(curveId: number, d: Uint8Array, digest: Uint8Array, nonce: (n: number) => Uint8Array): { r: Uint8Array; s: Uint8Array } {
  const c = CURVES[curveId]!;
  const priv = toBig(d);
  const e = digestToInt(c, digest);
  for (;;) {
    const k = (toBig(nonce(c.size + 8)) % (c.n - 1n)) + 1n;
    const r = affineX(c, multiply(c, k, [c.gx, c.gy, 1n])) % c.n;
    if (r === 0n) continue;
    const s = (invert(k, c.n) * ((e + r * priv) % c.n)) % c.n;
    if (s === 0n) continue;
    return { r: toBytes(r, c.size), s: toBytes(s, c.size) };
  }
}

/** Verifies (r, s) over `digest` for the public point (x, y). */
export function ecdsaVerifyDigest(curveId: number, x: Uint8Array, y: Uint8Array, digest: Uint8Array, rBytes: Uint8Array, sBytes: Uint8Array): boolean {
  const c = CURVES[curveId]!;
  const r = toBig(rBytes);
  const s = toBig(sBytes);
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const qx = toBig(x);
  const qy = toBig(y);
  // The point must be on the curve: a key from LoadExternal is untrusted input.
  if (mod(qy * qy - (qx * qx * qx - 3n * qx + c.b), c.p) !== 0n) return false;
  const w = invert(s, c.n);
  const u1 = (digestToInt(c, digest) * w) % c.n;
  const u2 = (r * w) % c.n;
  const point = add(c, multiply(c, u1, [c.gx, c.gy, 1n]), multiply(c, u2, [qx, qy, 1n]));
  if (point[2] === 0n) return false;
  return affineX(c, point) % c.n === r;
}
