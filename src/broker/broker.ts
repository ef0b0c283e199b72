// The secret broker: issues, reads and rewraps the secrets a node is released after an affirming
// attestation (its LUKS key, its join credential) and any other secret the server keeps (webhook
// signing keys). A secret once issued is never lost: there is no delete (the database refuses one),
// a new value is a new version beside the old, revoking a node keeps its secrets, and a master-key
// rotation leaves every secret decryptable whenever it stops.
import { randomBytes } from 'node:crypto';
import { MAX_SECRET_CIPHERTEXT_BYTES, type Repositories, type SealedSecret } from '../store/index.ts';
import { aadOf, IV_BYTES, TAG_BYTES } from './aes-gcm.ts';
import { exportSecrets, importSecrets, type BackupKey, type ImportReport } from './backup.ts';
import { dataKeyAad, openSecret, sealSecret, unwrapDataKey } from './envelope.ts';
import { BrokerError } from './errors.ts';
import type { MasterKey } from './master-key.ts';

/** The names of a node's secrets. */
export const SECRET_NAMES = { luksKey: 'luks-key', joinCredential: 'join-credential' } as const;
/** A generated LUKS key: 32 random bytes (cryptsetup reads it as a binary key file on stdin). */
export const LUKS_KEY_BYTES = 32;
/** Largest value the broker seals: the stored ciphertext (format byte, IV, tag) must fit its column. */
export const MAX_SECRET_BYTES = MAX_SECRET_CIPHERTEXT_BYTES - 1 - IV_BYTES - TAG_BYTES;
const CANARY = new TextEncoder().encode('vouch master key canary, v1 ....');
/** Secrets rewrapped per transaction during a rotation. */
const DEFAULT_ROTATION_BATCH = 500;

/** A decrypted secret. `value` is the caller's to zero: dispose it (`using`) or call dispose() when done. */
export interface SecretValue extends Disposable {
  readonly owner: string;
  readonly name: string;
  readonly version: number;
  readonly createdAt: number;
  readonly value: Buffer;
  dispose(): void;
}

export interface IssuedSecret {
  readonly owner: string;
  readonly name: string;
  readonly version: number;
  readonly createdAt: number;
}

export interface RotationProgress {
  /** The master key whose secrets are being rewrapped. */
  readonly fromKeyId: string;
  /** Secrets rewrapped so far in this run, over all keys. */
  readonly rewrapped: number;
}

export interface RotationReport {
  readonly toKeyId: string;
  readonly fromKeyIds: readonly string[];
  readonly rewrapped: number;
}

function toValue(sealed: SealedSecret, value: Buffer): SecretValue {
  const dispose = (): void => {
    value.fill(0);
  };
  return { owner: sealed.owner, name: sealed.name, version: sealed.version, createdAt: sealed.createdAt, value, dispose, [Symbol.dispose]: dispose };
}

function canaryAad(keyId: string): Uint8Array {
  return aadOf('vouch.master-key-canary.v1', keyId);
}

export class SecretBroker {
  readonly #store: Repositories;
  readonly #current: MasterKey;
  readonly #keyring: ReadonlyMap<string, MasterKey>;

  private constructor(store: Repositories, current: MasterKey, keyring: ReadonlyMap<string, MasterKey>) {
    this.#store = store;
    this.#current = current;
    this.#keyring = keyring;
  }

  /**
   * A broker over `store` that seals with `masterKeys[0]` and unwraps with any of them (earlier
   * keys of an unfinished rotation come after the current one). Checks, before anything is issued,
   * that each key is the one its id stood for until now (ERR_BROKER_MASTER_KEY_MISMATCH) and that
   * every stored secret's master key is configured (ERR_BROKER_MASTER_KEY_MISSING).
   */
  static async open(store: Repositories, masterKeys: readonly MasterKey[]): Promise<SecretBroker> {
    const current = masterKeys[0];
    if (!current) throw new BrokerError('ERR_BROKER_MASTER_KEY', 'no master key configured');
    const keyring = new Map(masterKeys.map((k) => [k.id, k]));
    for (const key of keyring.values()) {
      const canary = await store.secrets.masterKeyCanary(key.id);
      if (canary === undefined) {
        await store.secrets.recordMasterKeyCanary(key.id, key.wrap(CANARY, canaryAad(key.id)));
        continue;
      }
      let ok = false;
      try {
        const opened = key.unwrap(canary, canaryAad(key.id));
        ok = Buffer.compare(opened, CANARY) === 0;
      } catch (e) {
        if (!(e instanceof BrokerError && e.code === 'ERR_BROKER_UNWRAP')) throw e;
      }
      if (!ok) {
        throw new BrokerError('ERR_BROKER_MASTER_KEY_MISMATCH', `${key.description} claims id ${key.id} but is not the key the store knows by that id`, {
          keyId: key.id,
        });
      }
    }
    const missing = [...(await store.secrets.keyUsage())].filter(([id]) => !keyring.has(id));
    if (missing.length) {
      throw new BrokerError(
        'ERR_BROKER_MASTER_KEY_MISSING',
        `secrets are wrapped by master keys that are not configured: ${missing.map(([id, n]) => `${id} (${n} secrets)`).join(', ')}`,
        { keyIds: missing.map(([id]) => id) },
      );
    }
    return new SecretBroker(store, current, keyring);
  }

