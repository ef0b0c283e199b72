// Encrypted backups of every secret, independent of the master key: each data key is rewrapped
// under a backup key (from a passphrase through scrypt, or given as 32 bytes), the sealed values
// are copied as they are (they are bound to owner, name and version already), and an HMAC over the
// whole file makes a truncated, reordered or edited backup fail as a whole. JSON lines:
//
//   {"format":"vouch-secrets-backup","version":1,"backupId":…,"createdAt":…,"kdf":{…},"check":…}
//   {"owner":…,"name":…,"version":…,"createdAt":…,"wrappedKey":…,"ciphertext":…}     one per secret
//   {"end":true,"count":N,"mac":…}                                                    HMAC of every line before it
//
// An import runs in one transaction and commits only after the final MAC verified; a secret the
// store already holds must have the same value (it is never replaced).
import { createHmac, hkdfSync, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Repositories, SealedSecret } from '../store/index.ts';
import { aadOf, KEY_BYTES, open, seal } from './aes-gcm.ts';
import { dataKeyAad, openSecret, openWithDataKey, unwrapDataKey } from './envelope.ts';
import { BrokerError } from './errors.ts';
import type { MasterKey } from './master-key.ts';

export type BackupKey = { readonly passphrase: string } | { readonly key: Uint8Array };

const FORMAT = 'vouch-secrets-backup';
const FORMAT_VERSION = 1;
/** scrypt cost for new backups: the RFC 7914 interactive-login setting raised to 2^17 (128 MiB), per OWASP's guidance. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
/** The largest cost an imported header may ask for: a hostile header must not buy unbounded CPU or memory. */
const MAX_SCRYPT = { N: 2 ** 20, r: 16, p: 4 } as const;
/** scrypt needs 128·N·r bytes; a header asking for more than this is refused. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
/** One entry line: a sealed value of at most 256 KiB in base64 plus its fields. */
const MAX_LINE_CHARS = 512 * 1024;
const SECRETS_PER_PAGE = 1000;
const CHECK = new TextEncoder().encode('vouch secrets backup key check');

interface BackupKeys {
  readonly encryption: Buffer;
  readonly mac: Buffer;
}

type Kdf = { readonly name: 'scrypt'; readonly salt: string; readonly N: number; readonly r: number; readonly p: number } | { readonly name: 'hkdf-sha256' };

function scrypt(passphrase: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(passphrase.normalize('NFC'), salt, 2 * KEY_BYTES, options, (e, key) => {
      if (e) reject(e);
      else resolve(key);
    });
  });
}

async function deriveKeys(key: BackupKey, kdf: Kdf, backupId: Buffer): Promise<BackupKeys> {
  let both: Buffer;
  if ('passphrase' in key) {
    if (kdf.name !== 'scrypt') throw new BrokerError('ERR_BROKER_BACKUP_KEY', 'this backup was made with a key, not a passphrase');
    if (key.passphrase.length === 0) throw new BrokerError('ERR_BROKER_INVALID', 'an empty passphrase');
    both = await scrypt(key.passphrase, Buffer.from(kdf.salt, 'base64'), { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 });
  } else {
    if (kdf.name !== 'hkdf-sha256') throw new BrokerError('ERR_BROKER_BACKUP_KEY', 'this backup was made with a passphrase, not a key');
    if (key.key.length !== KEY_BYTES) throw new BrokerError('ERR_BROKER_INVALID', `a backup key is ${KEY_BYTES} bytes`);
    both = Buffer.from(hkdfSync('sha256', key.key, backupId, 'vouch secrets backup v1', 2 * KEY_BYTES));
  }
  const keys = { encryption: Buffer.from(both.subarray(0, KEY_BYTES)), mac: Buffer.from(both.subarray(KEY_BYTES)) };
  both.fill(0);
  return keys;
}

function zero(keys: BackupKeys): void {
  keys.encryption.fill(0);
  keys.mac.fill(0);
}

function entryAad(backupId: string, s: { owner: string; name: string; version: number }): Uint8Array {
  return aadOf('vouch.backup-data-key.v1', backupId, s.owner, s.name, s.version);
}

/**
 * The backup as lines (each ending in a newline), read page by page: memory stays bounded however
 * many secrets there are. Secrets added while it runs may or may not be in it; none can be missing
 * that existed when it started, since secrets are never deleted.
 */
