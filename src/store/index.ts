// The server's store: one typed query layer over the embedded SQLite store (node:sqlite, one
// writer process) and PostgreSQL (replicas). docs/store.md describes the schema and its guarantees.
export { openStore, DATABASE_FILE, WRITER_LOCK_FILE } from './open.ts';
export type { StoreLocation, OpenStoreOptions, QueryEvent } from './open.ts';
export { Store, Repositories } from './store.ts';
export type { Dialect } from './migrations.ts';
export { StoreError, StoreErrorCode } from './errors.ts';
export type { StoreErrorCodeName } from './errors.ts';
export { canonicalJson } from './canonical-json.ts';
export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './paging.ts';
export type { Page, PageRequest } from './paging.ts';
export { NODE_STATUSES, NODE_SORTS, EK_KINDS, ATTESTATION_STATUSES, MAX_TPM_PUBLIC_BYTES, MAX_EK_CERTIFICATE_BYTES } from './repositories/nodes.ts';
export type { NodeRecord, NewNode, NodeStatus, NodeSort, NodeListRequest, EkKind, AttestationStatus, NodeRepository } from './repositories/nodes.ts';
export { ATTESTATION_NONCE_BYTES, MAX_SINGLE_USE_TTL_MS } from './repositories/single-use.ts';
export type {
  EnrollmentChallenge,
  EnrollmentChallengeRepository,
  AttestationSession,
  AttestationSessionRepository,
  PcrSelection,
} from './repositories/single-use.ts';
export { MAX_EVENT_LOG_BYTES } from './repositories/results.ts';
export type { AttestationEvidence, AttestationResultRecord, NewAttestationResult, AttestationResultRepository } from './repositories/results.ts';
export { MAX_REFERENCE_SET_CHARS, MAX_POLICY_CHARS, MAX_ACTIVE_RELEASES } from './repositories/versioned.ts';
export type { ActiveReferenceSet, ReferenceSetRecord, ReferenceSetRepository, PolicyRecord, PolicyRepository } from './repositories/versioned.ts';
export { ADMIN_ROLES, BOOTSTRAP_TOKEN_USAGES, MAX_SESSION_TTL_MS } from './repositories/tokens.ts';
export type {
  AdminRole,
  AdminTokenRecord,
  AdminTokenRepository,
  AdminSessionRecord,
  AdminSessionRepository,
  BootstrapTokenRecord,
  BootstrapTokenUsage,
  BootstrapTokenRepository,
} from './repositories/tokens.ts';
export { webhookSecretOwner } from './repositories/webhooks.ts';
export type { WebhookRecord, WebhookRepository } from './repositories/webhooks.ts';
export type { RateLimitDecision, RateLimitRepository } from './repositories/rate-limits.ts';
export { SECRET_NAME, MAX_SECRET_CIPHERTEXT_BYTES } from './repositories/secrets.ts';
export type { SealedSecret, SecretSeal, SecretKey, SecretRepository } from './repositories/secrets.ts';
export type { AuditEntry, AuditEntryInput, AuditHead, AuditChainReport, AuditProblem, AuditProblemKind, AuditLogRepository } from './repositories/audit.ts';
