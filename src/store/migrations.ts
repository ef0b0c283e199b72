// One ordered list of migrations that builds the same schema on SQLite and PostgreSQL (docs/store.md
// describes the tables and why each index exists). Only column types and triggers differ by dialect:
// SQLite tables are STRICT (a value of the wrong type is refused, not coerced). Migrations are only
// ever appended; a name once released never changes, because a database records the names it ran
// and a build that finds a name it does not know refuses to open it (ERR_STORE_SCHEMA_NEWER).
import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Migration } from 'kysely/migration';

export type Dialect = 'sqlite' | 'postgres';

interface ColumnTypes {
  readonly bytes: 'blob' | 'bytea';
  readonly int64: 'integer' | 'bigint';
  readonly int32: 'integer';
  readonly text: 'text';
}

function columnTypes(dialect: Dialect): ColumnTypes {
  return dialect === 'sqlite'
    ? { bytes: 'blob', int64: 'integer', int32: 'integer', text: 'text' }
    : { bytes: 'bytea', int64: 'bigint', int32: 'integer', text: 'text' };
}

/** STRICT on SQLite; nothing to add on PostgreSQL, whose columns are typed already. */
function strict<T extends string, C extends string>(dialect: Dialect, table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C> {
  return dialect === 'sqlite' ? table.modifyEnd(sql`strict`) : table;
}

// Rows that must never change, refused by the database itself so that no code path (and no hand
// edit through the application's connection) can lose an issued secret or rewrite history.
const refusals: readonly { table: string; trigger: string; on: 'DELETE' | 'UPDATE' | 'UPDATE OF owner, name, version, ciphertext, created_at'; why: string }[] =
  [
    { table: 'secrets', trigger: 'secrets_never_deleted', on: 'DELETE', why: 'issued secrets are never deleted' },
    {
      table: 'secrets',
      trigger: 'secrets_only_rewrapped',
      on: 'UPDATE OF owner, name, version, ciphertext, created_at',
      why: 'a secret is only ever rewrapped',
    },
    { table: 'audit_log', trigger: 'audit_log_no_update', on: 'UPDATE', why: 'the audit log is append-only' },
    { table: 'audit_log', trigger: 'audit_log_no_delete', on: 'DELETE', why: 'the audit log is append-only' },
  ];

/** The prefix of the database error a refusal raises (the store maps it to ERR_STORE_APPEND_ONLY). */
export const REFUSAL_MESSAGE_PREFIX = 'vouch refuses:';

async function createRefusals(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`create function vouch_refuse_change() returns trigger language plpgsql as $$
      begin raise exception '${sql.raw(REFUSAL_MESSAGE_PREFIX)} % on % (%)', tg_op, tg_table_name, tg_argv[0]; end $$`.execute(db);
  }
  for (const r of refusals) {
    if (dialect === 'sqlite') {
      await sql`create trigger ${sql.ref(r.trigger)} before ${sql.raw(r.on)} on ${sql.table(r.table)}
        begin select raise(abort, ${sql.lit(`${REFUSAL_MESSAGE_PREFIX} ${r.why}`)}); end`.execute(db);
    } else {
      await sql`create trigger ${sql.ref(r.trigger)} before ${sql.raw(r.on)} on ${sql.table(r.table)}
        for each row execute function vouch_refuse_change(${sql.lit(r.why)})`.execute(db);
    }
  }
  if (dialect === 'postgres') {
    // TRUNCATE skips row triggers.
    for (const table of ['secrets', 'audit_log']) {
      await sql`create trigger ${sql.ref(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
        for each statement execute function vouch_refuse_change('truncate')`.execute(db);
    }
  }
}