export async function* exportSecrets(store: Repositories, keyring: ReadonlyMap<string, MasterKey>, key: BackupKey): AsyncGenerator<string> {
  const backupIdBytes = randomBytes(16);
  const backupId = backupIdBytes.toString('base64url');
  const kdf: Kdf = 'passphrase' in key ? { name: 'scrypt', salt: randomBytes(16).toString('base64'), ...SCRYPT } : { name: 'hkdf-sha256' };
  const keys = await deriveKeys(key, kdf, backupIdBytes);
  try {
    const mac = createHmac('sha256', keys.mac);
    const emit = (record: unknown): string => {
      const line = `${JSON.stringify(record)}\n`;
      mac.update(line);
      return line;
    };
    const check = Buffer.from(seal(keys.encryption, CHECK, aadOf('vouch.backup-check.v1', backupId))).toString('base64');
    yield emit({ format: FORMAT, version: FORMAT_VERSION, backupId, createdAt: store.now(), kdf, check });
    let count = 0;
    let cursor: string | undefined;
    do {
      const page = await store.secrets.list({ limit: SECRETS_PER_PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const s of page.items) {
        const dataKey = unwrapDataKey(keyring, s);
        let wrappedKey: Uint8Array;
        try {
          wrappedKey = seal(keys.encryption, dataKey, entryAad(backupId, s));
        } finally {
          dataKey.fill(0);
        }
        count++;
        yield emit({
          owner: s.owner,
          name: s.name,
          version: s.version,
          createdAt: s.createdAt,
          wrappedKey: Buffer.from(wrappedKey).toString('base64'),
          ciphertext: Buffer.from(s.ciphertext).toString('base64'),
        });
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    yield `${JSON.stringify({ end: true, count, mac: mac.digest('base64') })}\n`;
  } finally {
    zero(keys);
  }
}

function malformed(where: string, why: string): BrokerError {
  return new BrokerError('ERR_BROKER_BACKUP_FORMAT', `secrets backup ${where}: ${why}`, { where });
}

function parseLine(line: string, where: string): Record<string, unknown> {
  if (line.length > MAX_LINE_CHARS) throw malformed(where, `longer than ${MAX_LINE_CHARS} characters`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw malformed(where, 'is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(where, 'is not a JSON object');
  return value as Record<string, unknown>;
}

function field<T extends 'string' | 'number' | 'boolean'>(
  record: Record<string, unknown>,
  name: string,
  type: T,
  where: string,
): T extends 'string' ? string : T extends 'number' ? number : boolean {
  const v = record[name];
  if (typeof v !== type || (type === 'number' && !Number.isSafeInteger(v))) throw malformed(where, `${name} must be a ${type}`);
  return v as T extends 'string' ? string : T extends 'number' ? number : boolean;
}

function base64Field(record: Record<string, unknown>, name: string, where: string): Buffer {
  const text = field(record, name, 'string', where);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw malformed(where, `${name} is not base64`);
  return Buffer.from(text, 'base64');
}

function parseKdf(header: Record<string, unknown>): Kdf {
  const kdf = header.kdf;
  if (typeof kdf !== 'object' || kdf === null) throw malformed('header', 'kdf is missing');
  const k = kdf as Record<string, unknown>;
  if (k.name === 'hkdf-sha256') return { name: 'hkdf-sha256' };
  if (k.name !== 'scrypt') throw malformed('header', 'kdf must be scrypt or hkdf-sha256');
  const N = field(k, 'N', 'number', 'header kdf');
  const r = field(k, 'r', 'number', 'header kdf');
  const p = field(k, 'p', 'number', 'header kdf');
  // N a power of two; each parameter bounded, so a crafted header cannot demand gigabytes or hours.
  if (N < 2 || N > MAX_SCRYPT.N || (N & (N - 1)) !== 0 || r < 1 || r > MAX_SCRYPT.r || p < 1 || p > MAX_SCRYPT.p || 128 * N * r > MAX_SCRYPT_MEMORY) {
    throw malformed(
      'header',
      `scrypt parameters N=${N} r=${r} p=${p} are outside N ≤ 2^20 (a power of two), r ≤ ${MAX_SCRYPT.r}, p ≤ ${MAX_SCRYPT.p}, 128·N·r ≤ 256 MiB`,
    );
  }
  const salt = field(k, 'salt', 'string', 'header kdf');
  return { name: 'scrypt', salt, N, r, p };
}

export interface ImportReport {
  /** Secrets added to the store. */
  readonly imported: number;
  /** Secrets the store already held with the same value. */
  readonly unchanged: number;
}

/**
 * Restores a backup into the store, rewrapping each data key under the current master key. All or
 * nothing: ERR_BROKER_BACKUP_FORMAT (malformed, truncated or altered), ERR_BROKER_BACKUP_KEY (wrong
 * passphrase or key), ERR_BROKER_BACKUP_CONFLICT (a stored secret with another value) leave the
 * store as it was.
 */
export async function importSecrets(
  store: Repositories,
  keyring: ReadonlyMap<string, MasterKey>,
  current: MasterKey,
  lines: AsyncIterable<string>,
  key: BackupKey,
): Promise<ImportReport> {
  const iterator = lines[Symbol.asyncIterator]();
  try {
    return await importLines(store, keyring, current, iterator, key);
  } finally {
    // Stop the source (close the backup file) whether the import finished or failed half-way.
    await iterator.return?.();
  }
}

async function importLines(
  store: Repositories,
  keyring: ReadonlyMap<string, MasterKey>,
  current: MasterKey,
  iterator: AsyncIterator<string>,
  key: BackupKey,
): Promise<ImportReport> {
  const first = await iterator.next();
  if (first.done === true) throw malformed('header', 'the backup is empty');
  const header = parseLine(first.value, 'header');
  if (header.format !== FORMAT || header.version !== FORMAT_VERSION) throw malformed('header', `not a ${FORMAT} of version ${FORMAT_VERSION}`);
  const backupId = field(header, 'backupId', 'string', 'header');
  const keys = await deriveKeys(key, parseKdf(header), Buffer.from(backupId, 'base64url'));
  try {
    try {
      open(keys.encryption, base64Field(header, 'check', 'header'), aadOf('vouch.backup-check.v1', backupId), 'the backup key check').fill(0);
    } catch (e) {
      if (e instanceof BrokerError && e.code === 'ERR_BROKER_UNWRAP')
        throw new BrokerError('ERR_BROKER_BACKUP_KEY', 'the passphrase or key does not open this backup');
      throw e;
    }
    const mac = createHmac('sha256', keys.mac).update(`${first.value}\n`);
    return await store.transaction(async (tx) => {
      let imported = 0;
      let unchanged = 0;
      let lineNo = 1;
      for (;;) {
        const next = await iterator.next();
        lineNo++;
        const where = `line ${lineNo}`;
        if (next.done === true) throw malformed(where, 'ends before its final MAC line: truncated');
        const record = parseLine(next.value, where);
        if (record.end === true) {
          const expected = mac.digest();
          const given = base64Field(record, 'mac', where);
          if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw malformed(where, 'the MAC does not match: the backup was altered');
          if (field(record, 'count', 'number', where) !== imported + unchanged) throw malformed(where, 'the entry count does not match');
          if ((await iterator.next()).done !== true) throw malformed(`line ${lineNo + 1}`, 'follows the final MAC line');
          return { imported, unchanged };
        }
        mac.update(`${next.value}\n`);
        const address = {
          owner: field(record, 'owner', 'string', where),
          name: field(record, 'name', 'string', where),
          version: field(record, 'version', 'number', where),
        };
        const createdAt = field(record, 'createdAt', 'number', where);
        const ciphertext = new Uint8Array(base64Field(record, 'ciphertext', where));
        let dataKey: Buffer | undefined;
        let value: Buffer;
        try {
          dataKey = open(keys.encryption, base64Field(record, 'wrappedKey', where), entryAad(backupId, address), `${where}'s data key`);
          value = openWithDataKey(address, ciphertext, dataKey);
        } catch (e) {
          dataKey?.fill(0);
          throw e instanceof BrokerError && e.code === 'ERR_BROKER_UNWRAP' ? malformed(where, e.message) : e;
        }
        try {
          const stored = await tx.secrets.get(address.owner, address.name, address.version);
          if (stored) {
            const storedValue = openSecret(keyring, stored);
            const same = storedValue.length === value.length && timingSafeEqual(storedValue, value);
            storedValue.fill(0);
            if (!same) {
              throw new BrokerError(
                'ERR_BROKER_BACKUP_CONFLICT',
                `${where}: secret ${address.name} v${address.version} of ${address.owner} is stored with another value`,
                address,
              );
            }
            unchanged++;
          } else {
            const sealed: SealedSecret = { ...address, keyId: current.id, wrappedKey: current.wrap(dataKey, dataKeyAad(address)), ciphertext, createdAt };
            await tx.secrets.insert(sealed);
            imported++;
          }
        } finally {
          value.fill(0);
          dataKey.fill(0);
        }
      }
    });
  } finally {
    zero(keys);
  }
}

/** Writes a backup to a new owner-only file (never over an existing one). */
export async function writeSecretsBackupFile(path: string, backup: AsyncIterable<string>): Promise<void> {
  const file = await openFile(path, 'wx', 0o600);
  try {
    for await (const line of backup) await file.write(line);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** The lines of a backup file, for importSecrets. */
export function readSecretsBackupFile(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}
