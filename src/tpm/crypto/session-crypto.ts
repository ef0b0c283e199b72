/**
 * Session cryptography of TPM 2.0 authorization sessions (Library Part 1, 19.6 and 21), as pure
 * functions shared by the caller (src/tpm/session.ts) and the TPM side (the software TPM).
 *
 *   sessionKey = KDFa(authHash, bind.authValue ‖ salt, "ATH", nonceTPM, nonceCaller, digest bits)
 *   cpHash     = H(commandCode ‖ Name1 ‖ Name2 ‖ Name3 ‖ parameters)
 *   rpHash     = H(responseCode ‖ commandCode ‖ parameters)
 *   hmac       = HMAC(sessionKey ‖ authValue, pHash ‖ nonceNewer ‖ nonceOlder ‖ sessionAttributes)
 *
 * A salt is sent to a TPM key like a credential seed, with label "SECRET".
 */
import { createCipheriv, createDecipheriv, createHmac, type KeyObject } from 'node:crypto';
import { ByteWriter, concatBytes } from '../../bytes/index.ts';
import { tpmHash } from '../names.ts';
import type { TPMT_PUBLIC } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize, hashName, kdfa } from './kdf.ts';
import { systemRandom, type RandomSource } from './random.ts';
import { createEncryptedSeed, recoverSeed, type EncryptedSeed } from './seed.ts';

const u32 = (v: number): Uint8Array => new ByteWriter(4).u32(v).finish();

/** The session key; empty for an unbound, unsalted session (then HMACs are keyed by authValue alone). */
export function sessionKey(authHash: number, bindAuthValue: Uint8Array, salt: Uint8Array, nonceTPM: Uint8Array, nonceCaller: Uint8Array): Uint8Array {
  const material = concatBytes(bindAuthValue, salt);
  if (material.length === 0) return new Uint8Array(0);
  return kdfa(authHash, material, 'ATH', nonceTPM, nonceCaller, digestSize(authHash) * 8);
}

/** cpHash: what a command HMAC and PolicyCpHash cover. */
export function cpHash(hashAlg: number, commandCode: number, names: readonly Uint8Array[], parameters: Uint8Array): Uint8Array {
  return tpmHash(hashAlg, u32(commandCode), ...names, parameters);
}

/** rpHash: what a response HMAC covers (responseCode is always TPM_RC_SUCCESS when there is one). */
export function rpHash(hashAlg: number, responseCode: number, commandCode: number, parameters: Uint8Array): Uint8Array {
  return tpmHash(hashAlg, u32(responseCode), u32(commandCode), parameters);
}

/**
 * A command or response HMAC. For a command, nonceNewer is nonceCaller and nonceOlder nonceTPM;
 * for a response the other way round. `hmacKey` is sessionKey ‖ authValue (authValue omitted for a
 * policy session without PolicyAuthValue, and for the bound entity).
 */
export function sessionHmac(
  authHash: number,
  hmacKey: Uint8Array,
  pHash: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  sessionAttributes: number,
): Uint8Array {
  return new Uint8Array(
    createHmac(hashName(authHash), hmacKey)
      .update(pHash)
      .update(nonceNewer)
      .update(nonceOlder)
      .update(new Uint8Array([sessionAttributes & 0xff]))
      .digest(),
  );
}

/** A fresh salt encrypted to `tpmKey` (for TPM2_StartAuthSession's encryptedSalt). */
export function createSalt(tpmKey: TPMT_PUBLIC, random: RandomSource = systemRandom): EncryptedSeed {
  return createEncryptedSeed(tpmKey, 'SECRET', random);
}

/** The TPM side: the salt from encryptedSalt with the tpmKey's private half. */
export function recoverSalt(tpmKey: TPMT_PUBLIC, privateKey: KeyObject, encryptedSalt: Uint8Array): Uint8Array {
  return recoverSeed(tpmKey, privateKey, 'SECRET', encryptedSalt);
}

/**
 * Session parameter encryption with AES-CFB (Part 1, 21.3): key ‖ iv = KDFa(authHash,
 * sessionKey ‖ authValue, "CFB", nonceNewer, nonceOlder, keyBits + 128). Commands use
 * nonceCaller as the newer nonce, responses nonceTPM. Only the first parameter's data is encrypted.
 */
export function parameterCfb(
  authHash: number,
  sessionValue: Uint8Array,
  keyBits: number,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  data: Uint8Array,
  direction: 'encrypt' | 'decrypt',
): Uint8Array {
  if (![128, 192, 256].includes(keyBits))
    throw new TpmCryptoError('ERR_TPM_CRYPTO_UNSUPPORTED', `AES-${keyBits} parameter encryption is not supported`, { keyBits });
  const material = kdfa(authHash, sessionValue, 'CFB', nonceNewer, nonceOlder, keyBits + 128);
  const key = material.subarray(0, keyBits / 8);
  const iv = material.subarray(keyBits / 8);
  const cipher = `aes-${keyBits}-cfb`;
  const c = direction === 'encrypt' ? createCipheriv(cipher, key, iv) : createDecipheriv(cipher, key, iv);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** Session parameter encryption with XOR obfuscation (Part 1, 21.2): data ⊕ KDFa(hash, key, "XOR", nonceNewer, nonceOlder, bits). */
export function parameterXor(hashAlg: number, sessionValue: Uint8Array, nonceNewer: Uint8Array, nonceOlder: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const mask = kdfa(hashAlg, sessionValue, 'XOR', nonceNewer, nonceOlder, data.length * 8);
  return data.map((b, i) => b ^ mask[i]!);
}
