/**
 * TPM public areas ↔ node:crypto keys. A TPMT_PUBLIC carries an RSA modulus or an ECC point in
 * `unique`; these adapters turn it into a KeyObject (for verification, OAEP, ECDH) or a PEM/SPKI
 * a peer tool reads (tpm2_checkquote -u ak.pub.pem), and back: a KeyObject placed into a template.
 * RSA private areas (TPMT_SENSITIVE) hold one prime; the other CRT values are recomputed.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_ECC_CURVE, algName } from '../constants.ts';
import type { Infer } from '../schema/index.ts';
import type { TPMS_ECC_PARMS, TPMS_ECC_POINT, TPMS_RSA_PARMS, TPMT_PUBLIC, TPMT_SENSITIVE } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';

/** The ECC curves Vouch handles in software, with their JWK name and coordinate size. */
export interface EccCurve {
  readonly jwk: string;
  readonly nodeName: string;
  /** Coordinate and scalar size in bytes. */
  readonly bytes: number;
  /** The group order n (FIPS 186-4 D.1.2): private scalars are 1..n-1. */
  readonly order: bigint;
  /** The field prime p (the curves have a = -3). */
  readonly prime: bigint;
}
export const ECC_CURVES: Readonly<Record<number, EccCurve>> = {
  [TPM_ECC_CURVE.NIST_P256]: {
    jwk: 'P-256',
    nodeName: 'prime256v1',
    bytes: 32,
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    prime: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
  },
  [TPM_ECC_CURVE.NIST_P384]: {
    jwk: 'P-384',
    nodeName: 'secp384r1',
    bytes: 48,
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    prime: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
  },
  [TPM_ECC_CURVE.NIST_P521]: {
    jwk: 'P-521',
    nodeName: 'secp521r1',
    bytes: 66,
    order: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    prime: 2n ** 521n - 1n,
  },
};

const RSA_DEFAULT_EXPONENT = 65537;

export type RsaParms = Infer<typeof TPMS_RSA_PARMS>;
export type EccParms = Infer<typeof TPMS_ECC_PARMS>;
export type EccPoint = Infer<typeof TPMS_ECC_POINT>;

function keyError(message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
  throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', message, details, cause === undefined ? undefined : { cause });
}

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
const unb64u = (s: string | undefined, what: string): Uint8Array =>
  s === undefined ? keyError(`JWK lacks ${what}`) : new Uint8Array(Buffer.from(s, 'base64url'));

export function bigFromBytes(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex'));
}
export function bytesFromBig(n: bigint, length?: number): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const raw = new Uint8Array(Buffer.from(hex, 'hex'));
  if (length === undefined || raw.length === length) return raw;
  if (raw.length > length) keyError(`integer of ${raw.length} bytes does not fit ${length}`);
  const out = new Uint8Array(length);
  out.set(raw, length - raw.length);
  return out;
}

/** Left-pads an ECC coordinate to the curve size (TPMs may strip leading zeros); longer is refused. */
export function padCoordinate(c: Uint8Array, size: number, what: string): Uint8Array {
  if (c.length === size) return c;
  if (c.length > size) keyError(`${what} has ${c.length} bytes, more than the curve's ${size}`, { length: c.length, size });
  const out = new Uint8Array(size);
  out.set(c, size - c.length);
  return out;
}

/** The curve table entry of an ECC public area; ERR_TPM_CRYPTO_UNSUPPORTED for BN/SM2/P-192/P-224. */
export function eccCurve(curveID: number): EccCurve {
  const c = ECC_CURVES[curveID];
  if (!c) throw new TpmCryptoError('ERR_TPM_CRYPTO_UNSUPPORTED', `ECC curve 0x${curveID.toString(16)} is not supported (P-256, P-384, P-521 are)`, { curveID });
  return c;
}

/** The JWK of a public area (RSA or ECC). */
function publicJwk(pub: TPMT_PUBLIC): JsonWebKey {
  if (pub.type === TPM_ALG.RSA) {
    const p = pub.parameters as RsaParms;
    const n = pub.unique as Uint8Array;
    if (n.length * 8 !== p.keyBits)
      keyError(`RSA modulus has ${n.length * 8} bits, the template says ${p.keyBits}`, { bits: n.length * 8, keyBits: p.keyBits });
    return { kty: 'RSA', n: b64u(n), e: b64u(bytesFromBig(BigInt(p.exponent === 0 ? RSA_DEFAULT_EXPONENT : p.exponent))) };
  }
  if (pub.type === TPM_ALG.ECC) {
    const p = pub.parameters as EccParms;
    const curve = eccCurve(p.curveID);
    const { x, y } = pub.unique as EccPoint;
    if (x.length === 0 || y.length === 0) keyError('ECC public area has an empty point (a template, not a key)');
    return { kty: 'EC', crv: curve.jwk, x: b64u(padCoordinate(x, curve.bytes, 'x')), y: b64u(padCoordinate(y, curve.bytes, 'y')) };
  }
  return keyError(`a ${algName(pub.type)} public area is not an asymmetric key`, { type: pub.type });
}

/** A node:crypto public key for an RSA or ECC TPMT_PUBLIC; a point off the curve is ERR_TPM_CRYPTO_KEY. */
export function publicKeyFromTpm(pub: TPMT_PUBLIC): KeyObject {
  const jwk = publicJwk(pub);
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (e) {
    return keyError(`the public key in the TPMT_PUBLIC is invalid: ${(e as Error).message}`, { type: pub.type }, e);
  }
}