  /** The same broker working inside a store transaction (e.g. a node and its first secrets, committed together). */
  within(tx: Repositories): SecretBroker {
    return new SecretBroker(tx, this.#current, this.#keyring);
  }

  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Seals `value` as the next version of (owner, name). The caller still owns (and may zero) `value`. */
  async issue(owner: string, name: string, value: Uint8Array): Promise<IssuedSecret> {
    if (!(value instanceof Uint8Array) || value.length === 0 || value.length > MAX_SECRET_BYTES) {
      throw new BrokerError('ERR_BROKER_INVALID', `a secret is 1..${MAX_SECRET_BYTES} bytes`, { owner, name });
    }
    const sealed = await this.#store.secrets.add(owner, name, (version) => sealSecret(this.#current, { owner, name, version }, value));
    return { owner, name, version: sealed.version, createdAt: sealed.createdAt };
  }

  /** Issues `length` fresh random bytes (a LUKS key by default). */
  async generate(owner: string, name: string, length = LUKS_KEY_BYTES): Promise<IssuedSecret> {
    const value = randomBytes(length);
    try {
      return await this.issue(owner, name, value);
    } finally {
      value.fill(0);
    }
  }

  /** A version of a secret (the newest when no version is given), decrypted; undefined when there is none. */
  async read(owner: string, name: string, version?: number): Promise<SecretValue | undefined> {
    const sealed = await this.#store.secrets.get(owner, name, version);
    return sealed && toValue(sealed, openSecret(this.#keyring, sealed));
  }

  /** The newest version of each of the owner's secrets, decrypted (what a release sends a node). */
  async readLatest(owner: string): Promise<SecretValue[]> {
    const out: SecretValue[] = [];
    try {
      for (const sealed of await this.#store.secrets.latestOf(owner)) out.push(toValue(sealed, openSecret(this.#keyring, sealed)));
      return out;
    } catch (e) {
      for (const v of out) v.dispose();
      throw e;
    }
  }

  /** An encrypted backup of every secret (see backup.ts), as lines to write out. */
  exportBackup(key: BackupKey): AsyncGenerator<string> {
    return exportSecrets(this.#store, this.#keyring, key);
  }

  /** Restores a backup, all or nothing; secrets already stored must match (see backup.ts). */
  importBackup(lines: AsyncIterable<string>, key: BackupKey): Promise<ImportReport> {
    return importSecrets(this.#store, this.#keyring, this.#current, lines, key);
  }

  /**
   * Rewraps every data key not wrapped by the current master key under it, `batchSize` secrets per
   * transaction. Each row changes in one UPDATE (key id and wrapped key together, only if still
   * wrapped by the old key), so a crash at any point leaves each secret wrapped by either the old
   * or the new key, both configured: every secret stays decryptable, and running the rotation
   * again finishes it. Only then may the old key be removed from the configuration.
   */
  async rotate(options: { readonly batchSize?: number; readonly onBatch?: (progress: RotationProgress) => void } = {}): Promise<RotationReport> {
    const batchSize = options.batchSize ?? DEFAULT_ROTATION_BATCH;
    const fromKeyIds = [...(await this.#store.secrets.keyUsage()).keys()].filter((id) => id !== this.#current.id);
    let rewrapped = 0;
    for (const fromKeyId of fromKeyIds) {
      let cursor: string | undefined;
      do {
        const page = await this.#store.secrets.list({ keyId: fromKeyId, limit: batchSize, ...(cursor === undefined ? {} : { cursor }) });
        rewrapped += await this.#store.transaction(async (tx) => {
          let n = 0;
          for (const sealed of page.items) {
            const dataKey = unwrapDataKey(this.#keyring, sealed);
            try {
              const wrappedKey = this.#current.wrap(dataKey, dataKeyAad(sealed));
              if (await tx.secrets.rewrap([sealed.owner, sealed.name, sealed.version], fromKeyId, { keyId: this.#current.id, wrappedKey })) n++;
            } finally {
              dataKey.fill(0);
            }
          }
          return n;
        });
        options.onBatch?.({ fromKeyId, rewrapped });
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    }
    return { toKeyId: this.#current.id, fromKeyIds, rewrapped };
  }
}
