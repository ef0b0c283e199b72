// Enrollment challenges and attestation sessions: made by one replica, used once by any replica.
// Use is one UPDATE … WHERE consumed_at IS NULL AND expires_at > now RETURNING: of two concurrent
// uses (two replicas, or a replayed request racing the real one) the database lets exactly one
// update the row; the other matches nothing and is told why.
import { randomBytes } from 'node:crypto';
import { StoreError } from '../errors.ts';
import { bytes, checkBytes, checkPositive, isId, jsonText, newId, notFound, parseJson, type StoreContext } from '../values.ts';
import { MAX_TPM_NAME_BYTES, MAX_TPM_PUBLIC_BYTES } from './nodes.ts';

/** Longest life of a challenge or session: both are meant to be answered within seconds. */
export const MAX_SINGLE_USE_TTL_MS = 60 * 60 * 1000;
export const ATTESTATION_NONCE_BYTES = 32;
/** H(S) of an enrollment challenge: a SHA-256 or SHA-512 digest. */
const MAX_SECRET_HASH_BYTES = 64;
/** A PCR selection as JSON ({bank: [pcr, ...]}, a handful of banks of 24 PCRs). */
const MAX_PCR_SELECTION_CHARS = 4096;

type SingleUseTable = 'enrollment_challenges' | 'attestation_sessions';

/** Why a use matched no row: unknown, already used, or expired (checked in that order). */
async function refusal(ctx: StoreContext, table: SingleUseTable, what: string, id: string, now: number): Promise<StoreError> {
  const row = await ctx.db.selectFrom(table).select(['consumed_at', 'expires_at']).where('id', '=', id).executeTakeFirst();
  if (!row) return notFound(what, id);
  if (row.consumed_at !== null) return new StoreError('ERR_STORE_CONSUMED', `${what} ${id} was already used`, { id, consumedAt: row.consumed_at });
  return new StoreError('ERR_STORE_EXPIRED', `${what} ${id} expired ${now - row.expires_at} ms ago`, { id, expiresAt: row.expires_at });
}

async function pruneExpired(ctx: StoreContext, table: SingleUseTable, before: number): Promise<number> {
  const result = await ctx.db.deleteFrom(table).where('expires_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface EnrollmentChallenge {
  readonly id: string;
  readonly nodeId: string;
  /** H(S): the secret S itself is never stored. */
  readonly secretHash: Uint8Array;
  readonly expiresAt: number;
  /** The AK (TPM2B_PUBLIC) and its Name that activation binds; the node keeps its bound AK until then. */
  readonly ak: { readonly akPublic: Uint8Array; readonly akName: Uint8Array } | null;
}

function challengeAk(akPublic: Uint8Array | null, akName: Uint8Array | null): EnrollmentChallenge['ak'] {
  return akPublic === null || akName === null ? null : { akPublic: bytes(akPublic), akName: bytes(akName) };
}

export class EnrollmentChallengeRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async create(input: {
    readonly nodeId: string;
    readonly secretHash: Uint8Array;
    readonly ttlMs: number;
    readonly ak?: { readonly akPublic: Uint8Array; readonly akName: Uint8Array };
  }): Promise<EnrollmentChallenge> {
    if (!isId(input.nodeId)) throw notFound('node', input.nodeId);
    const now = this.#ctx.now();
    const row = {
      id: newId(),
      node_id: input.nodeId,
      secret_hash: checkBytes(input.secretHash, 'secretHash', MAX_SECRET_HASH_BYTES, 32),
      created_at: now,
      expires_at: now + checkPositive(input.ttlMs, 'ttlMs', MAX_SINGLE_USE_TTL_MS),
      consumed_at: null,
      ak_public: input.ak ? checkBytes(input.ak.akPublic, 'akPublic', MAX_TPM_PUBLIC_BYTES) : null,
      ak_name: input.ak ? checkBytes(input.ak.akName, 'akName', MAX_TPM_NAME_BYTES) : null,
    };
    await this.#ctx.db.insertInto('enrollment_challenges').values(row).execute();
    return { id: row.id, nodeId: row.node_id, secretHash: row.secret_hash, expiresAt: row.expires_at, ak: challengeAk(row.ak_public, row.ak_name) };
  }

  /**
   * Uses the challenge, once: returns it for the caller's constant-time comparison of H(S).
   * A wrong answer still uses it up, so each challenge gives an attacker one guess.
   * ERR_STORE_NOT_FOUND, ERR_STORE_CONSUMED or ERR_STORE_EXPIRED otherwise.
   */
  async consume(id: string): Promise<EnrollmentChallenge> {
    if (!isId(id)) throw notFound('enrollment challenge', id);
    const now = this.#ctx.now();
    const row = await this.#ctx.db
      .updateTable('enrollment_challenges')
      .set({ consumed_at: now })
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'node_id', 'secret_hash', 'expires_at', 'ak_public', 'ak_name'])
      .executeTakeFirst();
    if (!row) throw await refusal(this.#ctx, 'enrollment_challenges', 'enrollment challenge', id, now);
    return { id: row.id, nodeId: row.node_id, secretHash: bytes(row.secret_hash), expiresAt: row.expires_at, ak: challengeAk(row.ak_public, row.ak_name) };
  }

  /** Deletes challenges that expired before `before`; returns how many. */
  prune(before: number): Promise<number> {
    return pruneExpired(this.#ctx, 'enrollment_challenges', before);
  }
}