/** SubjectPublicKeyInfo PEM of a TPMT_PUBLIC (what tpm2_readpublic -f pem and openssl write). */
export function publicKeyPemFromTpm(pub: TPMT_PUBLIC): string {
  return publicKeyFromTpm(pub).export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Places a node:crypto public key into a template: the result is the template with `unique` set.
 * The key must be of the template's type and size (RSA bits and exponent, ECC curve).
 */
export function tpmPublicFromKey(key: KeyObject, template: TPMT_PUBLIC): TPMT_PUBLIC {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' });
  if (template.type === TPM_ALG.RSA && jwk.kty === 'RSA') {
    const p = template.parameters as RsaParms;
    const n = unb64u(jwk.n, 'n');
    const e = Number(bigFromBytes(unb64u(jwk.e, 'e')));
    if (n.length * 8 !== p.keyBits) keyError(`RSA key has ${n.length * 8} bits, the template wants ${p.keyBits}`);
    if (e !== (p.exponent === 0 ? RSA_DEFAULT_EXPONENT : p.exponent)) keyError(`RSA exponent ${e} does not match the template's ${p.exponent}`);
    return { ...template, unique: n };
  }
  if (template.type === TPM_ALG.ECC && jwk.kty === 'EC') {
    const p = template.parameters as EccParms;
    const curve = eccCurve(p.curveID);
    if (jwk.crv !== curve.jwk) keyError(`EC key is on ${String(jwk.crv)}, the template wants ${curve.jwk}`);
    return { ...template, unique: { x: unb64u(jwk.x, 'x'), y: unb64u(jwk.y, 'y') } };
  }
  return keyError(`a ${publicKey.asymmetricKeyType ?? 'unknown'} key does not fit a ${algName(template.type)} template`);
}

/** a⁻¹ mod m (extended Euclid); ERR_TPM_CRYPTO_KEY when a and m share a factor. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) keyError('value has no modular inverse (not an RSA prime pair)');
  return ((oldS % m) + m) % m;
}

/**
 * The private key of an object from its public area and TPMT_SENSITIVE (RSA: one prime p of the
 * modulus, as the TPM stores it; ECC: the scalar d). A prime that does not divide n is refused.
 */
export function privateKeyFromTpm(pub: TPMT_PUBLIC, sensitive: TPMT_SENSITIVE): KeyObject {
  if (sensitive.sensitiveType !== pub.type) keyError(`sensitive area of type ${algName(sensitive.sensitiveType)} for a ${algName(pub.type)} public area`);
  const jwk = publicJwk(pub);
  if (pub.type === TPM_ALG.RSA) {
    const n = bigFromBytes(unb64u(jwk.n, 'n'));
    const e = bigFromBytes(unb64u(jwk.e, 'e'));
    const p = bigFromBytes(sensitive.sensitive);
    if (p <= 1n || n % p !== 0n) keyError('RSA sensitive prime does not divide the modulus');
    const q = n / p;
    const d = modInverse(e, (p - 1n) * (q - 1n));
    const size = (pub.unique as Uint8Array).length / 2;
    Object.assign(jwk, {
      p: b64u(bytesFromBig(p, size)),
      q: b64u(bytesFromBig(q, size)),
      d: b64u(bytesFromBig(d, size * 2)),
      dp: b64u(bytesFromBig(d % (p - 1n))),
      dq: b64u(bytesFromBig(d % (q - 1n))),
      qi: b64u(bytesFromBig(modInverse(q, p))),
    });
  } else {
    const curve = eccCurve((pub.parameters as EccParms).curveID);
    jwk.d = b64u(padCoordinate(sensitive.sensitive, curve.bytes, 'd'));
  }
  try {
    return createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (e) {
    return keyError(`the private key does not match its public area: ${(e as Error).message}`, {}, e);
  }
}

/** The `sensitive` member of TPMT_SENSITIVE for a private key: RSA's larger-index prime p, ECC's d. */
export function sensitiveFromPrivateKey(key: KeyObject): Uint8Array {
  if (key.type !== 'private') keyError('a private key is required');
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA') return unb64u(jwk.p, 'p');
  if (jwk.kty === 'EC') return padCoordinate(unb64u(jwk.d, 'd'), eccCurve(curveIdOfJwk(jwk.crv)).bytes, 'd');
  return keyError(`a ${key.asymmetricKeyType ?? 'unknown'} key is neither RSA nor ECC`);
}

function curveIdOfJwk(crv: string | undefined): number {
  for (const [id, c] of Object.entries(ECC_CURVES)) if (c.jwk === crv) return Number(id);
  return keyError(`curve ${String(crv)} is not supported`);
}

/** Uncompressed SEC1 point 04 ‖ x ‖ y of an ECC public area, for node:crypto ECDH. */
export function eccPointBytes(pub: TPMT_PUBLIC): Uint8Array {
  if (pub.type !== TPM_ALG.ECC) keyError(`ECDH needs an ECC key, got ${algName(pub.type)}`);
  const curve = eccCurve((pub.parameters as EccParms).curveID);
  const { x, y } = pub.unique as EccPoint;
  const out = new Uint8Array(1 + 2 * curve.bytes);
  out[0] = 4;
  out.set(padCoordinate(x, curve.bytes, 'x'), 1);
  out.set(padCoordinate(y, curve.bytes, 'y'), 1 + curve.bytes);
  return out;
}
