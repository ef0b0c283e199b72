// A master key held by a PKCS#11 HSM (SoftHSM2 in the tests): an AES-256 secret-key object that is
// sensitive and not extractable, used through C_Encrypt/C_Decrypt with CKM_AES_GCM. Named by an
// RFC 7512 URI:
//   pkcs11:token=<label>;object=<label>[;id=<%XX bytes>][;serial=<serial>]?module-path=<.so>&(pin-value=<pin>|pin-source=file:<path>)
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { IV_BYTES, KEY_BYTES, TAG_BYTES } from './aes-gcm.ts';
import { BrokerError } from './errors.ts';
import type { MasterKey } from './master-key.ts';

export interface Pkcs11KeyLocation {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly tokenSerial?: string;
  readonly objectLabel: string;
  readonly objectId?: Uint8Array;
  readonly pin: string;
}

const PATH_ATTRIBUTES = new Set(['token', 'object', 'id', 'serial', 'type']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'pin-value', 'pin-source']);

function uriError(message: string): BrokerError {
  return new BrokerError('ERR_BROKER_MASTER_KEY', `pkcs11 URI: ${message}`);
}

/** RFC 7512 values are percent-encoded bytes. */
function percentDecode(value: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw uriError(`bad percent-encoding in ${JSON.stringify(value)}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(value[i]!, 'utf8'));
    }
  }
  return Buffer.from(out);
}

function attributes(part: string, separator: string, allowed: ReadonlySet<string>): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (const item of part.split(separator)) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw uriError(`${JSON.stringify(item)} is not name=value`);
    const name = item.slice(0, eq);
    if (!allowed.has(name)) throw uriError(`attribute ${name} is not supported (supported: ${[...allowed].join(', ')})`);
    if (map.has(name)) throw uriError(`attribute ${name} appears twice`);
    map.set(name, percentDecode(item.slice(eq + 1)));
  }
  return map;
}

/** Parses a pkcs11: URI and reads its PIN (from the URI or the pin-source file). */
export function parsePkcs11Uri(uri: string): Pkcs11KeyLocation {
  if (!uri.startsWith('pkcs11:')) throw uriError('must start with pkcs11:');
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = attributes(q < 0 ? rest : rest.slice(0, q), ';', PATH_ATTRIBUTES);
  const query = attributes(q < 0 ? '' : rest.slice(q + 1), '&', QUERY_ATTRIBUTES);
  const text = (m: Map<string, Buffer>, name: string): string | undefined => m.get(name)?.toString('utf8');
  const modulePath = text(query, 'module-path');
  const tokenLabel = text(path, 'token');
  const objectLabel = text(path, 'object');
  if (!modulePath) throw uriError('module-path is required (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)');
  if (!tokenLabel) throw uriError('token=<label> is required');
  if (!objectLabel) throw uriError('object=<label> is required');
  const type = text(path, 'type');
  if (type !== undefined && type !== 'secret-key') throw uriError(`type must be secret-key, got ${type}`);
  let pin = text(query, 'pin-value');
  const pinSource = text(query, 'pin-source');
  if (pin !== undefined && pinSource !== undefined) throw uriError('give pin-value or pin-source, not both');
  if (pinSource !== undefined) {
    const file = pinSource.startsWith('file:') ? pinSource.slice('file:'.length) : pinSource;
    try {
      pin = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new BrokerError('ERR_BROKER_MASTER_KEY', `cannot read the PKCS#11 PIN from ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
    }
  }
  if (pin === undefined) throw uriError('pin-value or pin-source is required');
  const serial = text(path, 'serial');
  const id = path.get('id');
  return {
    modulePath,
    tokenLabel,
    objectLabel,
    pin,
    ...(serial !== undefined ? { tokenSerial: serial } : {}),
    ...(id !== undefined ? { objectId: new Uint8Array(id) } : {}),
  };
}

// One loaded module per library path: C_Initialize may run once per process, and C_Finalize only
// after the last session of that library is closed. Login is per token for the whole process, so a
// later login answers CKR_USER_ALREADY_LOGGED_IN whatever PIN it gives: the digest of the PIN that
// logged in is kept per token, and a later open with another PIN is refused, not let through.
const modules = new Map<string, { lib: pkcs11js.PKCS11; users: number; pins: Map<string, Buffer> }>();

function acquireModule(path: string): { lib: pkcs11js.PKCS11; pins: Map<string, Buffer> } {
  let entry = modules.get(path);
  if (!entry) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(path);
      lib.C_Initialize();
    } catch (e) {
      throw new BrokerError('ERR_BROKER_MASTER_KEY', `cannot load PKCS#11 module ${path}: ${(e as Error).message}`, { modulePath: path }, { cause: e });
    }
    entry = { lib, users: 0, pins: new Map() };
    modules.set(path, entry);
  }
  entry.users++;
  return entry;
}

