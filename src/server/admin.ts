// The admin API (operators, `vouch admin`, the dashboard) under /v1/admin, in one encapsulated
// plugin whose onRequest hook authenticates the bearer token (stored as a digest) and whose
// preHandler checks the route's role (viewer < operator < admin), so no route is reachable without
// both and no URL is checked by hand. Every change is audited under `admin:<token name>`.
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { toHex } from '../bytes/index.ts';
import { SECRET_NAMES } from '../broker/index.ts';
import {
  AuditEntryView,
  AuditPage,
  AuditQuery,
  AuditVerifyQuery,
  AuditVerifyReport,
  BackupRequest,
  DryRunReport,
  DryRunRequest,
  IdParams,
  NameParams,
  NameVersionParams,
  NodeDetail,
  NodeListQuery,
  NodePage,
  NodeView,
  PageRequestQuery,
  PolicyCreate,
  PolicyPage,
  PolicyView,
  ProtocolError,
  ReasonBody,
  RecordedAttestation,
  ReferenceSetDetail,
  ReferenceSetImport,
  ReferenceSetPage,
  ReferenceSetView,
  ResultDetail,
  ResultPage,
  ResultQuery,
  RestoreReport,
  RestoreRequest,
  ResultView,
  RotationReportView,
  SecretImport,
  TokenCreate,
  TokenCreated,
  TokenPage,
  TokenView,
  VersionParams,
  WebhookCreate,
  WebhookCreated,
  WebhookPage,
  WebhookView,
  type NodeEvent,
  type NodeEventType,
} from '../protocol/index.ts';
import {
  webhookSecretOwner,
  type AdminRole,
  type AuditChainReport,
  type AdminTokenRecord,
  type AttestationResultRecord,
  type AuditEntry,
  type NodeRecord,
  type NodeStatus,
  type PolicyRecord,
  type ReferenceSetRecord,
  type WebhookRecord,
} from '../store/index.ts';
import type { Verdict } from '../verifier/index.ts';
import { problemResponses } from './problems.ts';
import { verdictReasons } from './attestation.ts';
import { compileStoredPolicy } from './catalog.ts';
import { unb64, type ServerContext } from './context.ts';
import { nodeEventOf, recordNodeEvent, WEBHOOK_KEY_NAME } from './events.ts';
import { appraiseRecorded, recordedAttestation } from './recorded.ts';
import { composefsDigestValue, referenceSetFromPrediction } from './references.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route needs. */
    role?: AdminRole;
  }
  interface FastifyRequest {
    admin?: AdminTokenRecord;
  }
}

const RANK: Readonly<Record<AdminRole, number>> = { viewer: 0, operator: 1, admin: 2 };
const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
/** How often the event stream reads the audit log for changes other replicas made. */
const EVENT_POLL_MS = 1000;
const EVENT_BATCH = 500;
const TIMELINE_ENTRIES = 50;
const DETAIL_RESULTS = 20;
const DEFAULT_DRY_RUN = 100;

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function nodeView(n: NodeRecord): NodeView {
  return {
    id: n.id,
    name: n.name,
    status: n.status,
    stale: n.staleSince !== null,
    denied: n.status === 'revoked' && n.boundAt === null,
    ekName: toHex(n.ekName),
    ekKind: n.ekKind,
    ekCertified: n.ekCertificate !== null,
    akName: toHex(n.akName),
    createdAt: iso(n.createdAt),
    updatedAt: iso(n.updatedAt),
    boundAt: isoOrNull(n.boundAt),
    staleSince: isoOrNull(n.staleSince),
    lastAttestationAt: isoOrNull(n.lastAttestationAt),
    lastAttestationStatus: n.lastAttestationStatus,
    currentRelease: n.currentRelease,
  };
}

function auditView(e: AuditEntry): Static<typeof AuditEntryView> {
  return { seq: e.seq, at: iso(e.at), actor: e.actor, action: e.action, subject: e.subject, details: e.details, hash: toHex(e.hash) };
}

/** The audit chain check as the API (and `vouch audit verify`) report it. */
export function auditReportView(report: AuditChainReport): AuditVerifyReport {
  return {
    ok: report.ok,
    entries: report.entries,
    head: { seq: report.last.seq, hash: toHex(report.last.hash) },
    problems: report.problems.map((p) => ({ kind: p.kind, seq: p.seq, message: p.message })),
    problemsTruncated: report.problemsTruncated,
  };
}

