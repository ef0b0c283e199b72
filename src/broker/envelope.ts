// Envelope encryption of one secret (docs/design.md "Secrets at rest"): the value is encrypted under a
// data key of its own (AES-256-GCM), and the data key is wrapped by a master key. Both layers bind
// the secret's owner, name and version as associated data, so a sealed row copied onto another
// node, name or version does not decrypt, and neither does a wrapped key moved between rows.
//
//   ciphertext  = 0x01 ‖ AES-256-GCM(dataKey, value, AAD ["vouch.secret.v1", owner, name, version])
//   wrapped_key = masterKey.wrap(dataKey, AAD ["vouch.data-key.v1", owner, name, version])
import { randomBytes } from 'node:crypto';
import type { SealedSecret, SecretSeal } from '../store/index.ts';
import { aadOf, KEY_BYTES, open, seal } from './aes-gcm.ts';
import { BrokerError } from './errors.ts';
import type { MasterKey } from './master-key.ts';

/** The first byte of a sealed value: AES-256-GCM, 12-byte IV, 16-byte tag. */
const FORMAT_V1 = 0x01;

export interface SecretAddress {
  readonly owner: string;
  readonly name: string;
  readonly version: number;
}

export function dataKeyAad(s: SecretAddress): Uint8Array {
  return aadOf('vouch.data-key.v1', s.owner, s.name, s.version);
}

function valueAad(s: SecretAddress): Uint8Array {
  return aadOf('vouch.secret.v1', s.owner, s.name, s.version);
}

/** Encrypts `value` under its data key: the stored ciphertext. */
export function sealWithDataKey(address: SecretAddress, value: Uint8Array, dataKey: Uint8Array): Uint8Array {
  const body = seal(dataKey, value, valueAad(address));
  const out = new Uint8Array(1 + body.length);
  out[0] = FORMAT_V1;
  out.set(body, 1);
  return out;
}

/** Decrypts a stored value with its (unwrapped) data key. */
export function openWithDataKey(address: SecretAddress, ciphertext: Uint8Array, dataKey: Uint8Array): Buffer {
  if (ciphertext[0] !== FORMAT_V1) {
    throw new BrokerError('ERR_BROKER_UNWRAP', `secret ${address.name} v${address.version} of ${address.owner} has unknown format ${String(ciphertext[0])}`);
  }
  return open(dataKey, ciphertext.subarray(1), valueAad(address), `secret ${address.name} v${address.version} of ${address.owner}`);
}

/** Seals a value for storage under the master key. The data key is zeroed before returning. */
export function sealSecret(masterKey: MasterKey, address: SecretAddress, value: Uint8Array): SecretSeal {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    return { keyId: masterKey.id, wrappedKey: masterKey.wrap(dataKey, dataKeyAad(address)), ciphertext: sealWithDataKey(address, value, dataKey) };
  } finally {
    dataKey.fill(0);
  }
}

/** Unwraps a stored secret's data key with whichever configured master key wrapped it. The caller zeroes it. */
export function unwrapDataKey(keyring: ReadonlyMap<string, MasterKey>, sealed: SealedSecret): Buffer {
  const masterKey = keyring.get(sealed.keyId);
  if (!masterKey) {
    throw new BrokerError(
      'ERR_BROKER_MASTER_KEY_MISSING',
      `secret ${sealed.name} v${sealed.version} of ${sealed.owner} is wrapped by master key ${sealed.keyId}, which is not configured`,
      {
        keyId: sealed.keyId,
      },
    );
  }
  return masterKey.unwrap(sealed.wrappedKey, dataKeyAad(sealed));
}

/** Decrypts a stored secret. The caller zeroes the returned buffer when done with it. */
export function openSecret(keyring: ReadonlyMap<string, MasterKey>, sealed: SealedSecret): Buffer {
  const dataKey = unwrapDataKey(keyring, sealed);
  try {
    return openWithDataKey(sealed, sealed.ciphertext, dataKey);
  } finally {
    dataKey.fill(0);
  }
}
