// Sealed secrets as stored: the key broker (src/broker) encrypts and decrypts, the store keeps rows.
// A secret is never deleted (the database refuses it, see migrations.ts) and never overwritten: a
// new value is a new version, and the only change a row ever sees is a rewrap of its data key
// under another master key.
import type { Selectable } from 'kysely';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { SecretsTable } from '../schema.ts';
import { atomic, bytes, checkBytes, checkPositive, checkText, LABEL, lockKey, type StoreContext } from '../values.ts';

/** Secret names: `luks-key`, `join-credential`, `signing-key`, ... */
export const SECRET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A LUKS key, a kubeconfig or a kubelet key and certificate fit easily; this bounds a row. */
export const MAX_SECRET_CIPHERTEXT_BYTES = 256 * 1024;
/** A wrapped data key: AES-GCM (IV + 32-byte key + tag) or a PKCS#11 mechanism's output. */
const MAX_WRAPPED_KEY_BYTES = 1024;
const MAX_VERSION = 2 ** 31 - 1;

export interface SealedSecret {
  /** Whose secret: a node id, or `webhook:<id>`. */
  readonly owner: string;
  readonly name: string;
  readonly version: number;
  /** The master key that wraps the data key. */
  readonly keyId: string;
  readonly wrappedKey: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly createdAt: number;
}

export interface SecretSeal {
  readonly keyId: string;
  readonly wrappedKey: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function toSealed(r: Selectable<SecretsTable>): SealedSecret {
  return {
    owner: r.owner,
    name: r.name,
    version: r.version,
    keyId: r.key_id,
    wrappedKey: bytes(r.wrapped_key),
    ciphertext: bytes(r.ciphertext),
    createdAt: r.created_at,
  };
}

function toRow(s: SealedSecret): Selectable<SecretsTable> {
  return {
    owner: checkText(s.owner, 'owner', 128, LABEL),
    name: checkText(s.name, 'name', 64, SECRET_NAME),
    version: checkPositive(s.version, 'version', MAX_VERSION),
    key_id: checkText(s.keyId, 'keyId', 256),
    wrapped_key: checkBytes(s.wrappedKey, 'wrappedKey', MAX_WRAPPED_KEY_BYTES),
    ciphertext: checkBytes(s.ciphertext, 'ciphertext', MAX_SECRET_CIPHERTEXT_BYTES),
    created_at: s.createdAt,
  };
}

export type SecretKey = readonly [owner: string, name: string, version: number];

export class SecretRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Adds the next version of (owner, name). `seal` receives the version (it is part of the
   * ciphertext's associated data) and returns the sealed value; it runs inside the transaction.
   */
  async add(owner: string, name: string, seal: (version: number) => SecretSeal | Promise<SecretSeal>): Promise<SealedSecret> {
    checkText(owner, 'owner', 128, LABEL);
    checkText(name, 'name', 64, SECRET_NAME);
    return await atomic(this.#ctx, async (ctx) => {
      await lockKey(ctx, `secrets:${owner}:${name}`);
      const top = await ctx.db
        .selectFrom('secrets')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('owner', '=', owner)
        .where('name', '=', name)
        .executeTakeFirst();
      const version = (top?.v ?? 0) + 1;
      const sealed = { owner, name, version, ...(await seal(version)), createdAt: ctx.now() };
      await ctx.db.insertInto('secrets').values(toRow(sealed)).execute();
      return sealed;
    });
  }

  /** Stores a sealed secret exactly as given (a backup being restored); ERR_STORE_CONFLICT when that version exists. */
  async insert(sealed: SealedSecret): Promise<void> {
    await this.#ctx.db.insertInto('secrets').values(toRow(sealed)).execute();
  }

  /** A version of (owner, name), the newest when no version is given. */
  async get(owner: string, name: string, version?: number): Promise<SealedSecret | undefined> {
    let q = this.#ctx.db.selectFrom('secrets').selectAll().where('owner', '=', owner).where('name', '=', name);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toSealed(row);
  }

  /** The newest version of each of the owner's secrets, by name. */
  async latestOf(owner: string): Promise<readonly SealedSecret[]> {
    const rows = await this.#ctx.db
      .selectFrom('secrets as s')
      .selectAll('s')
      .where('s.owner', '=', owner)
      .where('s.version', '=', (eb) =>
        eb
          .selectFrom('secrets as n')
          .select((e) => e.fn.max('n.version').as('v'))
          .whereRef('n.owner', '=', 's.owner')
          .whereRef('n.name', '=', 's.name'),
      )
      .orderBy('s.name')
      // An owner has a handful of names (disk key, join credential); the bound only caps a runaway caller.
      .limit(1000)
      .execute();
    return rows.map(toSealed);
  }

  /** Every secret in key order, optionally only those wrapped by one master key (what a rotation walks). */
  async list(request: PageRequest & { readonly keyId?: string } = {}): Promise<Page<SealedSecret>> {
    const limit = pageLimit(request);
    const listing = request.keyId === undefined ? 'secrets' : `secrets:${request.keyId}`;
    const after = cursorKey(listing, ['string', 'string', 'number'] as const, request);
    let q = this.#ctx.db.selectFrom('secrets').selectAll();
    if (request.keyId !== undefined) q = q.where('key_id', '=', request.keyId);
    if (after) q = q.where((eb) => eb(eb.refTuple('owner', 'name', 'version'), '>', eb.tuple(after[0], after[1], after[2])));
    const rows = await q
      .orderBy('owner')
      .orderBy('name')
      .orderBy('version')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toSealed, (r) => [r.owner, r.name, r.version]);
  }

  /**
   * Replaces a secret's wrapped data key, only if it is still wrapped by `fromKeyId`
   * (compare-and-set: a rotation run twice, or by two replicas, rewraps each row once).
   * Returns whether this call rewrapped it.
   */
  async rewrap(key: SecretKey, fromKeyId: string, to: { readonly keyId: string; readonly wrappedKey: Uint8Array }): Promise<boolean> {
    const result = await this.#ctx.db
      .updateTable('secrets')
      .set({ key_id: checkText(to.keyId, 'keyId', 256), wrapped_key: checkBytes(to.wrappedKey, 'wrappedKey', MAX_WRAPPED_KEY_BYTES) })
      .where('owner', '=', key[0])
      .where('name', '=', key[1])
      .where('version', '=', key[2])
      .where('key_id', '=', fromKeyId)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** The master keys that wrap at least one secret, with how many each. */
  async keyUsage(): Promise<ReadonlyMap<string, number>> {
    const rows = await this.#ctx.db
      .selectFrom('secrets')
      .select((eb) => ['key_id', eb.fn.countAll<number>().as('n')])
      .groupBy('key_id')
      .execute();
    return new Map(rows.map((r) => [r.key_id, r.n]));
  }

  /** The canary a master key sealed when it was first used (undefined for a key never seen). */
  async masterKeyCanary(keyId: string): Promise<Uint8Array | undefined> {
    const row = await this.#ctx.db.selectFrom('master_keys').select('canary').where('id', '=', keyId).executeTakeFirst();
    return row && bytes(row.canary);
  }

  /** Records a master key's canary; the first one recorded for an id stays. */
  async recordMasterKeyCanary(keyId: string, canary: Uint8Array): Promise<void> {
    await this.#ctx.db
      .insertInto('master_keys')
      .values({ id: checkText(keyId, 'keyId', 256), canary: checkBytes(canary, 'canary', MAX_WRAPPED_KEY_BYTES), created_at: this.#ctx.now() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
}
