// Reference sets and policies: append-only versions. A new version is max + 1, taken under a lock
// on the name so two replicas importing at once get consecutive versions instead of a conflict.
// Reference sets are named by release and several are accepted at once (A/B rollouts); exactly one
// policy version is active.
import type { Selectable } from 'kysely';
import { StoreError } from '../errors.ts';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { PoliciesTable, ReferenceSetsTable } from '../schema.ts';
import { atomic, checkPositive, checkText, jsonText, LABEL, lockKey, notFound, parseJson, type StoreContext } from '../values.ts';

/** `vouch predict --json` output for one release: every PCR of every bank with its events. */
export const MAX_REFERENCE_SET_CHARS = 4 * 1024 * 1024;
export const MAX_POLICY_CHARS = 64 * 1024;
const MAX_DESCRIPTION_CHARS = 1024;
/** A composefs image digest: `sha256:`/`sha512:` hex, or bare hex. */
const COMPOSEFS_DIGEST = /^([a-z0-9]+:)?[0-9a-f]{64,128}$/;
const MAX_VERSION = 2 ** 31 - 1;
/** Releases accepted at once: an A/B rollout has two or three; the bound caps a runaway configuration. */
export const MAX_ACTIVE_RELEASES = 64;

export interface ReferenceSetRecord {
  readonly name: string;
  readonly version: number;
  readonly content: unknown;
  readonly composefsDigest: string | null;
  readonly createdAt: number;
  readonly createdBy: string;
  /** Whether this version is the one accepted for its release now. */
  readonly active: boolean;
}

function toReferenceSet(r: Selectable<ReferenceSetsTable>): ReferenceSetRecord {
  return {
    name: r.name,
    version: r.version,
    content: parseJson(r.content),
    composefsDigest: r.composefs_digest,
    createdAt: r.created_at,
    createdBy: r.created_by,
    active: r.active === 1,
  };
}

/** Which version of which release is accepted: what a verifier's cache of the catalogue is keyed by. */
export interface ActiveReferenceSet {
  readonly name: string;
  readonly version: number;
}

export class ReferenceSetRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Stores a new version of the release's reference set. */
  async put(input: {
    readonly name: string;
    readonly content: unknown;
    readonly composefsDigest?: string | null;
    readonly createdBy: string;
  }): Promise<ReferenceSetRecord> {
    const name = checkText(input.name, 'name', 128, LABEL);
    const content = jsonText(input.content, 'content', MAX_REFERENCE_SET_CHARS);
    const digest = input.composefsDigest == null ? null : checkText(input.composefsDigest, 'composefsDigest', 160, COMPOSEFS_DIGEST);
    const createdBy = checkText(input.createdBy, 'createdBy', 128);
    return await atomic(this.#ctx, async (ctx) => {
      await lockKey(ctx, `reference_sets:${name}`);
      const top = await ctx.db
        .selectFrom('reference_sets')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('name', '=', name)
        .executeTakeFirst();
      const row = { name, version: (top?.v ?? 0) + 1, content, composefs_digest: digest, created_at: ctx.now(), created_by: createdBy, active: 0 };
      await ctx.db.insertInto('reference_sets').values(row).execute();
      return toReferenceSet(row);
    });
  }

  /**
   * Makes `version` the accepted version of release `name` (its other versions stop being
   * accepted, in the same transaction); other releases stay as they are, so several are accepted
   * at once during an A/B rollout.
   */
  async activate(name: string, version: number): Promise<ReferenceSetRecord> {
    checkPositive(version, 'version', MAX_VERSION);
    return await atomic(this.#ctx, async (ctx) => {
      await lockKey(ctx, `reference_sets:${name}`);
      const exists = await ctx.db.selectFrom('reference_sets').select('version').where('name', '=', name).where('version', '=', version).executeTakeFirst();
      if (!exists) throw notFound('reference set', `${name} v${version}`);
      const others = await ctx.db
        .selectFrom('reference_sets')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('active', '=', 1)
        .where('name', '<>', name)
        .executeTakeFirstOrThrow();
      if (others.n >= MAX_ACTIVE_RELEASES) {
        throw new StoreError('ERR_STORE_CONFLICT', `${MAX_ACTIVE_RELEASES} releases are accepted already: deactivate one first`, { name });
      }
      await ctx.db.updateTable('reference_sets').set({ active: 0 }).where('name', '=', name).where('active', '=', 1).where('version', '<>', version).execute();
      const row = await ctx.db
        .updateTable('reference_sets')
        .set({ active: 1 })
        .where('name', '=', name)
        .where('version', '=', version)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toReferenceSet(row);
    });
  }

  /** Stops accepting every version of release `name` (the rollout is over); returns whether one was accepted. */
  async deactivate(name: string): Promise<boolean> {
    const result = await this.#ctx.db.updateTable('reference_sets').set({ active: 0 }).where('name', '=', name).where('active', '=', 1).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The accepted (name, version) pairs by name: a cheap read that says whether a cached catalogue is current. */
  async activeVersions(): Promise<ActiveReferenceSet[]> {
    const rows = await this.#ctx.db
      .selectFrom('reference_sets')
      .select(['name', 'version'])
      .where('active', '=', 1)
      .orderBy('name')
      .limit(MAX_ACTIVE_RELEASES)
      .execute();
    return rows.map((r) => ({ name: r.name, version: r.version }));
  }

  /** The accepted sets with their content, by name. */
  async active(): Promise<ReferenceSetRecord[]> {
    const rows = await this.#ctx.db.selectFrom('reference_sets').selectAll().where('active', '=', 1).orderBy('name').limit(MAX_ACTIVE_RELEASES).execute();
    return rows.map(toReferenceSet);
  }

  /** A version of a release's set, the newest when no version is given. */
  async get(name: string, version?: number): Promise<ReferenceSetRecord | undefined> {
    let q = this.#ctx.db.selectFrom('reference_sets').selectAll().where('name', '=', name);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toReferenceSet(row);
  }

  /** The newest version of every release, by name. */
  async listLatest(request: PageRequest = {}): Promise<Page<ReferenceSetRecord>> {
    const limit = pageLimit(request);
    const after = cursorKey('reference-sets', ['string'] as const, request);
    let q = this.#ctx.db
      .selectFrom('reference_sets as r')
      .selectAll('r')
      .where('r.version', '=', (eb) =>
        eb
          .selectFrom('reference_sets as n')
          .select((e) => e.fn.max('n.version').as('v'))
          .whereRef('n.name', '=', 'r.name'),
      );
    if (after) q = q.where('r.name', '>', after[0]);
    const rows = await q
      .orderBy('r.name')
      .limit(limit + 1)
      .execute();
    return toPage('reference-sets', rows, limit, toReferenceSet, (r) => [r.name]);
  }

  /** The versions of one release, newest first. */
  async versions(name: string, request: PageRequest = {}): Promise<Page<ReferenceSetRecord>> {
    const limit = pageLimit(request);
    const listing = `reference-set:${name}`;
    const after = cursorKey(listing, ['number'] as const, request);
    let q = this.#ctx.db.selectFrom('reference_sets').selectAll().where('name', '=', name);
    if (after) q = q.where('version', '<', after[0]);
    const rows = await q
      .orderBy('version', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toReferenceSet, (r) => [r.version]);
  }
}

