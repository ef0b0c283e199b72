// Attestation results with the evidence they were decided on. The evidence (quote, signature, PCR
// values, event log, the node's claims) lives in its own table, so listings never read the blobs,
// and stays so that a new policy can be dry-run against what nodes really sent.
import type { Selectable } from 'kysely';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { AttestationResultsTable } from '../schema.ts';
import {
  atomic,
  bytes,
  checkBytes,
  checkOneOf,
  checkPositive,
  checkText,
  isId,
  jsonText,
  LABEL,
  newId,
  notFound,
  parseJson,
  type StoreContext,
} from '../values.ts';
import { ATTESTATION_STATUSES, NodeRepository, type AttestationStatus } from './nodes.ts';

/** An event log as a node sends it; the server's default body limit is 1 MiB, firmware logs run to ~100 KiB. */
export const MAX_EVENT_LOG_BYTES = 8 * 1024 * 1024;
/** A TPMS_ATTEST or TPMT_SIGNATURE: hundreds of bytes. */
export const MAX_QUOTE_PART_BYTES = 4096;
/** Verdict JSON (every failed rule with expected vs actual) and PCR values of all banks. */
export const MAX_VERDICT_CHARS = 1024 * 1024;
const MAX_PCR_VALUES_CHARS = 64 * 1024;
const MAX_CLAIMS_CHARS = 1024 * 1024;
/** An EAR JWT: a few KiB. */
const MAX_EAR_CHARS = 64 * 1024;

export interface AttestationEvidence {
  readonly quoteAttest: Uint8Array;
  readonly quoteSignature: Uint8Array;
  /** PCR values as the node sent them, by bank (JSON). */
  readonly pcrValues: unknown;
  readonly eventLog: Uint8Array;
  /** What the node stated besides its quote (e.g. its composefs digest): recorded, never trusted. */
  readonly claims: unknown;
}

export interface NewAttestationResult {
  readonly nodeId: string;
  readonly sessionId?: string | null;
  readonly status: AttestationStatus;
  readonly policyVersion?: number | null;
  /** The release the evidence matched, when it matched one. */
  readonly release?: string | null;
  readonly verdict: unknown;
  /** The EAR attestation result (a signed JWT). */
  readonly ear: string;
  readonly evidence: AttestationEvidence;
}

export interface AttestationResultRecord {
  readonly id: string;
  readonly nodeId: string;
  readonly sessionId: string | null;
  readonly createdAt: number;
  readonly status: AttestationStatus;
  readonly policyVersion: number | null;
  readonly release: string | null;
  readonly verdict: unknown;
  readonly ear: string;
}

function toResult(r: Selectable<AttestationResultsTable>): AttestationResultRecord {
  return {
    id: r.id,
    nodeId: r.node_id,
    sessionId: r.session_id,
    createdAt: r.created_at,
    status: r.status as AttestationStatus,
    policyVersion: r.policy_version,
    release: r.release,
    verdict: parseJson(r.verdict),
    ear: r.ear,
  };
}

export class AttestationResultRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Stores a result with its evidence and updates the node's last attestation, in one transaction. */
  async record(input: NewAttestationResult): Promise<AttestationResultRecord> {
    if (!isId(input.nodeId)) throw notFound('node', input.nodeId);
    const e = input.evidence;
    const row = {
      id: newId(),
      node_id: input.nodeId,
      session_id: input.sessionId ?? null,
      created_at: this.#ctx.now(),
      status: checkOneOf(input.status, 'status', ATTESTATION_STATUSES),
      policy_version: input.policyVersion == null ? null : checkPositive(input.policyVersion, 'policyVersion', 2 ** 31 - 1),
      release: input.release == null ? null : checkText(input.release, 'release', 128, LABEL),
      verdict: jsonText(input.verdict, 'verdict', MAX_VERDICT_CHARS),
      ear: checkText(input.ear, 'ear', MAX_EAR_CHARS),
    };
    const evidence = {
      result_id: row.id,
      quote_attest: checkBytes(e.quoteAttest, 'quoteAttest', MAX_QUOTE_PART_BYTES),
      quote_signature: checkBytes(e.quoteSignature, 'quoteSignature', MAX_QUOTE_PART_BYTES),
      pcr_values: jsonText(e.pcrValues, 'pcrValues', MAX_PCR_VALUES_CHARS),
      event_log: checkBytes(e.eventLog, 'eventLog', MAX_EVENT_LOG_BYTES, 0),
      claims: jsonText(e.claims, 'claims', MAX_CLAIMS_CHARS),
    };
    return await atomic(this.#ctx, async (ctx) => {
      await ctx.db.insertInto('attestation_results').values(row).execute();
      await ctx.db.insertInto('attestation_evidence').values(evidence).execute();
      await new NodeRepository(ctx).recordAttestation(row.node_id, { at: row.created_at, status: row.status, release: row.release });
      return toResult(row);
    });
  }

  async get(id: string): Promise<AttestationResultRecord | undefined> {
    if (!isId(id)) return undefined;
    const row = await this.#ctx.db.selectFrom('attestation_results').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toResult(row);
  }

  async evidence(resultId: string): Promise<AttestationEvidence | undefined> {
    if (!isId(resultId)) return undefined;
    const r = await this.#ctx.db.selectFrom('attestation_evidence').selectAll().where('result_id', '=', resultId).executeTakeFirst();
    return (
      r && {
        quoteAttest: bytes(r.quote_attest),
        quoteSignature: bytes(r.quote_signature),
        pcrValues: parseJson(r.pcr_values),
        eventLog: bytes(r.event_log),
        claims: parseJson(r.claims),
      }
    );
  }

  /** One node's results, newest first. */
  async listForNode(nodeId: string, request: PageRequest = {}): Promise<Page<AttestationResultRecord>> {
    if (!isId(nodeId)) throw notFound('node', nodeId);
    return await this.#page(`results:${nodeId}`, nodeId, request);
  }

  /** Every node's results, newest first (what a policy dry-run replays). */
  list(request: PageRequest = {}): Promise<Page<AttestationResultRecord>> {
    return this.#page('results', undefined, request);
  }

  async #page(listing: string, nodeId: string | undefined, request: PageRequest): Promise<Page<AttestationResultRecord>> {
    const limit = pageLimit(request);
    const after = cursorKey(listing, ['number', 'string'] as const, request);
    let q = this.#ctx.db.selectFrom('attestation_results').selectAll();
    if (nodeId !== undefined) q = q.where('node_id', '=', nodeId);
    if (after) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(after[0], after[1])));
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toResult, (r) => [r.created_at, r.id]);
  }
}
