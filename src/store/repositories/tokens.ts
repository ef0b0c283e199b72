// Bearer tokens stored as SHA-256 digests: admin tokens and kubeadm bootstrap tokens.
//
// Why SHA-256 and not a password hash (scrypt, Argon2): a password hash makes guessing a
// low-entropy, human-chosen secret slow. These tokens are drawn at random (admin: 256 bits;
// bootstrap: 16 characters of [a-z0-9], ~83 bits), so no guess from a stolen digest succeeds
// however fast the hash is, while a deliberately slow hash would cost ~100 ms of CPU on every API
// call (a denial of service by anyone sending junk tokens) and, being salted, could not be looked
// up by an index. An unsalted digest is looked up directly, and a timing difference in that lookup
// reveals only digest prefixes, which do not help find a token.
import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { constantTimeEqual } from '../../bytes/index.ts';
import { StoreError } from '../errors.ts';
import { endOnce, listOldestFirst } from './ended-once.ts';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { AdminSessionsTable, AdminTokensTable, BootstrapTokensTable } from '../schema.ts';
import { bytes, checkOneOf, checkPositive, checkText, checkTime, isId, jsonText, LABEL, newId, notFound, parseJson, type StoreContext } from '../values.ts';

function digest(secret: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(secret, 'utf8').digest());
}

