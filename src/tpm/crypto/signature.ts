/**
 * TPMT_SIGNATURE creation and verification with node:crypto keys: RSASSA-PKCS1-v1_5, RSASSA-PSS
 * and ECDSA (TPM 2.0 Library Part 1, C.5/C.6; Part 2, 11.3.4).
 *
 * Verification of a signed message (a quote's TPMS_ATTEST bytes as received) uses node:crypto
 * directly; verification of a bare digest (TPM2_VerifySignature) and all signing go through the
 * digest paths, which the software TPM needs to be reproducible when seeded.
 */
import { constants, createHash, privateEncrypt, publicDecrypt, publicEncrypt, privateDecrypt, verify, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../../bytes/index.ts';
import { encodeSequence, encodeUnsignedInteger } from '../../der/index.ts';
import { TPM_ALG, algName } from '../constants.ts';
import type { TPMT_SIGNATURE } from '../structures.ts';
import { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize, hashName } from './kdf.ts';
import { ECC_CURVES, padCoordinate, type EccCurve } from './keys.ts';
import { systemRandom, type RandomSource } from './random.ts';
import { digestInfo, pssEncode, pssVerify } from './rsa-padding.ts';

export type SignatureAlg = typeof TPM_ALG.RSASSA | typeof TPM_ALG.RSAPSS | typeof TPM_ALG.ECDSA;
export interface SigningScheme {
  readonly sigAlg: SignatureAlg;
  readonly hashAlg: number;
}
/** What was signed: the message (hashed here with the scheme's hash) or its digest. */
export type Signed = { readonly message: Uint8Array } | { readonly digest: Uint8Array };

function sigError(message: string, details: Record<string, unknown> = {}): never {
  throw new TpmCryptoError('ERR_TPM_CRYPTO_SIGNATURE', message, details);
}

function curveOf(key: KeyObject): EccCurve {
  const named = key.asymmetricKeyDetails?.namedCurve;
  const curve = Object.values(ECC_CURVES).find((c) => c.nodeName === named);
  if (!curve) throw new TpmCryptoError('ERR_TPM_CRYPTO_UNSUPPORTED', `EC curve ${String(named)} is not supported`, {});
  return curve;
}

function keyKind(key: KeyObject): 'rsa' | 'ec' {
  const t = key.asymmetricKeyType;
  if (t === 'rsa' || t === 'ec') return t;
  throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', `a ${String(t)} key cannot make or check TPM signatures`, {});
}

function digestOf(hashAlg: number, signed: Signed): Uint8Array {
  if ('digest' in signed) {
    if (signed.digest.length !== digestSize(hashAlg))
      sigError(`digest of ${signed.digest.length} bytes for ${algName(hashAlg)}`, { length: signed.digest.length });
    return signed.digest;
  }
  return new Uint8Array(createHash(hashName(hashAlg)).update(signed.message).digest());
}

/** Signs with the TPM's conventions: PSS salt of one digest, ECDSA r and s padded to the curve size. */
export function signTpm(privateKey: KeyObject, scheme: SigningScheme, signed: Signed, random: RandomSource = systemRandom): TPMT_SIGNATURE {
  const kind = keyKind(privateKey);
  const digest = digestOf(scheme.hashAlg, signed);
  if (scheme.sigAlg === TPM_ALG.ECDSA) {
    if (kind !== 'ec') sigError('ECDSA needs an EC key');
    const d = privateKey.export({ format: 'jwk' }).d;
    if (d === undefined) sigError('signing needs the private key');
    const curve = curveOf(privateKey);
    const { r, s } = ecdsaSignDigest(curve, padCoordinate(new Uint8Array(Buffer.from(d, 'base64url')), curve.bytes, 'd'), digest, random);
    return { sigAlg: TPM_ALG.ECDSA, signature: { hash: scheme.hashAlg as never, signatureR: r, signatureS: s } };
  }
  if (kind !== 'rsa') sigError(`${algName(scheme.sigAlg)} needs an RSA key`);
  const modBits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const sig =
    scheme.sigAlg === TPM_ALG.RSASSA
      ? privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo(scheme.hashAlg, digest))
      : privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, pssEncode(hashName(scheme.hashAlg), digest.length, modBits, digest, random));
  return { sigAlg: scheme.sigAlg, signature: { hash: scheme.hashAlg as never, sig: new Uint8Array(sig) } };
}

/**
 * Verifies a TPMT_SIGNATURE; throws ERR_TPM_CRYPTO_SIGNATURE saying why (scheme does not fit the
 * key, malformed r/s, or the signature does not verify). Returns the scheme that was verified.
 */
