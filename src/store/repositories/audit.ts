// The audit log: every decision and every release, append-only, each entry hashing the one before:
//   hash(n) = SHA-256(canonical JSON of {seq, at, actor, action, subject, details} ‖ hash(n-1))
// with hash(0) = 32 zero bytes. Appends take the head row first (FOR UPDATE on PostgreSQL, so
// replicas append one at a time and never fork the chain; SQLite has one writer process), and the
// head records the last entry, so that deleting the newest rows is detected as well.
//
// The chain proves the log was not changed *by someone who cannot rewrite all of it*: whoever can
// write the database can recompute every hash. Record the head (`vouch audit verify` prints it)
// somewhere else and pass it back as an anchor to detect that too.
import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import { bytesEqual, toHex } from '../../bytes/index.ts';
import { canonicalJson } from '../canonical-json.ts';
import { StoreError } from '../errors.ts';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { AuditLogTable } from '../schema.ts';
import { atomic, bytes, checkText, LABEL, parseJson, type StoreContext } from '../values.ts';

/** Details of one entry (the decision's reasons, the secret's name and version, ...). */
export const MAX_AUDIT_DETAILS_CHARS = 256 * 1024;
const GENESIS_HASH = new Uint8Array(32);
/** Rows read per query while verifying: memory stays bounded whatever the log's length. */
const VERIFY_BATCH = 1000;

export interface AuditEntryInput {
  /** Who: `admin:<token name>`, `node:<id>`, `server`. */
  readonly actor: string;
  /** What: `attest.affirming`, `release.secrets`, `node.revoke`, ... */
  readonly action: string;
  /** What it concerns, usually a node id; listings filter on it. */
  readonly subject?: string | null;
  readonly details?: unknown;
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly subject: string | null;
  readonly details: unknown;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: Uint8Array;
}

export type AuditProblemKind =
  /** The entry's content does not give its hash: edited, or moved to another sequence number. */
  | 'edited'
  /** The entry does not chain to the one before it: an entry before it was replaced or inserted. */
  | 'broken-link'
  /** Sequence numbers are missing: entries were deleted. */
  | 'missing'
  /** The head does not name the last entry: the newest entries were deleted, or some were appended around the store. */
  | 'head-mismatch'
  /** The entry at an anchor's sequence number does not have the anchor's hash: the log was rewritten. */
  | 'anchor-mismatch';

export interface AuditProblem {
  readonly kind: AuditProblemKind;
  readonly seq: number;
  readonly message: string;
}

export interface AuditChainReport {
  readonly ok: boolean;
  /** Entries read. */
  readonly entries: number;
  /** The last entry as found (seq 0 for an empty log). */
  readonly last: AuditHead;
  /** The first problems found, in log order (at most `maxProblems`). */
  readonly problems: readonly AuditProblem[];
  readonly problemsTruncated: boolean;
}

function entryHash(
  entry: { seq: number; at: number; actor: string; action: string; subject: string | null; details: unknown },
  prevHash: Uint8Array,
): Uint8Array {
  const text = canonicalJson({ seq: entry.seq, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject, details: entry.details });
  return new Uint8Array(createHash('sha256').update(text, 'utf8').update(prevHash).digest());
}

function toEntry(r: Selectable<AuditLogTable>): AuditEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    details: parseJson(r.details),
    prevHash: bytes(r.prev_hash),
    hash: bytes(r.hash),
  };
}

