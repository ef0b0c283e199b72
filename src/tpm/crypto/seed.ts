/**
 * Secret exchange to a TPM key (TPM 2.0 Library Part 1, 11.4.10 and Annex B/C): how a seed is
 * sent to the holder of an RSA or ECC decryption key, used for credentials ("IDENTITY"), salted
 * sessions ("SECRET") and duplication ("DUPLICATE").
 *
 * RSA: the seed (one digest of the key's nameAlg) is RSA-OAEP encrypted with the nameAlg hash and
 * the label, zero-terminated, as OAEP label. ECC: an ephemeral key on the key's curve; the seed is
 * KDFe(nameAlg, Z, label, ephemeral.x, key.x); the ephemeral point is the encrypted secret.
 */
import { constants, createECDH, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { concatBytes, utf8 } from '../../bytes/index.ts';
import { TPM_ALG, algName } from '../constants.ts';
import { decode, encode } from '../schema/index.ts';
import { TPMS_ECC_POINT, type TPMT_PUBLIC } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize, hashName, kdfe, type KdfLabel } from './kdf.ts';
import { bigFromBytes, eccCurve, eccPointBytes, padCoordinate, publicKeyFromTpm, type EccParms, type EccPoint } from './keys.ts';
import { systemRandom, type RandomSource } from './random.ts';
import { oaepEncode } from './rsa-padding.ts';

export interface EncryptedSeed {
  /** The secret both sides now share: nameAlg-digest-sized. */
  readonly seed: Uint8Array;
  /** Contents of the TPM2B_ENCRYPTED_SECRET: the OAEP ciphertext, or a marshalled TPMS_ECC_POINT. */
  readonly encryptedSecret: Uint8Array;
}

/** The OAEP label is the KDF label with its terminating zero ("IDENTITY\0"). */
function oaepLabel(label: KdfLabel): Uint8Array {
  const b = typeof label === 'string' ? utf8(label) : label;
  return b.length > 0 && b[b.length - 1] === 0 ? b : concatBytes(b, new Uint8Array(1));
}

/** RSAES-OAEP with the padding seed drawn from `random` (see rsa-padding.ts for why not node's OAEP). */
function oaepEncrypt(key: KeyObject, hash: string, hLen: number, label: Uint8Array, message: Uint8Array, random: RandomSource): Uint8Array {
  const k = (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, oaepEncode(hash, hLen, k, label, message, random)));
}

/** An ephemeral ECDH key whose scalar comes from `random` (1 ≤ d < n, by rejection). */
function ephemeralEcdh(curveID: number, random: RandomSource): ReturnType<typeof createECDH> {
  const curve = eccCurve(curveID);
  const ecdh = createECDH(curve.nodeName);
  const topBits = ((curve.order.toString(2).length - 1) % 8) + 1;
  for (;;) {
    const d = random(curve.bytes);
    d[0]! &= (1 << topBits) - 1;
    const v = bigFromBytes(d);
    if (v === 0n || v >= curve.order) continue;
    ecdh.setPrivateKey(d);
    return ecdh;
  }
}

function nameAlgOf(key: TPMT_PUBLIC): number {
  if (key.nameAlg === TPM_ALG.NULL) throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', 'a key with nameAlg TPM_ALG_NULL cannot receive a secret', {});
  return key.nameAlg;
}

/** Creates a fresh seed and its encryption to `key` (the sender's side: MakeCredential, salted StartAuthSession). */
export function createEncryptedSeed(key: TPMT_PUBLIC, label: KdfLabel, random: RandomSource = systemRandom): EncryptedSeed {
  const nameAlg = nameAlgOf(key);
  const size = digestSize(nameAlg);
  if (key.type === TPM_ALG.RSA) {
    const seed = random(size);
    return { seed, encryptedSecret: oaepEncrypt(publicKeyFromTpm(key), hashName(nameAlg), size, oaepLabel(label), seed, random) };
  }
  if (key.type === TPM_ALG.ECC) {
    const { curveID } = key.parameters as EccParms;
    const curve = eccCurve(curveID);
    const ecdh = ephemeralEcdh(curveID, random);
    const ephemeral = new Uint8Array(ecdh.getPublicKey());
    const x = ephemeral.subarray(1, 1 + curve.bytes);
    const y = ephemeral.subarray(1 + curve.bytes);
    const z = new Uint8Array(ecdh.computeSecret(eccPointBytes(key)));
    const keyX = (key.unique as EccPoint).x;
    const seed = kdfe(nameAlg, z, label, x, keyX, size * 8);
    return { seed, encryptedSecret: encode(TPMS_ECC_POINT, { x, y }) };
  }
  throw new TpmCryptoError('ERR_TPM_CRYPTO_KEY', `a ${algName(key.type)} key cannot receive an encrypted secret`, { type: key.type });
}

function decryptError(message: string, cause?: unknown): never {
  throw new TpmCryptoError('ERR_TPM_CRYPTO_DECRYPT', message, {}, cause === undefined ? undefined : { cause });
}

/**
 * Recovers the seed with the key's private half (the TPM's side: ActivateCredential, salted
 * StartAuthSession). A wrong label, padding or off-curve point is ERR_TPM_CRYPTO_DECRYPT.
 */
export function recoverSeed(key: TPMT_PUBLIC, privateKey: KeyObject, label: KdfLabel, encryptedSecret: Uint8Array): Uint8Array {
  const nameAlg = nameAlgOf(key);
  const size = digestSize(nameAlg);
  if (key.type === TPM_ALG.RSA) {
    let seed: Uint8Array;
    try {
      seed = new Uint8Array(
        privateDecrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hashName(nameAlg), oaepLabel: oaepLabel(label) },
          encryptedSecret,
        ),
      );
    } catch (e) {
      return decryptError(`RSA-OAEP decryption of the ${String(label)} secret failed (wrong key, label or corrupted ciphertext)`, e);
    }
    // A TPM refuses a seed longer than the key's name digest (Part 1, CryptSecretDecrypt): an
    // attacker-chosen oversize seed must not be accepted as key material.
    if (seed.length > size)
      return decryptError(`the decrypted ${String(label)} secret is ${seed.length} bytes, more than the ${size}-byte ${algName(nameAlg)} digest`);
    return seed;
  }
  if (key.type === TPM_ALG.ECC) {
    const curve = eccCurve((key.parameters as EccParms).curveID);
    let point: { x: Uint8Array; y: Uint8Array };
    try {
      point = decode(TPMS_ECC_POINT, encryptedSecret, 'encryptedSecret');
    } catch (e) {
      return decryptError(`the encrypted ${String(label)} secret is not a TPMS_ECC_POINT: ${(e as Error).message}`, e);
    }
    const d = privateKey.type === 'private' ? privateKey.export({ format: 'jwk' }).d : undefined;
    if (d === undefined) return decryptError('recovering an ECC secret needs the EC private key');
    let z: Uint8Array;
    try {
      const ecdh = createECDH(curve.nodeName);
      ecdh.setPrivateKey(Buffer.from(d, 'base64url'));
      const peer = concatBytes(new Uint8Array([4]), padCoordinate(point.x, curve.bytes, 'x'), padCoordinate(point.y, curve.bytes, 'y'));
      z = new Uint8Array(ecdh.computeSecret(peer));
    } catch (e) {
      return decryptError(`the ephemeral point of the ${String(label)} secret is not on ${curve.jwk}`, e);
    }
    return kdfe(nameAlg, z, label, point.x, (key.unique as EccPoint).x, size * 8);
  }
  return decryptError(`a ${algName(key.type)} key cannot hold an encrypted secret`);
}
