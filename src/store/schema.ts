// The tables as Kysely sees them (docs/store.md explains each table and index). Column names are
// the SQL names; repositories map rows to the camelCase records they return. Times are milliseconds
// since the Unix epoch in a 64-bit integer on both dialects; JSON is stored as text (exact bytes,
// no dialect-specific JSON types); ids are UUID text.

export interface NodesTable {
  id: string;
  name: string;
  status: string;
  ek_public: Uint8Array;
  ek_name: Uint8Array;
  ek_kind: string;
  ek_certificate: Uint8Array | null;
  tpm_manufacturer: string | null;
  ak_public: Uint8Array;
  ak_name: Uint8Array;
  created_at: number;
  updated_at: number;
  last_attestation_at: number | null;
  last_attestation_status: string | null;
  current_release: string | null;
  bound_at: number | null;
  stale_since: number | null;
}

export interface EnrollmentChallengesTable {
  id: string;
  node_id: string;
  secret_hash: Uint8Array;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  ak_public: Uint8Array | null;
  ak_name: Uint8Array | null;
}

export interface AttestationSessionsTable {
  id: string;
  node_id: string;
  nonce: Uint8Array;
  pcr_selection: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface AttestationResultsTable {
  id: string;
  node_id: string;
  session_id: string | null;
  created_at: number;
  status: string;
  policy_version: number | null;
  release: string | null;
  verdict: string;
  ear: string;
}

export interface AttestationEvidenceTable {
  result_id: string;
  quote_attest: Uint8Array;
  quote_signature: Uint8Array;
  pcr_values: string;
  event_log: Uint8Array;
  claims: string;
}

export interface ReferenceSetsTable {
  name: string;
  version: number;
  content: string;
  composefs_digest: string | null;
  created_at: number;
  created_by: string;
  active: number;
}

export interface PoliciesTable {
  version: number;
  text: string;
  description: string;
  created_at: number;
  created_by: string;
  active: number;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  role: string;
  token_hash: Uint8Array;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface AdminSessionsTable {
  id: string;
  token_id: string;
  secret_hash: Uint8Array;
  created_at: number;
  expires_at: number;
  last_used_at: number;
}

export interface WebhooksTable {
  id: string;
  url: string;
  events: string;
  created_at: number;
  disabled_at: number | null;
}

export interface RateLimitsTable {
  key: string;
  window_start: number;
  count: number;
}

export interface BootstrapTokensTable {
  token_id: string;
  secret_hash: Uint8Array;
  node_id: string;
  description: string;
  usages: string;
  groups: string;
  created_at: number;
  expires_at: number;
}

export interface SecretsTable {
  owner: string;
  name: string;
  version: number;
  key_id: string;
  wrapped_key: Uint8Array;
  ciphertext: Uint8Array;
  created_at: number;
}

export interface MasterKeysTable {
  id: string;
  canary: Uint8Array;
  created_at: number;
}

export interface AuditLogTable {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string | null;
  details: string;
  prev_hash: Uint8Array;
  hash: Uint8Array;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: Uint8Array;
}

export interface StoreDatabase {
  nodes: NodesTable;
  enrollment_challenges: EnrollmentChallengesTable;
  attestation_sessions: AttestationSessionsTable;
  attestation_results: AttestationResultsTable;
  attestation_evidence: AttestationEvidenceTable;
  reference_sets: ReferenceSetsTable;
  policies: PoliciesTable;
  admin_tokens: AdminTokensTable;
  admin_sessions: AdminSessionsTable;
  webhooks: WebhooksTable;
  rate_limits: RateLimitsTable;
  bootstrap_tokens: BootstrapTokensTable;
  secrets: SecretsTable;
  master_keys: MasterKeysTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
}