export function verifyTpmSignature(publicKey: KeyObject, signed: Signed, sig: TPMT_SIGNATURE): SigningScheme {
  const kind = keyKind(publicKey);
  if (sig.sigAlg === TPM_ALG.ECDSA) {
    if (kind !== 'ec') sigError('an ECDSA signature cannot be checked with an RSA key', { sigAlg: sig.sigAlg });
    const { hash, signatureR, signatureS } = sig.signature as { hash: number; signatureR: Uint8Array; signatureS: Uint8Array };
    const curve = curveOf(publicKey);
    if (signatureR.length > curve.bytes || signatureS.length > curve.bytes) sigError(`ECDSA r/s longer than the ${curve.jwk} order`, {});
    let ok: boolean;
    if ('message' in signed) {
      ok = verify(hashName(hash), signed.message, publicKey, ecdsaSignatureDer(signatureR, signatureS));
    } else {
      const r = padCoordinate(signatureR, curve.bytes, 'r');
      const s = padCoordinate(signatureS, curve.bytes, 's');
      const jwk = publicKey.export({ format: 'jwk' });
      const point = { x: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')), y: new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url')) };
      ok = ecdsaVerifyDigest(curve, point, digestOf(hash, signed), { r, s });
    }
    if (!ok) sigError(`ECDSA-${algName(hash)} signature does not verify under the ${curve.jwk} key`, { hash });
    return { sigAlg: TPM_ALG.ECDSA, hashAlg: hash };
  }
  if (sig.sigAlg === TPM_ALG.RSASSA || sig.sigAlg === TPM_ALG.RSAPSS) {
    if (kind !== 'rsa') sigError(`an ${algName(sig.sigAlg)} signature cannot be checked with an EC key`, { sigAlg: sig.sigAlg });
    const { hash, sig: s } = sig.signature as { hash: number; sig: Uint8Array };
    const modBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (s.length !== modBits / 8) sigError(`RSA signature of ${s.length} bytes for a ${modBits}-bit key`, { length: s.length });
    const ok = sig.sigAlg === TPM_ALG.RSASSA ? verifyRsassa(publicKey, hash, signed, s) : verifyRsapss(publicKey, hash, modBits, signed, s);
    if (!ok) sigError(`${algName(sig.sigAlg)}-${algName(hash)} signature does not verify under the ${modBits}-bit RSA key`, { sigAlg: sig.sigAlg, hash });
    return { sigAlg: sig.sigAlg, hashAlg: hash };
  }
  return sigError(`signature scheme ${algName(sig.sigAlg)} is not supported (RSASSA, RSAPSS and ECDSA are)`, { sigAlg: sig.sigAlg });
}

/**
 * ECDSA-Sig-Value (RFC 3279 2.2.3): SEQUENCE { INTEGER r, INTEGER s }. Node's
 * `dsaEncoding: 'ieee-p1363'` would take r‖s directly, but that option routes every call through
 * a slower key-preparation path (measured: ~40% fewer verifications/s than a DER signature with
 * the bare KeyObject), and a verifier checks quotes in bulk.
 */
function ecdsaSignatureDer(r: Uint8Array, s: Uint8Array): Uint8Array {
  return encodeSequence(encodeUnsignedInteger(r), encodeUnsignedInteger(s));
}

function verifyRsassa(key: KeyObject, hash: number, signed: Signed, s: Uint8Array): boolean {
  if ('message' in signed) return verify(hashName(hash), signed.message, key, s); // PKCS#1 v1.5 is node's default for RSA keys
  let recovered: Uint8Array;
  try {
    recovered = new Uint8Array(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, s));
  } catch {
    return false;
  }
  return bytesEqual(recovered, digestInfo(hash, digestOf(hash, signed)));
}

/**
 * RSASSA-PSS. A message (a quote) goes through node:crypto with the salt length recovered from the
 * signature: TPMs before Library spec 1.38 (and some since) sign with the largest salt the key
 * allows, later ones with one digest, and both are valid PSS. A bare digest (TPM2_VerifySignature)
 * cannot go through node:crypto, which hashes the message itself; that path decodes EM here.
 */
function verifyRsapss(key: KeyObject, hash: number, modBits: number, signed: Signed, s: Uint8Array): boolean {
  if ('message' in signed) {
    return verify(hashName(hash), signed.message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, s);
  }
  let em: Uint8Array;
  try {
    em = new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, s));
  } catch {
    return false; // s ≥ n
  }
  return pssVerify(hashName(hash), digestSize(hash), modBits, signed.digest, em);
}
