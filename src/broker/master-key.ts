// Master keys wrap data keys. Three sources, named by a spec string:
//   file:/etc/vouch/master.key        32 bytes: raw, 64 hex digits, or base64; owner-only (0600)
//   env:VOUCH_MASTER_KEY              64 hex digits or base64 of 32 bytes
//   pkcs11:token=vouch;object=master?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/vouch/pin
//                                     an AES-256 key object on an HSM (RFC 7512 URI), which never leaves it
// Every source wraps the same way (AES-256-GCM, IV ‖ ciphertext ‖ tag, see aes-gcm.ts), so a key
// moved from a file into an HSM keeps unwrapping what it wrapped.
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { openSync, readFileSync, writeFileSync, closeSync, fstatSync } from 'node:fs';
import { KEY_BYTES, open, seal } from './aes-gcm.ts';
import { BrokerError } from './errors.ts';
import { openPkcs11MasterKey } from './pkcs11.ts';

/** A key that wraps and unwraps data keys. Operations are synchronous (in process, or one HSM call). */
export interface MasterKey {
  /**
   * Stored with every data key it wraps. For a key held in software: a digest of the key (so two
   * different keys never share an id); for an HSM key: the token's serial and the object's label.
   */
  readonly id: string;
  /** Where the key comes from, for messages (never the key). */
  readonly description: string;
  wrap(dataKey: Uint8Array, aad: Uint8Array): Uint8Array;
  /** ERR_BROKER_UNWRAP when `wrapped` was not wrapped by this key with this AAD. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Buffer;
  /** Forgets the key (closes the HSM session). */
  close(): void;
}

class SoftwareMasterKey implements MasterKey {
  readonly id: string;
  readonly description: string;
  readonly #key: KeyObject;

  /** Takes the raw key and zeroes the caller's buffer: the key lives on only inside OpenSSL. */
  constructor(raw: Buffer, description: string) {
    // The id is an HMAC under the key itself: it names the key without revealing anything about it.
    this.id = `aes256:${createHmac('sha256', raw).update('vouch master key id').digest('hex').slice(0, 32)}`;
    this.#key = createSecretKey(raw);
    raw.fill(0);
    this.description = description;
  }

  wrap(dataKey: Uint8Array, aad: Uint8Array): Uint8Array {
    return seal(this.#key, dataKey, aad);
  }

  unwrap(wrapped: Uint8Array, aad: Uint8Array): Buffer {
    return open(this.#key, wrapped, aad, `a data key wrapped by ${this.id}`);
  }

  close(): void {
    // A KeyObject's memory is released with the object; nothing else holds the key.
  }
}

/** A master key given as bytes (tests, and tools that already hold one). Zeroes `raw`. */
export function masterKeyFromBytes(raw: Uint8Array, description = 'key bytes'): MasterKey {
  if (raw.length !== KEY_BYTES) throw new BrokerError('ERR_BROKER_MASTER_KEY', `a master key is ${KEY_BYTES} bytes, got ${raw.length}`);
  const copy = Buffer.from(raw);
  raw.fill(0);
  return new SoftwareMasterKey(copy, description);
}

/** 32 bytes from text: 64 hex digits or base64 (either alphabet), surrounding whitespace ignored. */
function decodeKeyText(text: string, where: string): Buffer {
  const t = text.trim();
  const raw = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : undefined;
  if (raw?.length !== KEY_BYTES) throw new BrokerError('ERR_BROKER_MASTER_KEY', `${where} must hold 32 bytes as 64 hex digits or base64`);
  return raw;
}

function loadFileKey(path: string): MasterKey {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `cannot read master key file ${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BrokerError('ERR_BROKER_MASTER_KEY', `master key file ${path} is not a regular file`, { path });
    // As ssh does with private keys: a key others can read is a key that may have leaked.
    if ((st.mode & 0o077) !== 0) {
      throw new BrokerError('ERR_BROKER_MASTER_KEY', `master key file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`, {
        path,
      });
    }
    if (st.size > 1024) throw new BrokerError('ERR_BROKER_MASTER_KEY', `master key file ${path} is ${st.size} bytes; a key is 32`, { path });
    const content = readFileSync(fd);
    if (content.length === KEY_BYTES) return new SoftwareMasterKey(content, `file ${path}`);
    const key = decodeKeyText(content.toString('latin1'), `master key file ${path}`);
    content.fill(0);
    return new SoftwareMasterKey(key, `file ${path}`);
  } finally {
    closeSync(fd);
  }
}

function loadEnvKey(name: string, env: NodeJS.ProcessEnv): MasterKey {
  const value = env[name];
  if (value === undefined || value === '')
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `environment variable ${name} (the master key) is not set`, { variable: name });
  return new SoftwareMasterKey(decodeKeyText(value, `environment variable ${name}`), `environment variable ${name}`);
}

/**
 * Loads the master key a spec names (`file:PATH`, `env:NAME` or a `pkcs11:` URI).
 * The caller closes it when done.
 */
export function loadMasterKey(spec: string, env: NodeJS.ProcessEnv = process.env): MasterKey {
  if (spec.startsWith('file:')) return loadFileKey(spec.slice('file:'.length));
  if (spec.startsWith('env:')) return loadEnvKey(spec.slice('env:'.length), env);
  if (spec.startsWith('pkcs11:')) return openPkcs11MasterKey(spec);
  throw new BrokerError('ERR_BROKER_MASTER_KEY', 'a master key is file:PATH, env:NAME or a pkcs11: URI', { spec: spec.slice(0, 16) });
}

/** Writes a new random master key (hex) to `path`, owner-only; refuses to overwrite an existing file. */
export function createMasterKeyFile(path: string): void {
  const raw = randomBytes(KEY_BYTES);
  try {
    writeFileSync(path, `${raw.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `cannot create master key file ${path}: ${(e as Error).message}`, { path }, { cause: e });
  } finally {
    raw.fill(0);
  }
}
