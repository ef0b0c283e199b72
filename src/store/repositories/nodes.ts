import type { Selectable } from 'kysely';
import { StoreError } from '../errors.ts';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { NodesTable } from '../schema.ts';
import {
  bytes,
  bytesOrNull,
  checkBytes,
  checkOneOf,
  checkPositive,
  checkText,
  checkTime,
  isId,
  newId,
  notFound,
  NODE_NAME,
  LABEL,
  type StoreContext,
} from '../values.ts';

/**
 * A node's life: `pending-approval` (its EK is neither certified by a configured root nor
 * allowlisted, so an operator decides), `pending-activation` (EK accepted, waiting for the
 * credential activation that binds its AK to the EK), `enrolled`, `revoked` (keeps its record and
 * secrets; never released anything again).
 */
export const NODE_STATUSES = ['pending-approval', 'pending-activation', 'enrolled', 'revoked'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export const EK_KINDS = ['rsa', 'ecc'] as const;
export type EkKind = (typeof EK_KINDS)[number];

/** EAR status of an attestation result (draft-ietf-rats-ear). */
export const ATTESTATION_STATUSES = ['affirming', 'warning', 'contraindicated'] as const;
export type AttestationStatus = (typeof ATTESTATION_STATUSES)[number];

/** A TPM2B_PUBLIC is at most a few hundred bytes (RSA-4096 unique field included). */
export const MAX_TPM_PUBLIC_BYTES = 2048;
/** A TPM Name: 2-byte algorithm id + digest (SHA-512 at most). */
export const MAX_TPM_NAME_BYTES = 66;
/** An EK certificate (DER); real ones are 1-2 KiB. */
export const MAX_EK_CERTIFICATE_BYTES = 16 * 1024;

export interface NodeRecord {
  readonly id: string;
  readonly name: string;
  readonly status: NodeStatus;
  /** TPM2B_PUBLIC of the endorsement key, as the node sent it. */
  readonly ekPublic: Uint8Array;
  readonly ekName: Uint8Array;
  readonly ekKind: EkKind;
  readonly ekCertificate: Uint8Array | null;
  readonly tpmManufacturer: string | null;
  /** TPM2B_PUBLIC of the attestation key. */
  readonly akPublic: Uint8Array;
  readonly akName: Uint8Array;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastAttestationAt: number | null;
  readonly lastAttestationStatus: AttestationStatus | null;
  /** The release of the node's last affirming attestation. */
  readonly currentRelease: string | null;
  /** When credential activation (or a cloud AK certificate) bound the current AK to the EK; null: never bound. */
  readonly boundAt: number | null;
  /** When the stale sweep found the node's attestations stopped; null while it attests. */
  readonly staleSince: number | null;
}

export interface NewNode {
  readonly name: string;
  readonly status: NodeStatus;
  readonly ekPublic: Uint8Array;
  readonly ekName: Uint8Array;
  readonly ekKind: EkKind;
  readonly ekCertificate?: Uint8Array | null;
  readonly tpmManufacturer?: string | null;
  readonly akPublic: Uint8Array;
  readonly akName: Uint8Array;
}

function toNode(r: Selectable<NodesTable>): NodeRecord {
  return {
    id: r.id,
    name: r.name,
    status: r.status as NodeStatus,
    ekPublic: bytes(r.ek_public),
    ekName: bytes(r.ek_name),
    ekKind: r.ek_kind as EkKind,
    ekCertificate: bytesOrNull(r.ek_certificate),
    tpmManufacturer: r.tpm_manufacturer,
    akPublic: bytes(r.ak_public),
    akName: bytes(r.ak_name),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastAttestationAt: r.last_attestation_at,
    lastAttestationStatus: r.last_attestation_status as AttestationStatus | null,
    currentRelease: r.current_release,
    boundAt: r.bound_at,
    staleSince: r.stale_since,
  };
}

/** Orders of the node listing; each walks an index. */
export const NODE_SORTS = ['name', 'last-attestation', 'created'] as const;
export type NodeSort = (typeof NODE_SORTS)[number];

export interface NodeListRequest extends PageRequest {
  readonly status?: NodeStatus;
  /** Names starting with this text. */
  readonly namePrefix?: string;
  /** `name` (default, A→Z), `last-attestation` (most recent first; never attested last) or `created` (newest first). */
  readonly sort?: NodeSort;
}

/** The largest value a 64-bit time column sorts below: never-attested nodes list after every attested one. */
const NEVER = -1;

export class NodeRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Stores a new node; ERR_STORE_CONFLICT when its name or EK is already enrolled. */
  async create(input: NewNode): Promise<NodeRecord> {
    const now = this.#ctx.now();
    const row = {
      id: newId(),
      name: checkText(input.name, 'name', 253, NODE_NAME),
      status: checkOneOf(input.status, 'status', NODE_STATUSES),
      ek_public: checkBytes(input.ekPublic, 'ekPublic', MAX_TPM_PUBLIC_BYTES),
      ek_name: checkBytes(input.ekName, 'ekName', MAX_TPM_NAME_BYTES),
      ek_kind: checkOneOf(input.ekKind, 'ekKind', EK_KINDS),
      ek_certificate: input.ekCertificate == null ? null : checkBytes(input.ekCertificate, 'ekCertificate', MAX_EK_CERTIFICATE_BYTES),
      tpm_manufacturer: input.tpmManufacturer == null ? null : checkText(input.tpmManufacturer, 'tpmManufacturer', 64),
      ak_public: checkBytes(input.akPublic, 'akPublic', MAX_TPM_PUBLIC_BYTES),
      ak_name: checkBytes(input.akName, 'akName', MAX_TPM_NAME_BYTES),
      created_at: now,
      updated_at: now,
      last_attestation_at: null,
      last_attestation_status: null,
      current_release: null,
      // A node created enrolled (a cloud AK certificate vouched for its AK) is bound from the start.
      bound_at: input.status === 'enrolled' ? now : null,
      stale_since: null,
    };
    await this.#ctx.db.insertInto('nodes').values(row).execute();
    return toNode(row);
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    if (!isId(id)) return undefined;
    const row = await this.#ctx.db.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toNode(row);
  }

  /** Like get, but ERR_STORE_NOT_FOUND when there is no such node. */
  async require(id: string): Promise<NodeRecord> {
    const node = await this.get(id);
    if (!node) throw notFound('node', id);
    return node;
  }

  async getByName(name: string): Promise<NodeRecord | undefined> {
    const row = await this.#ctx.db.selectFrom('nodes').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toNode(row);
  }

  /** The node enrolled with this EK (a TPM enrolls once). */
  async getByEkName(ekName: Uint8Array): Promise<NodeRecord | undefined> {
    const row = await this.#ctx.db.selectFrom('nodes').selectAll().where('ek_name', '=', ekName).executeTakeFirst();
    return row && toNode(row);
  }

  /** Nodes, optionally of one status or with a name prefix, in one of NODE_SORTS. */
  async list(request: NodeListRequest = {}): Promise<Page<NodeRecord>> {
    const limit = pageLimit(request);
    const sort = checkOneOf(request.sort ?? 'name', 'sort', NODE_SORTS);
    const prefix = request.namePrefix === undefined || request.namePrefix === '' ? undefined : checkText(request.namePrefix, 'namePrefix', 253);
    const listing = `nodes:${request.status ?? '*'}:${sort}:${prefix ?? ''}`;
    let q = this.#ctx.db.selectFrom('nodes').selectAll();
    if (request.status !== undefined) q = q.where('status', '=', checkOneOf(request.status, 'status', NODE_STATUSES));
    // A prefix is a range of the name index: [prefix, prefix + U+FFFF).
    if (prefix !== undefined) q = q.where('name', '>=', prefix).where('name', '<', `${prefix}\uffff`);
    if (sort === 'name') {
      const after = cursorKey(listing, ['string'] as const, request);
      if (after) q = q.where('name', '>', after[0]);
      const rows = await q
        .orderBy('name')
        .limit(limit + 1)
        .execute();
      return toPage(listing, rows, limit, toNode, (r) => [r.name]);
    }
    const column = sort === 'created' ? 'created_at' : 'last_attestation_at';
    const after = cursorKey(listing, ['number', 'string'] as const, request);
    if (after) {
      // Never-attested nodes (NULL) come last: after an attested key, the attested ones below it and
      // every NULL; after the NULL marker, the NULLs below it by id.
      q =
        after[0] === NEVER
          ? q.where(column, 'is', null).where('id', '<', after[1])
          : q.where((eb) => eb.or([eb(eb.refTuple(column, 'id'), '<', eb.tuple(after[0], after[1])), eb(column, 'is', null)]));
    }
    const rows = await q
      .orderBy(column, (o) => (column === 'created_at' ? o.desc() : o.desc().nullsLast()))
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(listing, rows, limit, toNode, (r) => [r[column] ?? NEVER, r.id]);
  }

  /** The approval queue: nodes waiting for an operator, oldest first. */
  async approvalQueue(request: PageRequest = {}): Promise<Page<NodeRecord>> {
    const limit = pageLimit(request);
    const after = cursorKey('approval-queue', ['number', 'string'] as const, request);
    let q = this.#ctx.db.selectFrom('nodes').selectAll().where('status', '=', 'pending-approval');
    if (after) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after[0], after[1])));
    const rows = await q
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    return toPage('approval-queue', rows, limit, toNode, (r) => [r.created_at, r.id]);
  }

  async count(status?: NodeStatus): Promise<number> {
    let q = this.#ctx.db.selectFrom('nodes').select((eb) => eb.fn.countAll<number>().as('n'));
    if (status !== undefined) q = q.where('status', '=', checkOneOf(status, 'status', NODE_STATUSES));
    const row = await q.executeTakeFirstOrThrow();
    return row.n;
  }

  /**
   * Moves a node to `to` only if its status is one of `from` (compare-and-set, so two replicas
   * approving and revoking at once cannot both win). ERR_STORE_CONFLICT names the status it found.
   */
  async setStatus(id: string, to: NodeStatus, from: readonly NodeStatus[]): Promise<NodeRecord> {
    checkOneOf(to, 'status', NODE_STATUSES);
    if (from.length === 0) throw new StoreError('ERR_STORE_INVALID', 'from must name at least one status', { field: 'from' });
    if (!isId(id)) throw notFound('node', id);
    const row = await this.#ctx.db
      .updateTable('nodes')
      .set({ status: to, updated_at: this.#ctx.now() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    if (row) return toNode(row);
    const node = await this.require(id);
    throw new StoreError('ERR_STORE_CONFLICT', `node ${node.name} is ${node.status}, not ${from.join(' or ')}`, { nodeId: id, status: node.status });
  }

  /**
   * Binds an AK to the node's EK after credential activation proved both live in one TPM: the AK
   * replaces the node's (a re-enrollment on the same TPM), the node becomes enrolled (from
   * pending-activation, or stays enrolled) and `boundAt` is set. Compare-and-set like setStatus.
   */
  async bind(id: string, ak: { readonly akPublic: Uint8Array; readonly akName: Uint8Array }): Promise<NodeRecord> {
    if (!isId(id)) throw notFound('node', id);
    const now = this.#ctx.now();
    const row = await this.#ctx.db
      .updateTable('nodes')
      .set({
        status: 'enrolled',
        ak_public: checkBytes(ak.akPublic, 'akPublic', MAX_TPM_PUBLIC_BYTES),
        ak_name: checkBytes(ak.akName, 'akName', MAX_TPM_NAME_BYTES),
        bound_at: now,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('status', 'in', ['pending-activation', 'enrolled'])
      .returningAll()
      .executeTakeFirst();
    if (row) return toNode(row);
    const node = await this.require(id);
    throw new StoreError('ERR_STORE_CONFLICT', `node ${node.name} is ${node.status}: only a node waiting for activation or enrolled can bind an AK`, {
      nodeId: id,
      status: node.status,
    });
  }

  /**
   * Marks enrolled nodes whose last attestation (or, never attested, their binding) is older than
   * `before` as stale, at most `limit` of them, and returns those this call marked (each exactly
   * once, whichever replica sweeps). A node's next attestation clears the mark.
   */
  async markStale(before: number, limit: number): Promise<NodeRecord[]> {
    checkTime(before, 'before');
    checkPositive(limit, 'limit', 10_000);
    const now = this.#ctx.now();
    const candidates = this.#ctx.db
      .selectFrom('nodes')
      .select('id')
      .where('status', '=', 'enrolled')
      .where('stale_since', 'is', null)
      .where((eb) => eb.or([eb('last_attestation_at', '<', before), eb.and([eb('last_attestation_at', 'is', null), eb('bound_at', '<', before)])]))
      .limit(limit);
    const rows = await this.#ctx.db
      .updateTable('nodes')
      .set({ stale_since: now, updated_at: now })
      .where('id', 'in', candidates)
      .where('stale_since', 'is', null)
      .returningAll()
      .execute();
    return rows.map(toNode);
  }

  /** Replaces the node's AK (a re-enrollment on the same TPM); the caller has verified the new AK's binding to the EK. */
  async replaceAk(id: string, akPublic: Uint8Array, akName: Uint8Array): Promise<NodeRecord> {
    if (!isId(id)) throw notFound('node', id);
    const row = await this.#ctx.db
      .updateTable('nodes')
      .set({
        ak_public: checkBytes(akPublic, 'akPublic', MAX_TPM_PUBLIC_BYTES),
        ak_name: checkBytes(akName, 'akName', MAX_TPM_NAME_BYTES),
        updated_at: this.#ctx.now(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound('node', id);
    return toNode(row);
  }

  /** Records an attestation's outcome; an affirming one also sets the node's current release. */
  async recordAttestation(id: string, outcome: { readonly at: number; readonly status: AttestationStatus; readonly release?: string | null }): Promise<void> {
    const status = checkOneOf(outcome.status, 'status', ATTESTATION_STATUSES);
    const release = outcome.release == null ? null : checkText(outcome.release, 'release', 128, LABEL);
    const result = await this.#ctx.db
      .updateTable('nodes')
      .set({
        last_attestation_at: outcome.at,
        last_attestation_status: status,
        stale_since: null,
        updated_at: this.#ctx.now(),
        ...(status === 'affirming' ? { current_release: release } : {}),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw notFound('node', id);
  }
}