function resultView(r: AttestationResultRecord): ResultView {
  return {
    id: r.id,
    nodeId: r.nodeId,
    createdAt: iso(r.createdAt),
    status: r.status,
    policyVersion: r.policyVersion,
    release: r.release,
    reasons: verdictReasons(r.verdict as Verdict),
  };
}

function policyView(p: PolicyRecord): Static<typeof PolicyView> {
  return { version: p.version, description: p.description, text: p.text, active: p.active, createdAt: iso(p.createdAt), createdBy: p.createdBy };
}

function referenceSetView(r: ReferenceSetRecord): Static<typeof ReferenceSetView> {
  return { name: r.name, version: r.version, composefsDigest: r.composefsDigest, active: r.active, createdAt: iso(r.createdAt), createdBy: r.createdBy };
}

function tokenView(t: AdminTokenRecord): Static<typeof TokenView> {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: iso(t.createdAt),
    expiresAt: isoOrNull(t.expiresAt),
    revokedAt: isoOrNull(t.revokedAt),
    lastUsedAt: isoOrNull(t.lastUsedAt),
  };
}

function webhookView(w: WebhookRecord): Static<typeof WebhookView> {
  return { id: w.id, url: w.url, events: [...w.events], createdAt: iso(w.createdAt), disabledAt: isoOrNull(w.disabledAt) };
}

function page<T, V>(p: { items: readonly T[]; nextCursor?: string }, view: (item: T) => V): { items: V[]; nextCursor?: string } {
  return { items: p.items.map(view), ...(p.nextCursor !== undefined ? { nextCursor: p.nextCursor } : {}) };
}

function pageRequest(q: { limit?: number; cursor?: string }): { limit?: number; cursor?: string } {
  return { ...(q.limit !== undefined ? { limit: q.limit } : {}), ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
}

function actorOf(request: FastifyRequest): string {
  return `admin:${request.admin?.name ?? '?'}`;
}

/**
 * Who a request without a bearer token acts for by other means (the dashboard's session cookie,
 * src/web); undefined when it carries none of them.
 */
export type SessionAuthentication = (request: FastifyRequest) => Promise<AdminTokenRecord | undefined>;

/** Authenticates the bearer token (or a session); ERR_AUTH_TOKEN_MISSING / ERR_AUTH_TOKEN_INVALID otherwise. */
async function authenticate(ctx: ServerContext, request: FastifyRequest, session?: SessionAuthentication): Promise<void> {
  const header = request.headers.authorization;
  if (header === undefined) {
    const viaSession = await session?.(request);
    if (viaSession) {
      request.admin = viaSession;
      return;
    }
    throw new ProtocolError('ERR_AUTH_TOKEN_MISSING', 'the admin API needs Authorization: Bearer <token>', {});
  }
  const m = BEARER.exec(header);
  const token = m ? await ctx.store.adminTokens.authenticate(m[1]!) : undefined;
  if (!token) throw new ProtocolError('ERR_AUTH_TOKEN_INVALID', 'the bearer token is unknown, revoked or expired', {});
  request.admin = token;
}

function authorize(request: FastifyRequest): void {
  const needed = request.routeOptions.config.role ?? 'admin';
  const held = request.admin?.role;
  if (held === undefined || RANK[held] < RANK[needed]) {
    throw new ProtocolError('ERR_AUTH_FORBIDDEN', `this needs the ${needed} role; the token ${request.admin?.name ?? ''} has ${held ?? 'none'}`, {});
  }
}

/** A node status change an operator makes: compare-and-set, audited with its event, published after commit. */
async function changeStatus(
  ctx: ServerContext,
  request: FastifyRequest,
  id: string,
  change: { to: NodeStatus; from: readonly NodeStatus[]; event: NodeEventType; reason?: string | undefined; boundOnly?: boolean },
): Promise<NodeView> {
  const { node, events } = await ctx.store.transaction(async (tx) => {
    const before = await tx.nodes.get(id);
    if (!before) throw new ProtocolError('ERR_NODE_UNKNOWN', `no node ${id}`, { nodeId: id });
    if (change.boundOnly && before.boundAt === null) {
      throw new ProtocolError('ERR_RESOURCE_CONFLICT', `node ${before.name} was denied, never enrolled: it must enroll again, not be unrevoked`, {
        nodeId: id,
      });
    }
    let after: NodeRecord;
    try {
      after = await tx.nodes.setStatus(id, change.to, change.from);
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_STORE_CONFLICT')
        throw new ProtocolError('ERR_RESOURCE_CONFLICT', (e as Error).message, { nodeId: id }, { cause: e });
      throw e;
    }
    const event = await recordNodeEvent(tx, change.event, after, actorOf(request), change.reason !== undefined ? { reason: change.reason } : {});
    return { node: after, events: [event] };
  });
  ctx.webhooks.publish(events);
  return nodeView(node);
}

/** Server-sent events of node status changes, read from the audit log (so every replica's changes show). */
async function eventStream(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, streams: Set<() => void>): Promise<void> {
  const resumeFrom = Number(request.headers['last-event-id']);
  let last = Number.isSafeInteger(resumeFrom) && resumeFrom >= 0 ? resumeFrom : (await ctx.store.audit.head()).seq;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': vouch node events\n\n');
  let busy = false;
  const poll = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (;;) {
        const entries = await ctx.store.audit.listAfter(last, { limit: EVENT_BATCH, actionPrefix: 'node.' });
        for (const entry of entries) {
          last = entry.seq;
          const event: NodeEvent | undefined = nodeEventOf(entry);
          if (event) raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        }
        if (entries.length < EVENT_BATCH) break;
      }
    } catch (e) {
      request.log.warn({ err: e }, 'event stream read failed');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), EVENT_POLL_MS);
  const end = (): void => {
    clearInterval(timer);
    streams.delete(end);
    raw.end();
  };
  streams.add(end);
  raw.on('close', end);
  await poll();
}

