// AES-256-GCM as every layer of the broker uses it: a fresh random 96-bit IV per message, a
// 128-bit tag, output IV ‖ ciphertext ‖ tag. Each data key seals exactly one secret, so IV reuse
// under a data key cannot happen; under a master or backup key, random 96-bit IVs stay far below
// the 2^32 messages NIST SP 800-38D allows per key.
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { BrokerError } from './errors.ts';

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export function seal(key: KeyObject | Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const out = new Uint8Array(IV_BYTES + body.length + TAG_BYTES);
  out.set(iv, 0);
  out.set(body, IV_BYTES);
  cipher.final(); // GCM has no final block: the tag is all that remains
  out.set(cipher.getAuthTag(), IV_BYTES + body.length);
  body.fill(0);
  return out;
}

/** Decrypts and authenticates; ERR_BROKER_UNWRAP (naming `what`) when the bytes, key or AAD are not the sealed ones. */
export function open(key: KeyObject | Uint8Array, sealed: Uint8Array, aad: Uint8Array, what: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new BrokerError('ERR_BROKER_UNWRAP', `${what} is too short to be sealed (${sealed.length} bytes)`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES));
  try {
    decipher.final();
  } catch (e) {
    body.fill(0);
    throw new BrokerError('ERR_BROKER_UNWRAP', `${what} does not authenticate: altered, moved, or sealed under another key`, {}, { cause: e });
  }
  return body;
}

/** Associated data: a purpose label and the fields a sealed value is bound to, as an unambiguous JSON array. */
export function aadOf(purpose: string, ...fields: readonly (string | number)[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([purpose, ...fields]));
}
