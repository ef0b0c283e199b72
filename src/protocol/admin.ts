// The admin API (operators, the `vouch admin` commands and the dashboard), declared once like the
// node protocol: these schemas validate requests, serialize responses and make the OpenAPI
// document. Times are ISO 8601; binary values hex (names, hashes) or base64url (secret values).
// Every listing is keyset-paged: `{ items, nextCursor? }`, the cursor passed back as `cursor`.
import { Type, type Static, type TSchema } from 'typebox';
import { PcrSelectionSchema, PcrValuesSchema, Uuid, VerdictReasonSchema } from './messages.ts';

const Time = Type.String({ format: 'date-time' });
const Hex = Type.String({ pattern: '^[0-9a-f]*$' });
const Label = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$' });
const NullableTime = Type.Union([Time, Type.Null()]);

export const NODE_STATES = ['pending-approval', 'pending-activation', 'enrolled', 'revoked'] as const;
export const ADMIN_ROLE_NAMES = ['viewer', 'operator', 'admin'] as const;
export const ATTESTATION_STATES = ['affirming', 'warning', 'contraindicated'] as const;
export const NODE_LIST_SORTS = ['name', 'last-attestation', 'created'] as const;

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum<T>(values);

export const NodeState = literals(NODE_STATES);
export const AdminRoleName = literals(ADMIN_ROLE_NAMES);
export const AttestationState = literals(ATTESTATION_STATES);

/** A page of a listing. */
export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object(
    { items: Type.Array(item), nextCursor: Type.Optional(Type.String({ description: 'pass back as `cursor` for the next page' })) },
    { additionalProperties: false },
  );

const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'rows per page (default 100)' })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 })),
};

export const NodeView = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    status: NodeState,
    /** Enrolled, but no attestation for longer than the configured interval. */
    stale: Type.Boolean(),
    /** Revoked before its AK was ever bound: an operator denied the enrollment. */
    denied: Type.Boolean(),
    ekName: Hex,
    ekKind: Type.Union([Type.Literal('rsa'), Type.Literal('ecc')]),
    ekCertified: Type.Boolean({ description: 'the node presented an EK certificate' }),
    akName: Hex,
    createdAt: Time,
    updatedAt: Time,
    boundAt: NullableTime,
    staleSince: NullableTime,
    lastAttestationAt: NullableTime,
    lastAttestationStatus: Type.Union([AttestationState, Type.Null()]),
    currentRelease: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type NodeView = Static<typeof NodeView>;