/** The admin API plugin (register under /v1/admin). */
export function adminRoutes(ctx: ServerContext, session?: SessionAuthentication) {
  return (app: FastifyInstance, _options: unknown, done: (err?: Error) => void): void => {
    const api = app.withTypeProvider<TypeBoxTypeProvider>();
    const streams = new Set<() => void>();
    api.decorateRequest('admin', undefined);
    api.addHook('onRequest', (request) => authenticate(ctx, request, session));
    api.addHook('preHandler', (request, _reply, done) => {
      try {
        authorize(request);
        done();
      } catch (e) {
        done(e as Error);
      }
    });
    // Event streams never finish on their own: end them so close() can drain.
    api.addHook('preClose', (done) => {
      for (const end of [...streams]) end();
      done();
    });
    const schema = <T extends object>(summary: string, s: T) => ({ tags: ['admin'], summary, security: [{ bearer: [] }], ...s });

    // Nodes --------------------------------------------------------------------------------------
    api.get(
      '/nodes',
      {
        config: { role: 'viewer' },
        schema: schema('List nodes (filter, prefix search, sort, keyset paging)', {
          querystring: NodeListQuery,
          response: { 200: NodePage, ...problemResponses },
        }),
      },
      async (request) => {
        const q = request.query;
        const p = await ctx.store.nodes.list({
          ...pageRequest(q),
          ...(q.status ? { status: q.status } : {}),
          ...(q.sort ? { sort: q.sort } : {}),
          ...(q.search ? { namePrefix: q.search } : {}),
        });
        return page(p, nodeView);
      },
    );
    api.get(
      '/nodes/:id',
      {
        config: { role: 'viewer' },
        schema: schema('A node, its timeline and latest results', { params: IdParams, response: { 200: NodeDetail, ...problemResponses } }),
      },
      async (request) => {
        const node = await ctx.store.nodes.get(request.params.id);
        if (!node) throw new ProtocolError('ERR_NODE_UNKNOWN', `no node ${request.params.id}`, {});
        const timeline = await ctx.store.audit.list({ subject: node.id, limit: TIMELINE_ENTRIES });
        const results = await ctx.store.results.listForNode(node.id, { limit: DETAIL_RESULTS });
        return { node: nodeView(node), timeline: timeline.items.map(auditView), results: results.items.map(resultView) };
      },
    );
    api.get(
      '/approvals',
      {
        config: { role: 'viewer' },
        schema: schema('Nodes waiting for approval, oldest first', { querystring: PageRequestQuery, response: { 200: NodePage, ...problemResponses } }),
      },
      async (request) => page(await ctx.store.nodes.approvalQueue(pageRequest(request.query)), nodeView),
    );
    const statusRoute = (path: string, summary: string, change: Parameters<typeof changeStatus>[3]) =>
      api.post(
        `/nodes/:id/${path}`,
        {
          config: { role: 'operator' },
          schema: schema(summary, { params: IdParams, body: ReasonBody, response: { 200: NodeView, ...problemResponses } }),
        },
        async (request) => changeStatus(ctx, request, request.params.id, { ...change, reason: request.body.reason }),
      );
    statusRoute('approve', 'Approve a queued EK: the node may now activate its AK', {
      to: 'pending-activation',
      from: ['pending-approval'],
      event: 'node.approved',
    });
    statusRoute('deny', 'Deny a queued enrollment', { to: 'revoked', from: ['pending-approval'], event: 'node.denied' });
    statusRoute('revoke', 'Revoke a node: it is still appraised but never receives secrets', {
      to: 'revoked',
      from: ['enrolled', 'pending-activation'],
      event: 'node.revoked',
    });
    statusRoute('unrevoke', 'Unrevoke a node', { to: 'enrolled', from: ['revoked'], event: 'node.unrevoked', boundOnly: true });
    api.post(
      '/nodes/:id/disk-key',
      {
        config: { role: 'admin' },
        schema: schema('Import a node’s existing LUKS key (it becomes the newest version; earlier ones are kept)', {
          params: IdParams,
          body: SecretImport,
          response: { 200: Type.Object({ version: Type.Integer() }), ...problemResponses },
        }),
      },
      async (request) => {
        const node = await ctx.store.nodes.get(request.params.id);
        if (!node) throw new ProtocolError('ERR_NODE_UNKNOWN', `no node ${request.params.id}`, {});
        const value = unb64(request.body.value);
        try {
          return await ctx.store.transaction(async (tx) => {
            const issued = await ctx.broker.within(tx).issue(node.id, SECRET_NAMES.luksKey, value);
            await tx.audit.append({
              actor: actorOf(request),
              action: 'secret.imported',
              subject: node.id,
              details: { name: SECRET_NAMES.luksKey, version: issued.version },
            });
            return { version: issued.version };
          });
        } finally {
          value.fill(0);
        }
      },
    );

    // Results ------------------------------------------------------------------------------------
    api.get(
      '/results',
      {
        config: { role: 'viewer' },
        schema: schema('Attestation results, newest first', { querystring: ResultQuery, response: { 200: ResultPage, ...problemResponses } }),
      },
      async (request) => {
        const q = request.query;
        const p = q.nodeId ? await ctx.store.results.listForNode(q.nodeId, pageRequest(q)) : await ctx.store.results.list(pageRequest(q));
        return page(p, resultView);
      },
    );
    api.get(
      '/results/:id',
      {
        config: { role: 'viewer' },
        schema: schema('A result with its whole verdict and EAR', { params: IdParams, response: { 200: ResultDetail, ...problemResponses } }),
      },
      async (request) => {
        const r = await ctx.store.results.get(request.params.id);
        if (!r) throw new ProtocolError('ERR_RESOURCE_NOT_FOUND', `no result ${request.params.id}`, {});
        return { result: resultView(r), verdict: r.verdict, ear: r.ear };
      },
    );
    api.get(
      '/results/:id/recorded',
      {
        config: { role: 'viewer' },
        schema: schema('The recorded attestation (vouch.recorded-attestation.v1) for `vouch policy test --evidence`', {
          params: IdParams,
          response: { 200: RecordedAttestation, ...problemResponses },
        }),
      },
      async (request) => {
        const r = await ctx.store.results.get(request.params.id);
        const recorded = r && (await recordedAttestation(ctx.store, r));
        if (!recorded) throw new ProtocolError('ERR_RESOURCE_NOT_FOUND', `no recorded evidence for result ${request.params.id}`, {});
        return recorded;
      },
    );

    // Policies -----------------------------------------------------------------------------------
    api.get(
      '/policies',
      { config: { role: 'viewer' }, schema: schema('Policy versions', { querystring: PageRequestQuery, response: { 200: PolicyPage, ...problemResponses } }) },
      async (request) => page(await ctx.store.policies.list(pageRequest(request.query)), policyView),
    );
    api.post(
      '/policies',
      {
        config: { role: 'admin' },
        schema: schema('Save a policy version (compiled first), optionally active', { body: PolicyCreate, response: { 200: PolicyView, ...problemResponses } }),
      },
      async (request) => {
        compileStoredPolicy(request.body.text);
        return await ctx.store.transaction(async (tx) => {
          const p = await tx.policies.create({
            text: request.body.text,
            createdBy: actorOf(request),
            ...(request.body.description !== undefined ? { description: request.body.description } : {}),
            ...(request.body.activate ? { activate: true } : {}),
          });
          await tx.audit.append({
            actor: actorOf(request),
            action: 'policy.created',
            subject: `policy:${p.version}`,
            details: { version: p.version, active: p.active },
          });
          return policyView(p);
        });
      },
    );
    api.post(
      '/policies/:version/activate',
      {
        config: { role: 'admin' },
        schema: schema('Make a policy version the active one', { params: VersionParams, response: { 200: PolicyView, ...problemResponses } }),
      },
      async (request) =>
        ctx.store.transaction(async (tx) => {
          const p = await tx.policies.activate(request.params.version);
          await tx.audit.append({ actor: actorOf(request), action: 'policy.activated', subject: `policy:${p.version}`, details: { version: p.version } });
          return policyView(p);
        }),
    );
    api.post(
      '/policies/dry-run',
      {
        config: { role: 'operator' },
        schema: schema('Appraise recorded attestations again under a policy (nothing is stored)', {
          body: DryRunRequest,
          response: { 200: DryRunReport, ...problemResponses },
        }),
      },
      async (request) => {
        const body = request.body;
        let text = body.text;
        if (text === undefined && body.version !== undefined) text = (await ctx.store.policies.get(body.version))?.text;
        if (text === undefined) throw new ProtocolError('ERR_REQUEST_INVALID', 'give the policy text or the version of a stored one', { field: 'body' });
        const { check } = compileStoredPolicy(text);
        const { references } = await ctx.catalog.current();
        const limit = body.limit ?? DEFAULT_DRY_RUN;
        const results = body.nodeId ? await ctx.store.results.listForNode(body.nodeId, { limit }) : await ctx.store.results.list({ limit });
        const outcomes = [];
        for (const r of results.items) {
          const recorded = await recordedAttestation(ctx.store, r);
          if (!recorded) continue;
          const verdict = appraiseRecorded(recorded, { references, policy: check });
          outcomes.push({
            resultId: r.id,
            nodeId: r.nodeId,
            recordedAt: iso(r.createdAt),
            before: r.status,
            after: verdict.status,
            reasons: verdictReasons(verdict),
          });
        }
        return { appraised: outcomes.length, changed: outcomes.filter((o) => o.before !== o.after).length, outcomes };
      },
    );

    // Reference sets ------------------------------------------------------------------------------
    api.get(
      '/reference-sets',
      {
        config: { role: 'viewer' },
        schema: schema('Releases and their newest reference set', { querystring: PageRequestQuery, response: { 200: ReferenceSetPage, ...problemResponses } }),
      },
      async (request) => page(await ctx.store.referenceSets.listLatest(pageRequest(request.query)), referenceSetView),
    );
    api.post(
      '/reference-sets',
      {
        config: { role: 'admin' },
        schema: schema('Import a release’s reference set from `vouch predict --json` output and its composefs digest', {
          body: ReferenceSetImport,
          response: { 200: ReferenceSetView, ...problemResponses },
        }),
      },
      async (request) => {
        const body = request.body;
        const content = referenceSetFromPrediction(body.name, body.prediction);
        return await ctx.store.transaction(async (tx) => {
          let r = await tx.referenceSets.put({
            name: body.name,
            content,
            composefsDigest: body.composefsDigest === undefined ? null : composefsDigestValue(body.composefsDigest),
            createdBy: actorOf(request),
          });
          if (body.activate) r = await tx.referenceSets.activate(r.name, r.version);
          await tx.audit.append({
            actor: actorOf(request),
            action: 'reference-set.imported',
            subject: `release:${r.name}`,
            details: { version: r.version, active: r.active },
          });
          return referenceSetView(r);
        });
      },
    );
    api.get(
      '/reference-sets/:name/:version',
      {
        config: { role: 'viewer' },
        schema: schema('A reference set version with its rules', { params: NameVersionParams, response: { 200: ReferenceSetDetail, ...problemResponses } }),
      },
      async (request) => {
        const r = await ctx.store.referenceSets.get(request.params.name, request.params.version);
        if (!r) throw new ProtocolError('ERR_RESOURCE_NOT_FOUND', `no reference set ${request.params.name} v${request.params.version}`, {});
        return { set: referenceSetView(r), content: r.content };
      },
    );
    api.post(
      '/reference-sets/:name/:version/activate',
      {
        config: { role: 'admin' },
        schema: schema('Accept this version of the release (other releases stay accepted: A/B)', {
          params: NameVersionParams,
          response: { 200: ReferenceSetView, ...problemResponses },
        }),
      },
      async (request) =>
        ctx.store.transaction(async (tx) => {
          const r = await tx.referenceSets.activate(request.params.name, request.params.version);
          await tx.audit.append({ actor: actorOf(request), action: 'reference-set.activated', subject: `release:${r.name}`, details: { version: r.version } });
          return referenceSetView(r);
        }),
    );
    api.post(
      '/reference-sets/:name/deactivate',
      {
        config: { role: 'admin' },
        schema: schema('Stop accepting a release', {
          params: NameParams,
          response: { 200: Type.Object({ deactivated: Type.Boolean() }), ...problemResponses },
        }),
      },
      async (request) =>
        ctx.store.transaction(async (tx) => {
          const deactivated = await tx.referenceSets.deactivate(request.params.name);
          await tx.audit.append({
            actor: actorOf(request),
            action: 'reference-set.deactivated',
            subject: `release:${request.params.name}`,
            details: { deactivated },
          });
          return { deactivated };
        }),
    );

    // Audit log ----------------------------------------------------------------------------------
    api.get(
      '/audit',
      {
        config: { role: 'viewer' },
        schema: schema('The audit log, newest first', { querystring: AuditQuery, response: { 200: AuditPage, ...problemResponses } }),
      },
      async (request) =>
        page(await ctx.store.audit.list({ ...pageRequest(request.query), ...(request.query.subject ? { subject: request.query.subject } : {}) }), auditView),
    );
    api.get(
      '/audit/verify',
      {
        config: { role: 'viewer' },
        schema: schema('Check the audit chain (edited, deleted, reordered rows), optionally against an anchor kept outside', {
          querystring: AuditVerifyQuery,
          response: { 200: AuditVerifyReport, ...problemResponses },
        }),
      },
      async (request) => {
        const q = request.query;
        if ((q.anchorSeq === undefined) !== (q.anchorHash === undefined))
          throw new ProtocolError('ERR_REQUEST_INVALID', 'an anchor is anchorSeq and anchorHash together', {});
        const anchors =
          q.anchorSeq !== undefined && q.anchorHash !== undefined ? [{ seq: q.anchorSeq, hash: new Uint8Array(Buffer.from(q.anchorHash, 'hex')) }] : [];
        return auditReportView(await ctx.store.audit.verify({ anchors }));
      },
    );
    api.get(
      '/events',
      { config: { role: 'viewer' }, schema: schema('Node status changes as server-sent events (resume with Last-Event-ID)', {}) },
      (request, reply) => eventStream(ctx, request, reply, streams),
    );

    // Tokens, webhooks, secrets --------------------------------------------------------------------
    api.get(
      '/tokens',
      {
        config: { role: 'admin' },
        schema: schema('Admin tokens (never their values)', { querystring: PageRequestQuery, response: { 200: TokenPage, ...problemResponses } }),
      },
      async (request) => page(await ctx.store.adminTokens.list(pageRequest(request.query)), tokenView),
    );
    api.post(
      '/tokens',
      {
        config: { role: 'admin' },
        schema: schema('Create an admin token (shown once)', { body: TokenCreate, response: { 200: TokenCreated, ...problemResponses } }),
      },
      async (request) => {
        const b = request.body;
        return await ctx.store.transaction(async (tx) => {
          const created = await tx.adminTokens.create({
            name: b.name,
            role: b.role,
            ...(b.expiresInSeconds !== undefined ? { expiresAt: ctx.now().getTime() + b.expiresInSeconds * 1000 } : {}),
          });
          await tx.audit.append({ actor: actorOf(request), action: 'token.created', subject: created.record.id, details: { name: b.name, role: b.role } });
          return { token: created.token, record: tokenView(created.record) };
        });
      },
    );
    api.post(
      '/tokens/:id/revoke',
      { config: { role: 'admin' }, schema: schema('Revoke an admin token', { params: IdParams, response: { 200: TokenView, ...problemResponses } }) },
      async (request) =>
        ctx.store.transaction(async (tx) => {
          const t = await tx.adminTokens.revoke(request.params.id);
          await tx.audit.append({ actor: actorOf(request), action: 'token.revoked', subject: t.id, details: { name: t.name } });
          return tokenView(t);
        }),
    );
    api.get(
      '/webhooks',
      { config: { role: 'admin' }, schema: schema('Webhooks', { querystring: PageRequestQuery, response: { 200: WebhookPage, ...problemResponses } }) },
      async (request) => page(await ctx.store.webhooks.list(pageRequest(request.query)), webhookView),
    );
    api.post(
      '/webhooks',
      {
        config: { role: 'admin' },
        schema: schema('Subscribe a URL to node status changes (bodies signed with HMAC-SHA256; the key is shown once)', {
          body: WebhookCreate,
          response: { 200: WebhookCreated, ...problemResponses },
        }),
      },
      async (request) =>
        ctx.store.transaction(async (tx) => {
          const hook = await tx.webhooks.create({ url: request.body.url, events: request.body.events });
          const broker = ctx.broker.within(tx);
          await broker.generate(webhookSecretOwner(hook.id), WEBHOOK_KEY_NAME);
          using key = await broker.read(webhookSecretOwner(hook.id), WEBHOOK_KEY_NAME);
          await tx.audit.append({ actor: actorOf(request), action: 'webhook.created', subject: hook.id, details: { url: hook.url, events: hook.events } });
          return { webhook: webhookView(hook), secret: key!.value.toString('base64url') };
        }),
    );
    api.post(
      '/secrets/backup',
      {
        config: { role: 'admin' },
        schema: schema('An encrypted backup of every secret (scrypt from the passphrase; AES-256-GCM), as text lines', {
          body: BackupRequest,
          response: { 200: Type.Object({ backup: Type.String() }), ...problemResponses },
        }),
      },
      async (request) => {
        const lines: string[] = [];
        for await (const line of ctx.broker.exportBackup({ passphrase: request.body.passphrase })) lines.push(line);
        await ctx.store.audit.append({ actor: actorOf(request), action: 'secrets.backed-up', subject: null, details: { lines: lines.length } });
        return { backup: lines.join('\n') };
      },
    );
    api.post(
      '/secrets/restore',
      {
        config: { role: 'admin' },
        // A backup holds every secret: its body may be far larger than a node's attestation.
        bodyLimit: 64 * 1024 * 1024 + 4096,
        schema: schema('Restore a backup, all or nothing; stored secrets must match it', {
          body: RestoreRequest,
          response: { 200: RestoreReport, ...problemResponses },
        }),
      },
      async (request) => {
        const lines = request.body.backup.split('\n').filter((l) => l !== '');
        const report = await ctx.broker.importBackup(Readable.from(lines) as AsyncIterable<string>, { passphrase: request.body.passphrase });
        await ctx.store.audit.append({ actor: actorOf(request), action: 'secrets.restored', subject: null, details: { ...report } });
        return { imported: report.imported, unchanged: report.unchanged };
      },
    );
    api.post(
      '/secrets/rotate',
      {
        config: { role: 'admin' },
        schema: schema('Rewrap every data key under the current master key (after adding a new --master-key first)', {
          response: { 200: RotationReportView, ...problemResponses },
        }),
      },
      async (request) => {
        const report = await ctx.broker.rotate();
        await ctx.store.audit.append({ actor: actorOf(request), action: 'secrets.rotated', subject: null, details: { ...report } });
        return { toKeyId: report.toKeyId, fromKeyIds: [...report.fromKeyIds], rewrapped: report.rewrapped };
      },
    );
    done();
  };
}