export const ADMIN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** `vouch-admin.` + 43 base64url characters (32 random bytes); the prefix lets secret scanners spot a leaked token. */
const ADMIN_TOKEN = /^vouch-admin\.[A-Za-z0-9_-]{43}$/;
/** last_used_at is refreshed at most this often, so authentication is not a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: AdminRole;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

function toAdminToken(r: Selectable<AdminTokensTable>): AdminTokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as AdminRole,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

export class AdminTokenRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Makes a token; the returned `token` is shown once and never stored. */
  async create(input: {
    readonly name: string;
    readonly role: AdminRole;
    readonly expiresAt?: number | null;
  }): Promise<{ token: string; record: AdminTokenRecord }> {
    const token = `vouch-admin.${randomBytes(32).toString('base64url')}`;
    const row = {
      id: newId(),
      name: checkText(input.name, 'name', 128, LABEL),
      role: checkOneOf(input.role, 'role', ADMIN_ROLES),
      token_hash: digest(token),
      created_at: this.#ctx.now(),
      expires_at: input.expiresAt == null ? null : checkTime(input.expiresAt, 'expiresAt'),
      revoked_at: null,
      last_used_at: null,
    };
    await this.#ctx.db.insertInto('admin_tokens').values(row).execute();
    return { token, record: toAdminToken(row) };
  }

  /** The token's record when it is valid now (known, not revoked, not expired); undefined otherwise. */
  async authenticate(token: string): Promise<AdminTokenRecord | undefined> {
    if (typeof token !== 'string' || !ADMIN_TOKEN.test(token)) return undefined;
    const row = await this.#ctx.db.selectFrom('admin_tokens').selectAll().where('token_hash', '=', digest(token)).executeTakeFirst();
    const now = this.#ctx.now();
    if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    if (row.last_used_at === null || row.last_used_at < now - LAST_USED_RESOLUTION_MS) {
      await this.#ctx.db.updateTable('admin_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
      return toAdminToken({ ...row, last_used_at: now });
    }
    return toAdminToken(row);
  }

  list(request: PageRequest = {}): Promise<Page<AdminTokenRecord>> {
    return listOldestFirst(this.#ctx, 'admin_tokens', request, toAdminToken);
  }

  /** Revokes a token for good (idempotent: a second revocation keeps the first time). */
  revoke(id: string): Promise<AdminTokenRecord> {
    return endOnce(this.#ctx, 'admin_tokens', id, 'admin token', toAdminToken);
  }
}

/** `vouch-session.` + 43 base64url characters (32 random bytes): the dashboard's session cookie. */
const SESSION_SECRET = /^vouch-session\.[A-Za-z0-9_-]{43}$/;
/** Longest a session may last, whatever the caller asks: a working day and a half. */
export const MAX_SESSION_TTL_MS = 36 * 60 * 60 * 1000;

export interface AdminSessionRecord {
  readonly id: string;
  readonly tokenId: string;
  readonly createdAt: number;
  /** The session ends here whatever its use. */
  readonly expiresAt: number;
  readonly lastUsedAt: number;
}

/** Sessions signed in with an admin token: the dashboard's cookie names one. */
export class AdminSessionRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Starts a session for a token; the returned `secret` goes in the cookie and is never stored. */
  async create(input: { readonly tokenId: string; readonly ttlMs: number }): Promise<{ secret: string; record: AdminSessionRecord }> {
    if (!isId(input.tokenId)) throw notFound('admin token', input.tokenId);
    const secret = `vouch-session.${randomBytes(32).toString('base64url')}`;
    const now = this.#ctx.now();
    const row = {
      id: newId(),
      token_id: input.tokenId,
      secret_hash: digest(secret),
      created_at: now,
      expires_at: now + checkPositive(input.ttlMs, 'ttlMs', MAX_SESSION_TTL_MS),
      last_used_at: now,
    };
    await this.#ctx.db.insertInto('admin_sessions').values(row).execute();
    return { secret, record: toAdminSession(row) };
  }

  /**
   * The session a cookie names and the token it acts for, when both are valid now: the session
   * neither expired nor idle for `idleMs`, the token neither revoked nor expired. The token's role
   * is read here, at each request, so a revoked token ends its sessions at once.
   */
  async authenticate(secret: string, idleMs: number): Promise<{ session: AdminSessionRecord; token: AdminTokenRecord } | undefined> {
    if (typeof secret !== 'string' || !SESSION_SECRET.test(secret)) return undefined;
    const row = await this.#ctx.db
      .selectFrom('admin_sessions as s')
      .innerJoin('admin_tokens as t', 't.id', 's.token_id')
      .select([
        's.id as session_id',
        's.created_at as session_created_at',
        's.expires_at as session_expires_at',
        's.last_used_at as session_last_used_at',
        't.id',
        't.name',
        't.role',
        't.token_hash',
        't.created_at',
        't.expires_at',
        't.revoked_at',
        't.last_used_at',
      ])
      .where('s.secret_hash', '=', digest(secret))
      .executeTakeFirst();
    const now = this.#ctx.now();
    if (!row || row.session_expires_at <= now || row.session_last_used_at + idleMs <= now) return undefined;
    if (row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    let lastUsedAt = row.session_last_used_at;
    if (lastUsedAt < now - LAST_USED_RESOLUTION_MS) {
      await this.#ctx.db.updateTable('admin_sessions').set({ last_used_at: now }).where('id', '=', row.session_id).execute();
      lastUsedAt = now;
    }
    return {
      session: { id: row.session_id, tokenId: row.id, createdAt: row.session_created_at, expiresAt: row.session_expires_at, lastUsedAt },
      token: toAdminToken(row),
    };
  }

  /** Ends the session a cookie names (signing out); true when there was one. */
  async end(secret: string): Promise<boolean> {
    if (typeof secret !== 'string' || !SESSION_SECRET.test(secret)) return false;
    const result = await this.#ctx.db.deleteFrom('admin_sessions').where('secret_hash', '=', digest(secret)).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Deletes sessions that expired before `before`, and those idle since before `idleBefore`; returns how many. */
  async prune(before: number, idleBefore: number): Promise<number> {
    const result = await this.#ctx.db
      .deleteFrom('admin_sessions')
      .where((eb) => eb.or([eb('expires_at', '<', before), eb('last_used_at', '<', idleBefore)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toAdminSession(r: Selectable<AdminSessionsTable>): AdminSessionRecord {
  return { id: r.id, tokenId: r.token_id, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at };
}

/** kubeadm's bootstrap token format: `<token-id>.<token-secret>` (k8s.io/cluster-bootstrap/token/api). */
const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const BOOTSTRAP_TOKEN_USAGES = ['signing', 'authentication'] as const;
export type BootstrapTokenUsage = (typeof BOOTSTRAP_TOKEN_USAGES)[number];
/** Extra groups must be system:bootstrappers or below it, as kubeadm requires. */
const BOOTSTRAP_GROUP = /^system:bootstrappers(:[a-z0-9:-]{0,255}[a-z0-9])?$/;

export interface BootstrapTokenRecord {
  readonly tokenId: string;
  readonly nodeId: string;
  readonly description: string;
  readonly usages: readonly BootstrapTokenUsage[];
  readonly groups: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
}

function toBootstrapToken(r: Selectable<BootstrapTokensTable>): BootstrapTokenRecord {
  return {
    tokenId: r.token_id,
    nodeId: r.node_id,
    description: r.description,
    usages: parseJson(r.usages) as BootstrapTokenUsage[],
    groups: parseJson(r.groups) as string[],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}

export class BootstrapTokenRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Records a bootstrap token issued to a node; only the digest of its secret half is kept. */
  async record(input: {
    readonly token: string;
    readonly nodeId: string;
    readonly expiresAt: number;
    readonly usages: readonly BootstrapTokenUsage[];
    readonly groups: readonly string[];
    readonly description?: string;
  }): Promise<BootstrapTokenRecord> {
    const m = BOOTSTRAP_TOKEN.exec(typeof input.token === 'string' ? input.token : '');
    if (!m) throw new StoreError('ERR_STORE_INVALID', 'token must be a kubeadm bootstrap token [a-z0-9]{6}.[a-z0-9]{16}', { field: 'token' });
    if (!isId(input.nodeId)) throw notFound('node', input.nodeId);
    for (const u of input.usages) checkOneOf(u, 'usages', BOOTSTRAP_TOKEN_USAGES);
    for (const g of input.groups) checkText(g, 'groups', 300, BOOTSTRAP_GROUP);
    const row = {
      token_id: m[1]!,
      secret_hash: digest(m[2]!),
      node_id: input.nodeId,
      description: checkText(input.description ?? '', 'description', 1024),
      usages: jsonText(input.usages, 'usages', 1024),
      groups: jsonText(input.groups, 'groups', 16 * 1024),
      created_at: this.#ctx.now(),
      expires_at: checkTime(input.expiresAt, 'expiresAt'),
    };
    await this.#ctx.db.insertInto('bootstrap_tokens').values(row).execute();
    return toBootstrapToken(row);
  }

  /** The record of a presented token if it is known and unexpired; the secret half compares in constant time. */
  async verify(token: string): Promise<BootstrapTokenRecord | undefined> {
    const m = BOOTSTRAP_TOKEN.exec(typeof token === 'string' ? token : '');
    if (!m) return undefined;
    const row = await this.#ctx.db.selectFrom('bootstrap_tokens').selectAll().where('token_id', '=', m[1]!).executeTakeFirst();
    if (!row || row.expires_at <= this.#ctx.now()) return undefined;
    return constantTimeEqual(bytes(row.secret_hash), digest(m[2]!)) ? toBootstrapToken(row) : undefined;
  }

  /** One node's tokens, newest first. */
  async listForNode(nodeId: string, request: PageRequest = {}): Promise<Page<BootstrapTokenRecord>> {
    const limit = pageLimit(request);
    const listing = `bootstrap-tokens:${nodeId}`;
    const after = cursorKey(listing, ['number', 'string'] as const, request);
    if (!isId(nodeId)) throw notFound('node', nodeId);
    let q = this.#ctx.db.selectFrom('bootstrap_tokens').selectAll().where('node_id', '=', nodeId);
    if (after) q = q.where((eb) => eb(eb.refTuple('created_at', 'token_id'), '<', eb.tuple(after[0], after[1])));
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('token_id', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toBootstrapToken, (r) => [r.created_at, r.token_id]);
  }

  /** Deletes tokens that expired before `before` (kubeadm's own cleaner removes them from the cluster); returns how many. */
  async prune(before: number): Promise<number> {
    const result = await this.#ctx.db.deleteFrom('bootstrap_tokens').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