export interface PolicyRecord {
  readonly version: number;
  /** CEL source. */
  readonly text: string;
  readonly description: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly active: boolean;
}

function toPolicy(r: Selectable<PoliciesTable>): PolicyRecord {
  return { version: r.version, text: r.text, description: r.description, createdAt: r.created_at, createdBy: r.created_by, active: r.active === 1 };
}

export class PolicyRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Stores a new policy version (the caller has compiled the CEL); `activate` makes it the active one in the same transaction. */
  async create(input: {
    readonly text: string;
    readonly description?: string;
    readonly createdBy: string;
    readonly activate?: boolean;
  }): Promise<PolicyRecord> {
    const text = checkText(input.text, 'text', MAX_POLICY_CHARS);
    const description = checkText(input.description ?? '', 'description', MAX_DESCRIPTION_CHARS);
    const createdBy = checkText(input.createdBy, 'createdBy', 128);
    return await atomic(this.#ctx, async (ctx) => {
      await lockKey(ctx, 'policies');
      const top = await ctx.db
        .selectFrom('policies')
        .select((eb) => eb.fn.max('version').as('v'))
        .executeTakeFirst();
      const row = { version: (top?.v ?? 0) + 1, text, description, created_at: ctx.now(), created_by: createdBy, active: 0 };
      await ctx.db.insertInto('policies').values(row).execute();
      if (input.activate) return new PolicyRepository(ctx).activate(row.version);
      return toPolicy(row);
    });
  }

  async get(version: number): Promise<PolicyRecord | undefined> {
    if (!Number.isSafeInteger(version)) return undefined;
    const row = await this.#ctx.db.selectFrom('policies').selectAll().where('version', '=', version).executeTakeFirst();
    return row && toPolicy(row);
  }

  async active(): Promise<PolicyRecord | undefined> {
    const row = await this.#ctx.db.selectFrom('policies').selectAll().where('active', '=', 1).executeTakeFirst();
    return row && toPolicy(row);
  }

  /** Makes `version` the one active policy (the previous one is deactivated in the same transaction). */
  async activate(version: number): Promise<PolicyRecord> {
    checkPositive(version, 'version', MAX_VERSION);
    return await atomic(this.#ctx, async (ctx) => {
      await lockKey(ctx, 'policies');
      const exists = await ctx.db.selectFrom('policies').select('version').where('version', '=', version).executeTakeFirst();
      if (!exists) throw notFound('policy version', String(version));
      await ctx.db.updateTable('policies').set({ active: 0 }).where('active', '=', 1).where('version', '<>', version).execute();
      const row = await ctx.db.updateTable('policies').set({ active: 1 }).where('version', '=', version).returningAll().executeTakeFirst();
      if (!row) throw new StoreError('ERR_STORE_CONFLICT', `policy version ${version} vanished while activating it`);
      return toPolicy(row);
    });
  }

  /** Policy versions, newest first. */
  async list(request: PageRequest = {}): Promise<Page<PolicyRecord>> {
    const limit = pageLimit(request);
    const after = cursorKey('policies', ['number'] as const, request);
    let q = this.#ctx.db.selectFrom('policies').selectAll();
    if (after) q = q.where('version', '<', after[0]);
    const rows = await q
      .orderBy('version', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage('policies', rows, limit, toPolicy, (r) => [r.version]);
  }
}