function releaseModule(path: string): void {
  const entry = modules.get(path);
  if (!entry || --entry.users > 0) return;
  modules.delete(path);
  try {
    entry.lib.C_Finalize();
    entry.lib.close();
  } catch {
    // Finalizing an HSM library that already failed leaves nothing to clean up.
  }
}

function pkcs11Code(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface Session {
  readonly lib: pkcs11js.PKCS11;
  readonly handle: Buffer;
  readonly serial: string;
}

function openSession(loc: Pkcs11KeyLocation, readWrite: boolean): Session {
  const { lib, pins } = acquireModule(loc.modulePath);
  try {
    const slot = lib.C_GetSlotList(true).find((s) => {
      const info = lib.C_GetTokenInfo(s);
      return info.label.trimEnd() === loc.tokenLabel && (loc.tokenSerial === undefined || info.serialNumber.trimEnd() === loc.tokenSerial);
    });
    if (slot === undefined)
      throw new BrokerError('ERR_BROKER_MASTER_KEY', `no PKCS#11 token labelled ${loc.tokenLabel} in ${loc.modulePath}`, { token: loc.tokenLabel });
    const serial = lib.C_GetTokenInfo(slot).serialNumber.trimEnd();
    const handle = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | (readWrite ? pkcs11js.CKF_RW_SESSION : 0));
    const pinDigest = createHash('sha256').update(loc.pin).digest();
    const refuse = (why: string, cause?: unknown): BrokerError => {
      lib.C_CloseSession(handle);
      return new BrokerError('ERR_BROKER_MASTER_KEY', `PKCS#11 login to token ${loc.tokenLabel} failed: ${why}`, { token: loc.tokenLabel }, { cause });
    };
    try {
      lib.C_Login(handle, pkcs11js.CKU_USER, loc.pin);
      pins.set(serial, pinDigest);
    } catch (e) {
      if (pkcs11Code(e) !== 'CKR_USER_ALREADY_LOGGED_IN') throw refuse(pkcs11Code(e), e);
      const known = pins.get(serial);
      if (known && !timingSafeEqual(known, pinDigest)) throw refuse('CKR_PIN_INCORRECT (not the PIN this process logged in with)');
    }
    return { lib, handle, serial };
  } catch (e) {
    releaseModule(loc.modulePath);
    if (e instanceof BrokerError) throw e;
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `PKCS#11 token ${loc.tokenLabel}: ${pkcs11Code(e)}`, { token: loc.tokenLabel }, { cause: e });
  }
}

function closeSession(loc: Pkcs11KeyLocation, session: Session): void {
  try {
    session.lib.C_CloseSession(session.handle);
  } finally {
    releaseModule(loc.modulePath);
  }
}

function findKeys(session: Session, loc: Pkcs11KeyLocation): Buffer[] {
  const template: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: loc.objectLabel },
  ];
  if (loc.objectId) template.push({ type: pkcs11js.CKA_ID, value: Buffer.from(loc.objectId) });
  session.lib.C_FindObjectsInit(session.handle, template);
  try {
    return session.lib.C_FindObjects(session.handle, 2);
  } finally {
    session.lib.C_FindObjectsFinal(session.handle);
  }
}