/** PCR selection of a session: bank name → PCR indices. */
export type PcrSelection = Readonly<Record<string, readonly number[]>>;

export interface AttestationSession {
  readonly id: string;
  readonly nodeId: string;
  readonly nonce: Uint8Array;
  readonly pcrSelection: PcrSelection;
  readonly expiresAt: number;
}

export class AttestationSessionRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** A session with a fresh 32-byte nonce (or the caller's, when it draws its own randomness). */
  async create(input: {
    readonly nodeId: string;
    readonly pcrSelection: PcrSelection;
    readonly ttlMs: number;
    readonly nonce?: Uint8Array;
  }): Promise<AttestationSession> {
    if (!isId(input.nodeId)) throw notFound('node', input.nodeId);
    const nonce = input.nonce ?? new Uint8Array(randomBytes(ATTESTATION_NONCE_BYTES));
    checkBytes(nonce, 'nonce', ATTESTATION_NONCE_BYTES, ATTESTATION_NONCE_BYTES);
    const now = this.#ctx.now();
    const row = {
      id: newId(),
      node_id: input.nodeId,
      nonce,
      pcr_selection: jsonText(input.pcrSelection, 'pcrSelection', MAX_PCR_SELECTION_CHARS),
      created_at: now,
      expires_at: now + checkPositive(input.ttlMs, 'ttlMs', MAX_SINGLE_USE_TTL_MS),
      consumed_at: null,
    };
    await this.#ctx.db.insertInto('attestation_sessions').values(row).execute();
    return { id: row.id, nodeId: row.node_id, nonce, pcrSelection: input.pcrSelection, expiresAt: row.expires_at };
  }

  /** Uses the session, once, from any replica; ERR_STORE_NOT_FOUND, ERR_STORE_CONSUMED or ERR_STORE_EXPIRED otherwise. */
  async consume(id: string): Promise<AttestationSession> {
    if (!isId(id)) throw notFound('attestation session', id);
    const now = this.#ctx.now();
    const row = await this.#ctx.db
      .updateTable('attestation_sessions')
      .set({ consumed_at: now })
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'node_id', 'nonce', 'pcr_selection', 'expires_at'])
      .executeTakeFirst();
    if (!row) throw await refusal(this.#ctx, 'attestation_sessions', 'attestation session', id, now);
    return { id: row.id, nodeId: row.node_id, nonce: bytes(row.nonce), pcrSelection: parseJson(row.pcr_selection) as PcrSelection, expiresAt: row.expires_at };
  }

  /** Deletes sessions that expired before `before`; returns how many. */
  prune(before: number): Promise<number> {
    return pruneExpired(this.#ctx, 'attestation_sessions', before);
  }
}
