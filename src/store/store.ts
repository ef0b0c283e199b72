import type { Kysely } from 'kysely';
import type { Dialect } from './migrations.ts';
import { AuditLogRepository } from './repositories/audit.ts';
import { NodeRepository } from './repositories/nodes.ts';
import { AttestationResultRepository } from './repositories/results.ts';
import { RateLimitRepository } from './repositories/rate-limits.ts';
import { SecretRepository } from './repositories/secrets.ts';
import { AttestationSessionRepository, EnrollmentChallengeRepository } from './repositories/single-use.ts';
import { AdminSessionRepository, AdminTokenRepository, BootstrapTokenRepository } from './repositories/tokens.ts';
import { PolicyRepository, ReferenceSetRepository } from './repositories/versioned.ts';
import { WebhookRepository } from './repositories/webhooks.ts';
import type { StoreDatabase } from './schema.ts';
import { atomic, type StoreContext } from './values.ts';

/** Every repository, over the store or over one open transaction. */
export class Repositories {
  readonly dialect: Dialect;
  readonly nodes: NodeRepository;
  readonly enrollmentChallenges: EnrollmentChallengeRepository;
  readonly attestationSessions: AttestationSessionRepository;
  readonly results: AttestationResultRepository;
  readonly referenceSets: ReferenceSetRepository;
  readonly policies: PolicyRepository;
  readonly adminTokens: AdminTokenRepository;
  readonly adminSessions: AdminSessionRepository;
  readonly bootstrapTokens: BootstrapTokenRepository;
  readonly webhooks: WebhookRepository;
  readonly rateLimits: RateLimitRepository;
  readonly secrets: SecretRepository;
  readonly audit: AuditLogRepository;
  protected readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
    this.dialect = ctx.dialect;
    this.nodes = new NodeRepository(ctx);
    this.enrollmentChallenges = new EnrollmentChallengeRepository(ctx);
    this.attestationSessions = new AttestationSessionRepository(ctx);
    this.results = new AttestationResultRepository(ctx);
    this.referenceSets = new ReferenceSetRepository(ctx);
    this.policies = new PolicyRepository(ctx);
    this.adminTokens = new AdminTokenRepository(ctx);
    this.adminSessions = new AdminSessionRepository(ctx);
    this.bootstrapTokens = new BootstrapTokenRepository(ctx);
    this.webhooks = new WebhookRepository(ctx);
    this.rateLimits = new RateLimitRepository(ctx);
    this.secrets = new SecretRepository(ctx);
    this.audit = new AuditLogRepository(ctx);
  }

  /** Milliseconds since the epoch by the store's clock. */
  now(): number {
    return this.ctx.now();
  }

  /**
   * Runs fn in one transaction: everything it does through `tx` commits together or not at all
   * (a release and its audit entry, a node and its first secrets). Inside a transaction this
   * joins the open one.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    return atomic(this.ctx, (ctx) => fn(ctx === this.ctx ? this : new Repositories(ctx)));
  }
}

/** An open store: the repositories plus its lifetime. Made by openStore(). */
export class Store extends Repositories {
  readonly #close: () => Promise<void>;
  #closed = false;

  constructor(ctx: StoreContext, close: () => Promise<void>) {
    super(ctx);
    this.#close = close;
  }

  /**
   * The query builder, for maintenance tools and tests that inspect or (deliberately) damage the
   * database; the server goes through the repositories.
   */
  get kysely(): Kysely<StoreDatabase> {
    return this.ctx.db;
  }

  /** Closes the database (and, for the embedded store, releases the writer lock). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