async function initialSchema(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const nodeStatuses = sql.raw("'pending-approval', 'pending-activation', 'enrolled', 'revoked'");

  await strict(
    dialect,
    db.schema
      .createTable('nodes')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('name', t.text, (c) => c.notNull().unique())
      .addColumn('status', t.text, (c) => c.notNull().check(sql`status in (${nodeStatuses})`))
      .addColumn('ek_public', t.bytes, (c) => c.notNull())
      .addColumn('ek_name', t.bytes, (c) => c.notNull().unique())
      .addColumn('ek_kind', t.text, (c) => c.notNull().check(sql`ek_kind in ('rsa', 'ecc')`))
      .addColumn('ek_certificate', t.bytes)
      .addColumn('tpm_manufacturer', t.text)
      .addColumn('ak_public', t.bytes, (c) => c.notNull())
      .addColumn('ak_name', t.bytes, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('updated_at', t.int64, (c) => c.notNull())
      .addColumn('last_attestation_at', t.int64)
      .addColumn('last_attestation_status', t.text)
      .addColumn('current_release', t.text),
  ).execute();
  await db.schema.createIndex('nodes_status_name').on('nodes').columns(['status', 'name']).execute();
  await db.schema.createIndex('nodes_status_created').on('nodes').columns(['status', 'created_at', 'id']).execute();

  await strict(
    dialect,
    db.schema
      .createTable('enrollment_challenges')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('node_id', t.text, (c) => c.notNull().references('nodes.id'))
      .addColumn('secret_hash', t.bytes, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('expires_at', t.int64, (c) => c.notNull())
      .addColumn('consumed_at', t.int64),
  ).execute();
  await db.schema.createIndex('enrollment_challenges_node').on('enrollment_challenges').column('node_id').execute();
  await db.schema.createIndex('enrollment_challenges_expiry').on('enrollment_challenges').column('expires_at').execute();

  await strict(
    dialect,
    db.schema
      .createTable('attestation_sessions')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('node_id', t.text, (c) => c.notNull().references('nodes.id'))
      .addColumn('nonce', t.bytes, (c) => c.notNull())
      .addColumn('pcr_selection', t.text, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('expires_at', t.int64, (c) => c.notNull())
      .addColumn('consumed_at', t.int64),
  ).execute();
  await db.schema.createIndex('attestation_sessions_node').on('attestation_sessions').column('node_id').execute();
  await db.schema.createIndex('attestation_sessions_expiry').on('attestation_sessions').column('expires_at').execute();

  await strict(
    dialect,
    db.schema
      .createTable('attestation_results')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('node_id', t.text, (c) => c.notNull().references('nodes.id'))
      .addColumn('session_id', t.text, (c) => c.unique())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('status', t.text, (c) => c.notNull().check(sql`status in ('affirming', 'warning', 'contraindicated')`))
      .addColumn('policy_version', t.int32)
      .addColumn('release', t.text)
      .addColumn('verdict', t.text, (c) => c.notNull())
      .addColumn('ear', t.text, (c) => c.notNull()),
  ).execute();
  await db.schema.createIndex('attestation_results_node_time').on('attestation_results').columns(['node_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('attestation_results_time').on('attestation_results').columns(['created_at', 'id']).execute();

  await strict(
    dialect,
    db.schema
      .createTable('attestation_evidence')
      .addColumn('result_id', t.text, (c) => c.primaryKey().notNull().references('attestation_results.id'))
      .addColumn('quote_attest', t.bytes, (c) => c.notNull())
      .addColumn('quote_signature', t.bytes, (c) => c.notNull())
      .addColumn('pcr_values', t.text, (c) => c.notNull())
      .addColumn('event_log', t.bytes, (c) => c.notNull())
      .addColumn('claims', t.text, (c) => c.notNull()),
  ).execute();

  await strict(
    dialect,
    db.schema
      .createTable('reference_sets')
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('version', t.int32, (c) => c.notNull())
      .addColumn('content', t.text, (c) => c.notNull())
      .addColumn('composefs_digest', t.text)
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('created_by', t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint('reference_sets_pk', ['name', 'version']),
  ).execute();

  await strict(
    dialect,
    db.schema
      .createTable('policies')
      .addColumn('version', t.int32, (c) => c.primaryKey().notNull())
      .addColumn('text', t.text, (c) => c.notNull())
      .addColumn('description', t.text, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('created_by', t.text, (c) => c.notNull())
      .addColumn('active', t.int32, (c) =>
        c
          .notNull()
          .defaultTo(0)
          .check(sql`active in (0, 1)`),
      ),
  ).execute();
  // At most one active policy, enforced by the database even between replicas.
  await db.schema.createIndex('policies_one_active').on('policies').column('active').unique().where(sql.ref('active'), '=', 1).execute();

  await strict(
    dialect,
    db.schema
      .createTable('admin_tokens')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('role', t.text, (c) => c.notNull().check(sql`role in ('viewer', 'operator', 'admin')`))
      .addColumn('token_hash', t.bytes, (c) => c.notNull().unique())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('expires_at', t.int64)
      .addColumn('revoked_at', t.int64)
      .addColumn('last_used_at', t.int64),
  ).execute();

  await strict(
    dialect,
    db.schema
      .createTable('webhooks')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('url', t.text, (c) => c.notNull())
      .addColumn('events', t.text, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('disabled_at', t.int64),
  ).execute();

  await strict(
    dialect,
    db.schema
      .createTable('rate_limits')
      .addColumn('key', t.text, (c) => c.notNull())
      .addColumn('window_start', t.int64, (c) => c.notNull())
      .addColumn('count', t.int32, (c) => c.notNull())
      .addPrimaryKeyConstraint('rate_limits_pk', ['key', 'window_start']),
  ).execute();
  await db.schema.createIndex('rate_limits_window').on('rate_limits').column('window_start').execute();

  await strict(
    dialect,
    db.schema
      .createTable('bootstrap_tokens')
      .addColumn('token_id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('secret_hash', t.bytes, (c) => c.notNull())
      .addColumn('node_id', t.text, (c) => c.notNull().references('nodes.id'))
      .addColumn('description', t.text, (c) => c.notNull())
      .addColumn('usages', t.text, (c) => c.notNull())
      .addColumn('groups', t.text, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('expires_at', t.int64, (c) => c.notNull()),
  ).execute();
  await db.schema.createIndex('bootstrap_tokens_node').on('bootstrap_tokens').columns(['node_id', 'created_at', 'token_id']).execute();
  await db.schema.createIndex('bootstrap_tokens_expiry').on('bootstrap_tokens').column('expires_at').execute();

  await strict(
    dialect,
    db.schema
      .createTable('secrets')
      .addColumn('owner', t.text, (c) => c.notNull())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('version', t.int32, (c) => c.notNull())
      .addColumn('key_id', t.text, (c) => c.notNull())
      .addColumn('wrapped_key', t.bytes, (c) => c.notNull())
      .addColumn('ciphertext', t.bytes, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['owner', 'name', 'version']),
  ).execute();
  // Rotation walks the secrets still wrapped by one master key, in key order.
  await db.schema.createIndex('secrets_key').on('secrets').columns(['key_id', 'owner', 'name', 'version']).execute();

  await strict(
    dialect,
    db.schema
      .createTable('master_keys')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('canary', t.bytes, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull()),
  ).execute();

  await strict(
    dialect,
    db.schema
      .createTable('audit_log')
      .addColumn('seq', t.int64, (c) => c.primaryKey().notNull())
      .addColumn('at', t.int64, (c) => c.notNull())
      .addColumn('actor', t.text, (c) => c.notNull())
      .addColumn('action', t.text, (c) => c.notNull())
      .addColumn('subject', t.text)
      .addColumn('details', t.text, (c) => c.notNull())
      .addColumn('prev_hash', t.bytes, (c) => c.notNull())
      .addColumn('hash', t.bytes, (c) => c.notNull()),
  ).execute();
  await db.schema.createIndex('audit_log_subject').on('audit_log').columns(['subject', 'seq']).execute();
  // The head row serializes appends (locked FOR UPDATE on PostgreSQL) and records the last entry,
  // so that deleting the newest rows is detected too.
  await strict(
    dialect,
    db.schema
      .createTable('audit_head')
      .addColumn('id', t.int32, (c) =>
        c
          .primaryKey()
          .notNull()
          .check(sql`id = 1`),
      )
      .addColumn('seq', t.int64, (c) => c.notNull())
      .addColumn('hash', t.bytes, (c) => c.notNull()),
  ).execute();
  await sql`insert into audit_head (id, seq, hash) values (1, 0, ${new Uint8Array(32)})`.execute(db);

  await createRefusals(db, dialect);
}

/**
 * What the server needs beyond the first schema: when a node's AK was bound (a revoked node that
 * never was is a denied enrollment), when it went stale (its attestations stopped), the AK an
 * enrollment challenge binds (a re-enrollment must not displace the bound AK before activation),
 * and which version of each release's reference set is accepted now (several releases at once: A/B).
 */
async function serverSchema(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema.alterTable('nodes').addColumn('bound_at', t.int64).execute();
  await db.schema.alterTable('nodes').addColumn('stale_since', t.int64).execute();
  // The stale sweep and the fleet listing by last attestation; the listing by enrollment time.
  // Listed most recent first with never-attested nodes last: SQLite sorts NULL below every value, so
  // its ascending index serves that read backwards; PostgreSQL needs the order spelled out.
  const attestedOrder = dialect === 'sqlite' ? [sql`last_attestation_at`, sql`id`] : [sql`last_attestation_at desc nulls last`, sql`id desc`];
  await db.schema
    .createIndex('nodes_status_attested')
    .on('nodes')
    .columns([sql`status`, ...attestedOrder])
    .execute();
  await db.schema.createIndex('nodes_attested').on('nodes').columns(attestedOrder).execute();
  await db.schema.createIndex('nodes_created').on('nodes').columns(['created_at', 'id']).execute();
  await db.schema.alterTable('enrollment_challenges').addColumn('ak_public', t.bytes).execute();
  await db.schema.alterTable('enrollment_challenges').addColumn('ak_name', t.bytes).execute();
  await db.schema
    .alterTable('reference_sets')
    .addColumn('active', t.int32, (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`active in (0, 1)`),
    )
    .execute();
  // One accepted version per release, any number of releases at once.
  await db.schema.createIndex('reference_sets_one_active').on('reference_sets').column('name').unique().where(sql.ref('active'), '=', 1).execute();
  await db.schema.createIndex('reference_sets_active').on('reference_sets').columns(['active', 'name']).execute();
}

/**
 * Dashboard sign-in sessions: kept in the database so that any replica honours a session another
 * made. Only the SHA-256 of the cookie's secret is stored (as with admin tokens); the session acts
 * with its admin token's role, read at each request, so revoking the token ends its sessions.
 */
async function dashboardSessionsSchema(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await strict(
    dialect,
    db.schema
      .createTable('admin_sessions')
      .addColumn('id', t.text, (c) => c.primaryKey().notNull())
      .addColumn('token_id', t.text, (c) => c.notNull().references('admin_tokens.id'))
      .addColumn('secret_hash', t.bytes, (c) => c.notNull().unique())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('expires_at', t.int64, (c) => c.notNull())
      .addColumn('last_used_at', t.int64, (c) => c.notNull()),
  ).execute();
  // The sweep of ended sessions.
  await db.schema.createIndex('admin_sessions_expiry').on('admin_sessions').columns(['expires_at']).execute();
}

/** The migrations, by name in the order they apply. */
export function storeMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-initial': { up: (db) => initialSchema(db, dialect) },
    '0002-server': { up: (db) => serverSchema(db, dialect) },
    '0003-dashboard-sessions': { up: (db) => dashboardSessionsSchema(db, dialect) },
  };
}