export const NodeListQuery = Type.Object(
  {
    status: Type.Optional(NodeState),
    search: Type.Optional(Type.String({ maxLength: 253, description: 'names starting with this' })),
    sort: Type.Optional(literals(NODE_LIST_SORTS)),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type NodeListQuery = Static<typeof NodeListQuery>;
export const NodePage = PageOf(NodeView);

export const PageRequestQuery = Type.Object(PageQuery, { additionalProperties: false });
export type PageRequestQuery = Static<typeof PageRequestQuery>;

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const AuditEntryView = Type.Object(
  {
    seq: Type.Integer(),
    at: Time,
    actor: Type.String(),
    action: Type.String(),
    subject: Type.Union([Type.String(), Type.Null()]),
    details: Type.Unknown(),
    hash: Hex,
  },
  { additionalProperties: false },
);
export type AuditEntryView = Static<typeof AuditEntryView>;
export const AuditPage = PageOf(AuditEntryView);
export const AuditQuery = Type.Object({ subject: Type.Optional(Type.String({ maxLength: 256 })), ...PageQuery }, { additionalProperties: false });

export const AuditVerifyQuery = Type.Object(
  {
    anchorSeq: Type.Optional(Type.Integer({ minimum: 1 })),
    anchorHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  { additionalProperties: false },
);

export const AuditVerifyReport = Type.Object(
  {
    ok: Type.Boolean(),
    entries: Type.Integer(),
    /** The last entry as found: record it outside the database and pass it back as an anchor. */
    head: Type.Object({ seq: Type.Integer(), hash: Hex }, { additionalProperties: false }),
    problems: Type.Array(
      Type.Object(
        {
          kind: literals(['edited', 'broken-link', 'missing', 'head-mismatch', 'anchor-mismatch'] as const),
          seq: Type.Integer(),
          message: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    problemsTruncated: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type AuditVerifyReport = Static<typeof AuditVerifyReport>;

export const ResultView = Type.Object(
  {
    id: Uuid,
    nodeId: Uuid,
    createdAt: Time,
    status: AttestationState,
    policyVersion: Type.Union([Type.Integer(), Type.Null()]),
    release: Type.Union([Type.String(), Type.Null()]),
    reasons: Type.Array(VerdictReasonSchema),
  },
  { additionalProperties: false },
);
export type ResultView = Static<typeof ResultView>;
export const ResultPage = PageOf(ResultView);
export const ResultQuery = Type.Object({ nodeId: Type.Optional(Uuid), ...PageQuery }, { additionalProperties: false });
export const ResultDetail = Type.Object(
  {
    result: ResultView,
    /** The whole verdict: every PCR's appraisal, the claims, the comparisons with each release. */
    verdict: Type.Unknown(),
    /** The EAR JWT the node was given. */
    ear: Type.String(),
  },
  { additionalProperties: false },
);

export const NodeDetail = Type.Object(
  {
    node: NodeView,
    /** The node's audit entries, newest first: enrollment, approvals, decisions, releases, revocations. */
    timeline: Type.Array(AuditEntryView),
    /** Its latest attestation results, newest first. */
    results: Type.Array(ResultView),
  },
  { additionalProperties: false },
);

export const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false });

// ---------------------------------------------------------------------------------------------
// Policies and reference sets

export const PolicyView = Type.Object(
  {
    version: Type.Integer(),
    description: Type.String(),
    /** The policy document (YAML or JSON) as it was saved. */
    text: Type.String(),
    active: Type.Boolean(),
    createdAt: Time,
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);
export type PolicyView = Static<typeof PolicyView>;
export const PolicyPage = PageOf(PolicyView);
export const PolicyCreate = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 64 * 1024, description: 'a policy document: { rules: [{ name, expr, message?, action? }] } as YAML or JSON' }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    activate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PolicyCreate = Static<typeof PolicyCreate>;
export const VersionParams = Type.Object({ version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

export const DryRunRequest = Type.Object(
  {
    /** A policy document to try; or `version` of a stored one. */
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 64 * 1024 })),
    version: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Only this node's recorded attestations. */
    nodeId: Type.Optional(Uuid),
    /** How many of the most recent recorded attestations to replay (default 100). */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type DryRunRequest = Static<typeof DryRunRequest>;

export const DryRunOutcome = Type.Object(
  {
    resultId: Uuid,
    nodeId: Uuid,
    recordedAt: Time,
    /** The status recorded at the time. */
    before: AttestationState,
    /** The status under the policy tried (and today's accepted reference sets). */
    after: AttestationState,
    reasons: Type.Array(VerdictReasonSchema),
  },
  { additionalProperties: false },
);
export const DryRunReport = Type.Object(
  {
    appraised: Type.Integer(),
    /** Outcomes whose status would change. */
    changed: Type.Integer(),
    outcomes: Type.Array(DryRunOutcome),
  },
  { additionalProperties: false },
);
export type DryRunReport = Static<typeof DryRunReport>;

export const ReferenceSetView = Type.Object(
  {
    name: Label,
    version: Type.Integer(),
    composefsDigest: Type.Union([Type.String(), Type.Null()]),
    active: Type.Boolean(),
    createdAt: Time,
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);
export type ReferenceSetView = Static<typeof ReferenceSetView>;
export const ReferenceSetPage = PageOf(ReferenceSetView);
export const ReferenceSetDetail = Type.Object(
  {
    set: ReferenceSetView,
    /** The reference set: a rule for every PCR of every bank, the predicted events, the assumptions. */
    content: Type.Unknown(),
  },
  { additionalProperties: false },
);
export const ReferenceSetImport = Type.Object(
  {
    name: Label,
    /** `vouch predict PROFILE --json` output (its `result`, or the whole `{result, error}` document). */
    prediction: Type.Unknown(),
    /** The release's root image digest, as `vouch composefs build` prints it (composefs=<digest>). */
    composefsDigest: Type.Optional(Type.String({ pattern: '^(composefs=)?([a-z0-9]+:)?[0-9a-f]{64,128}$' })),
    activate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ReferenceSetImport = Static<typeof ReferenceSetImport>;
export const NameParams = Type.Object({ name: Label }, { additionalProperties: false });
export const NameVersionParams = Type.Object({ name: Label, version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

// ---------------------------------------------------------------------------------------------
// Secrets, tokens, webhooks

export const SecretView = Type.Object(
  { owner: Type.String(), name: Type.String(), version: Type.Integer(), createdAt: Time },
  { additionalProperties: false, description: 'a secret version (never its value)' },
);
export const SecretImport = Type.Object(
  { value: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 4096, description: 'the LUKS key to import (base64url)' }) },
  { additionalProperties: false },
);
export const BackupRequest = Type.Object({ passphrase: Type.String({ minLength: 12, maxLength: 1024 }) }, { additionalProperties: false });
export const RestoreRequest = Type.Object(
  {
    passphrase: Type.String({ minLength: 12, maxLength: 1024 }),
    /** The backup's lines as `vouch admin secrets backup` wrote them. */
    backup: Type.String({ maxLength: 64 * 1024 * 1024 }),
  },
  { additionalProperties: false },
);
export const RestoreReport = Type.Object({ imported: Type.Integer(), unchanged: Type.Integer() }, { additionalProperties: false });
export const RotationReportView = Type.Object(
  { toKeyId: Type.String(), fromKeyIds: Type.Array(Type.String()), rewrapped: Type.Integer() },
  { additionalProperties: false },
);

export const TokenView = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    role: AdminRoleName,
    createdAt: Time,
    expiresAt: NullableTime,
    revokedAt: NullableTime,
    lastUsedAt: NullableTime,
  },
  { additionalProperties: false },
);
export const TokenPage = PageOf(TokenView);
export const TokenCreate = Type.Object(
  { name: Label, role: AdminRoleName, expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 366 * 86_400 })) },
  { additionalProperties: false },
);
export const TokenCreated = Type.Object(
  { token: Type.String({ description: 'shown once; only its SHA-256 is stored' }), record: TokenView },
  { additionalProperties: false },
);

/** Node status changes, as webhooks receive them and the dashboard's event stream shows them. */
export const NODE_EVENT_TYPES = [
  'node.pending-approval',
  'node.enrolled',
  'node.approved',
  'node.denied',
  'node.revoked',
  'node.unrevoked',
  'node.attestation-changed',
  'node.stale',
] as const;
export type NodeEventType = (typeof NODE_EVENT_TYPES)[number];

export const NodeEvent = Type.Object(
  {
    /** The audit entry that recorded the change: events are ordered, and a stream resumes after one (Last-Event-ID). */
    seq: Type.Integer(),
    type: literals(NODE_EVENT_TYPES),
    at: Time,
    nodeId: Uuid,
    name: Type.String(),
    status: NodeState,
    attestationStatus: Type.Optional(AttestationState),
    release: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    actor: Type.String(),
  },
  { additionalProperties: false },
);
export type NodeEvent = Static<typeof NodeEvent>;

export const WebhookView = Type.Object(
  { id: Uuid, url: Type.String(), events: Type.Array(Type.String()), createdAt: Time, disabledAt: NullableTime },
  { additionalProperties: false },
);
export const WebhookPage = PageOf(WebhookView);
export const WebhookCreate = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
    events: Type.Array(literals(NODE_EVENT_TYPES), { minItems: 1, maxItems: NODE_EVENT_TYPES.length, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export const WebhookCreated = Type.Object(
  {
    webhook: WebhookView,
    /** The HMAC-SHA256 key deliveries are signed with (base64url): shown once. */
    secret: Type.String(),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------------
// Recorded attestations: what `vouch policy test --evidence DIR` replays offline.

export const RECORDED_ATTESTATION_FORMAT = 'vouch.recorded-attestation.v1';

/**
 * One attestation as the server appraised it: the evidence byte for byte, what bound it (the AK,
 * the qualifying data, the PCR selection), and the reference sets it was compared with. Enough to
 * appraise it again under another policy, with no server.
 */
export const RecordedAttestation = Type.Object(
  {
    format: Type.Literal(RECORDED_ATTESTATION_FORMAT),
    resultId: Uuid,
    node: Type.Object({ id: Uuid, name: Type.String() }, { additionalProperties: false }),
    recordedAt: Time,
    status: AttestationState,
    policyVersion: Type.Union([Type.Integer(), Type.Null()]),
    /** TPM2B_PUBLIC of the AK the quote was checked with (base64url). */
    akPublic: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
    /** SHA-256(nonce ‖ JWK thumbprint): what the quote had to carry (base64url). */
    qualifyingData: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
    pcrSelection: PcrSelectionSchema,
    quote: Type.Object({ attest: Type.String(), signature: Type.String() }, { additionalProperties: false }),
    pcrValues: PcrValuesSchema,
    eventLog: Type.String({ pattern: '^[A-Za-z0-9_-]*$' }),
    /** The accepted reference sets then: release name → set, and release name → composefs digest. */
    references: Type.Object(
      { sets: Type.Record(Type.String(), Type.Unknown()), composefsDigests: Type.Record(Type.String(), Type.String()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RecordedAttestation = Static<typeof RecordedAttestation>;