export class AuditLogRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Appends an entry; in the caller's transaction when there is one, so a decision and its entry commit together. */
  async append(input: AuditEntryInput): Promise<AuditEntry> {
    const actor = checkText(input.actor, 'actor', 256);
    const action = checkText(input.action, 'action', 128, LABEL);
    const subject = input.subject == null ? null : checkText(input.subject, 'subject', 256);
    const detailsText = canonicalJson(input.details ?? {});
    if (detailsText.length > MAX_AUDIT_DETAILS_CHARS) {
      throw new StoreError('ERR_STORE_INVALID', `details must be at most ${MAX_AUDIT_DETAILS_CHARS} characters of JSON, got ${detailsText.length}`, {
        field: 'details',
      });
    }
    const details = parseJson(detailsText);
    return await atomic(this.#ctx, async (ctx) => {
      let q = ctx.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
      if (ctx.dialect === 'postgres') q = q.forUpdate();
      const head = await q.executeTakeFirstOrThrow();
      const entry = { seq: head.seq + 1, at: ctx.now(), actor, action, subject, details };
      const prevHash = bytes(head.hash);
      const hash = entryHash(entry, prevHash);
      await ctx.db
        .insertInto('audit_log')
        .values({ seq: entry.seq, at: entry.at, actor, action, subject, details: detailsText, prev_hash: prevHash, hash })
        .execute();
      await ctx.db.updateTable('audit_head').set({ seq: entry.seq, hash }).where('id', '=', 1).execute();
      return { ...entry, prevHash, hash };
    });
  }

  async head(): Promise<AuditHead> {
    const head = await this.#ctx.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { seq: head.seq, hash: bytes(head.hash) };
  }

  /** Entries newest first, optionally about one subject. */
  async list(request: PageRequest & { readonly subject?: string } = {}): Promise<Page<AuditEntry>> {
    const limit = pageLimit(request);
    const listing = request.subject === undefined ? 'audit' : `audit:${request.subject}`;
    const after = cursorKey(listing, ['number'] as const, request);
    let q = this.#ctx.db.selectFrom('audit_log').selectAll();
    if (request.subject !== undefined) q = q.where('subject', '=', request.subject);
    if (after) q = q.where('seq', '<', after[0]);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toEntry, (r) => [r.seq]);
  }

  /** Entries after `seq`, oldest first (what a follower of the log reads next), optionally only some actions. */
  async listAfter(seq: number, request: { readonly limit?: number; readonly actionPrefix?: string } = {}): Promise<AuditEntry[]> {
    const limit = pageLimit(request);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new StoreError('ERR_STORE_INVALID', 'seq must be a non-negative integer', { field: 'seq' });
    let q = this.#ctx.db.selectFrom('audit_log').selectAll().where('seq', '>', seq);
    if (request.actionPrefix !== undefined) {
      const prefix = checkText(request.actionPrefix, 'actionPrefix', 128, LABEL);
      q = q.where('action', '>=', prefix).where('action', '<', `${prefix}\uffff`);
    }
    const rows = await q.orderBy('seq').limit(limit).execute();
    return rows.map(toEntry);
  }

  /**
   * Reads the whole log in order and checks every link: finds edited, deleted, inserted and
   * reordered entries and a truncated tail. `anchors` are heads recorded earlier outside the
   * database; each must still be in the log.
   */
  async verify(options: { readonly anchors?: readonly AuditHead[]; readonly maxProblems?: number } = {}): Promise<AuditChainReport> {
    const maxProblems = options.maxProblems ?? 100;
    const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]));
    const problems: AuditProblem[] = [];
    let truncated = false;
    const report = (kind: AuditProblemKind, seq: number, message: string): void => {
      if (problems.length < maxProblems) problems.push({ kind, seq, message });
      else truncated = true;
    };
    let expected = 1;
    let prevHash: Uint8Array = GENESIS_HASH;
    let entries = 0;
    let afterSeq = 0;
    for (;;) {
      const rows = await this.#ctx.db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(VERIFY_BATCH).execute();
      for (const r of rows) {
        entries++;
        if (r.seq !== expected) report('missing', expected, `entries ${expected}..${r.seq - 1} are missing`);
        const stored = bytes(r.hash);
        if (!bytesEqual(bytes(r.prev_hash), prevHash)) report('broken-link', r.seq, `entry ${r.seq} does not chain to entry ${r.seq - 1}`);
        let intact: boolean;
        try {
          intact = bytesEqual(entryHash({ ...r, details: parseJson(r.details) }, bytes(r.prev_hash)), stored);
        } catch {
          intact = false; // details that are not JSON were not written by append()
        }
        if (!intact) report('edited', r.seq, `entry ${r.seq}'s content does not match its hash`);
        const anchor = anchors.get(r.seq);
        if (anchor) {
          if (!bytesEqual(anchor, stored)) report('anchor-mismatch', r.seq, `entry ${r.seq} has hash ${toHex(stored)}, the anchor says ${toHex(anchor)}`);
          anchors.delete(r.seq);
        }
        prevHash = stored;
        expected = r.seq + 1;
      }
      if (rows.length < VERIFY_BATCH) break;
      afterSeq = rows[rows.length - 1]!.seq;
    }
    const last = { seq: expected - 1, hash: prevHash };
    for (const seq of anchors.keys()) report('anchor-mismatch', seq, `the anchor's entry ${seq} is not in the log`);
    const head = await this.head();
    if (head.seq !== last.seq || !bytesEqual(head.hash, last.hash)) {
      report('head-mismatch', head.seq, `the head names entry ${head.seq} (${toHex(head.hash)}), the log ends at entry ${last.seq} (${toHex(last.hash)})`);
    }
    return { ok: problems.length === 0 && !truncated, entries, last, problems, problemsTruncated: truncated };
  }
}