function gcm(iv: Buffer, aad: Uint8Array): pkcs11js.Mechanism {
  const parameter: pkcs11js.AesGCM = { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad: Buffer.from(aad), ivBits: IV_BYTES * 8, tagBits: TAG_BYTES * 8 };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

class Pkcs11MasterKey implements MasterKey {
  readonly id: string;
  readonly description: string;
  readonly #loc: Pkcs11KeyLocation;
  readonly #session: Session;
  readonly #key: Buffer;
  #closed = false;

  constructor(loc: Pkcs11KeyLocation, session: Session, key: Buffer) {
    this.#loc = loc;
    this.#session = session;
    this.#key = key;
    this.id = `pkcs11:${session.serial}:${loc.objectLabel}`;
    this.description = `PKCS#11 token ${loc.tokenLabel} object ${loc.objectLabel}`;
  }

  wrap(dataKey: Uint8Array, aad: Uint8Array): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const { lib, handle } = this.#session;
    try {
      lib.C_EncryptInit(handle, gcm(iv, aad), this.#key);
      const body = lib.C_Encrypt(handle, Buffer.from(dataKey), Buffer.alloc(dataKey.length + TAG_BYTES));
      const out = new Uint8Array(IV_BYTES + body.length);
      out.set(iv, 0);
      out.set(body, IV_BYTES);
      return out;
    } catch (e) {
      throw new BrokerError('ERR_BROKER_PKCS11', `${this.description}: encrypt failed: ${pkcs11Code(e)}`, {}, { cause: e });
    }
  }

  unwrap(wrapped: Uint8Array, aad: Uint8Array): Buffer {
    if (wrapped.length < IV_BYTES + TAG_BYTES)
      throw new BrokerError('ERR_BROKER_UNWRAP', `a data key wrapped by ${this.id} is too short (${wrapped.length} bytes)`);
    const { lib, handle } = this.#session;
    try {
      lib.C_DecryptInit(handle, gcm(Buffer.from(wrapped.subarray(0, IV_BYTES)), aad), this.#key);
      return lib.C_Decrypt(handle, Buffer.from(wrapped.subarray(IV_BYTES)), Buffer.alloc(wrapped.length));
    } catch (e) {
      // The HSM reports a failed GCM tag check variously (CKR_ENCRYPTED_DATA_INVALID, SoftHSM2: CKR_GENERAL_ERROR).
      throw new BrokerError('ERR_BROKER_UNWRAP', `a data key wrapped by ${this.id} does not authenticate (${pkcs11Code(e)})`, {}, { cause: e });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSession(this.#loc, this.#session);
  }
}

function requireOneKey(keys: readonly Buffer[], loc: Pkcs11KeyLocation): Buffer {
  if (keys.length === 0)
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `no secret key labelled ${loc.objectLabel} on token ${loc.tokenLabel}`, { object: loc.objectLabel });
  if (keys.length > 1)
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `several keys labelled ${loc.objectLabel} on token ${loc.tokenLabel}: add id= to the URI`, {
      object: loc.objectLabel,
    });
  return keys[0]!;
}

function checkAes256(session: Session, key: Buffer, loc: Pkcs11KeyLocation): void {
  const [type, length] = session.lib.C_GetAttributeValue(session.handle, key, [{ type: pkcs11js.CKA_KEY_TYPE }, { type: pkcs11js.CKA_VALUE_LEN }]);
  const ulong = (b: unknown): number => (Buffer.isBuffer(b) ? Number(b.length >= 8 ? b.readBigUInt64LE() : b.readUInt32LE()) : -1);
  if (ulong(type?.value) !== pkcs11js.CKK_AES || ulong(length?.value) !== KEY_BYTES) {
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `key ${loc.objectLabel} on token ${loc.tokenLabel} is not an AES-256 key`, { object: loc.objectLabel });
  }
}

/** Opens the HSM key a pkcs11: URI names (ERR_BROKER_MASTER_KEY when the module, token, PIN or key is wrong). */
export function openPkcs11MasterKey(uri: string): MasterKey {
  const loc = parsePkcs11Uri(uri);
  const session = openSession(loc, false);
  try {
    const key = requireOneKey(findKeys(session, loc), loc);
    checkAes256(session, key, loc);
    return new Pkcs11MasterKey(loc, session, key);
  } catch (e) {
    closeSession(loc, session);
    if (e instanceof BrokerError) throw e;
    throw new BrokerError('ERR_BROKER_MASTER_KEY', `PKCS#11 key ${loc.objectLabel}: ${pkcs11Code(e)}`, {}, { cause: e });
  }
}

/**
 * Generates the AES-256 key a pkcs11: URI names on its token: sensitive and never extractable, so
 * the master key exists only inside the HSM. Refuses when a key with that label exists.
 */
export function createPkcs11MasterKey(uri: string): MasterKey {
  const loc = parsePkcs11Uri(uri);
  const session = openSession(loc, true);
  try {
    if (findKeys(session, loc).length > 0)
      throw new BrokerError('ERR_BROKER_MASTER_KEY', `token ${loc.tokenLabel} already holds a key labelled ${loc.objectLabel}`);
    session.lib.C_GenerateKey(session.handle, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: KEY_BYTES },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_LABEL, value: loc.objectLabel },
      ...(loc.objectId ? [{ type: pkcs11js.CKA_ID, value: Buffer.from(loc.objectId) }] : []),
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    ]);
  } catch (e) {
    closeSession(loc, session);
    if (e instanceof BrokerError) throw e;
    throw new BrokerError('ERR_BROKER_PKCS11', `generating key ${loc.objectLabel} on token ${loc.tokenLabel} failed: ${pkcs11Code(e)}`, {}, { cause: e });
  }
  closeSession(loc, session);
  return openPkcs11MasterKey(uri);
}
