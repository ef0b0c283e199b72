// The fastify application: the node protocol, the admin API, the key set, the OpenAPI document,
// health and metrics. It is built over a ServerContext (assembled by server.ts, or by a test) and
// listens nowhere itself: server.ts listens, tests `inject`. Every route declares its schemas from
// src/protocol, which validate requests, serialize responses and make /v1/openapi.json. Every
// error answers as application/problem+json with its ERR_* code; an unexpected one is logged with
// its cause under the request id and answered with a generic 500.
import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isVouchError } from '../errors/index.ts';
import {
  ActivateRequest,
  ActivateResponse,
  AttestRequest,
  AttestResponse,
  ChallengeRequest,
  ChallengeResponse,
  EnrollRequest,
  EnrollResponse,
  PROBLEM_STATUS,
  Problem,
  ProtocolError,
  Uuid,
  type ProtocolErrorCodeName,
} from '../protocol/index.ts';
import { StoreError } from '../store/index.ts';
import { dashboard, dashboardSessionAuthentication, DASHBOARD_PREFIX, WEB_PROBLEM_STATUS, WebError } from '../web/index.ts';
import { adminRoutes } from './admin.ts';
import * as attestation from './attestation.ts';
import type { ServerContext } from './context.ts';
import * as enrollment from './enrollment.ts';
import { problem, problemResponses, sendProblem } from './problems.ts';

export type App = FastifyInstance;

export interface AppOptions {
  /** False while the server drains for shutdown: /readyz answers 503 and new requests are refused. */
  readonly accepting?: () => boolean;
  /** PEM certificate and key: the app serves HTTPS. */
  readonly https?: { readonly cert: string; readonly key: string };
}

/** Store errors a caller can act on: the database is away, or a value or state is refused. */
const STORE_STATUS: Readonly<Record<string, [ProtocolErrorCodeName, number]>> = {
  ERR_STORE_UNAVAILABLE: ['ERR_SERVER_UNAVAILABLE', 503],
  ERR_STORE_NOT_FOUND: ['ERR_RESOURCE_NOT_FOUND', 404],
  ERR_STORE_CONFLICT: ['ERR_RESOURCE_CONFLICT', 409],
  ERR_STORE_INVALID: ['ERR_REQUEST_INVALID', 400],
  ERR_STORE_BAD_CURSOR: ['ERR_REQUEST_INVALID', 400],
};

/** The problem an error answers with; undefined for an unexpected one (logged, then a generic 500). */
function problemOf(error: unknown): Problem | undefined {
  const e = error as FastifyError & { validationContext?: string };
  if (e.validation) {
    const first = e.validation[0];
    const field = `${e.validationContext ?? 'request'}${first?.instancePath ?? ''}`;
    const property = (first?.params as { additionalProperty?: string; missingProperty?: string } | undefined) ?? {};
    const named = property.additionalProperty ?? property.missingProperty;
    return problem('ERR_REQUEST_INVALID', 400, `${named ? `${field}/${named}` : field}: ${first?.message ?? 'does not match the schema'}`);
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return problem('ERR_REQUEST_TOO_LARGE', 413, e.message);
  if (typeof e.code === 'string' && e.code.startsWith('FST_ERR_CTP_')) return problem('ERR_REQUEST_INVALID', e.statusCode ?? 400, e.message);
  if (error instanceof ProtocolError) {
    const status = PROBLEM_STATUS[error.code as ProtocolErrorCodeName] ?? 400;
    const reasons = (error.details as { reasons?: Problem['reasons'] }).reasons;
    return problem(error.code, status, error.message, reasons ? { reasons } : {});
  }
  if (error instanceof StoreError) {
    const mapped = STORE_STATUS[error.code];
    return mapped && problem(mapped[0], mapped[1], mapped[1] === 503 ? 'the database is unavailable; retry with backoff' : error.message);
  }
  if (error instanceof WebError) return problem(error.code, WEB_PROBLEM_STATUS[error.code as keyof typeof WEB_PROBLEM_STATUS], error.message);
  // A policy or reference set an operator sent that does not compile, or a backup that does not
  // open or clashes with stored secrets: its own code, a client error.
  if (isVouchError(error) && /^ERR_(POLICY|PREDICT|BROKER_BACKUP)_/.test(error.code)) {
    return problem(error.code, error.code === 'ERR_BROKER_BACKUP_CONFLICT' ? 409 : 400, error.message);
  }
  return undefined;
}

function errorHandler(this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = problemOf(error);
  if (known) {
    if (known.status >= 500) request.log.warn({ code: known.code, err: error }, 'request failed');
    const retry = (error as { details?: { retryAfterSeconds?: number } }).details?.retryAfterSeconds;
    if (retry !== undefined) void reply.header('retry-after', String(retry));
    if (known.status === 503) void reply.header('retry-after', '1');
    return sendProblem(reply, known);
  }
  request.log.error({ err: error }, 'internal error');
  return sendProblem(reply, problem('ERR_SERVER_INTERNAL', 500, `internal error; the server logged it under request id ${request.id}`));
}

/** Counts one request against a shared (database) limit; over it, ERR_RATE_LIMITED with Retry-After. */
export async function rateLimit(ctx: ServerContext, key: string, rule: ServerContext['config']['limits']['perNode']): Promise<void> {
  const decision = await ctx.store.rateLimits.hit(key, rule);
  if (decision.allowed) return;
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  throw new ProtocolError('ERR_RATE_LIMITED', `more than ${decision.limit} requests per ${rule.windowMs / 1000} s; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** The node-facing protocol (docs/design.md), rate-limited per address and, for challenges, per node. */
function nodeRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _options: unknown, done: (err?: Error) => void): void => {
    const api = app.withTypeProvider<TypeBoxTypeProvider>();
    api.addHook('onRequest', async (request) => {
      await rateLimit(ctx, `ip:${request.ip}`, ctx.config.limits.perAddress);
    });
    api.post(
      '/v1/enroll',
      {
        schema: { tags: ['node'], summary: 'Enroll a node: EK, AK and hostname', body: EnrollRequest, response: { 200: EnrollResponse, ...problemResponses } },
      },
      async (request) => {
        const { response, events } = await enrollment.enroll(ctx, request.body);
        ctx.webhooks.publish(events);
        return response;
      },
    );
    api.get(
      '/v1/enroll/:id',
      {
        schema: {
          tags: ['node'],
          summary: 'Poll an enrollment that waits for approval',
          params: IdParams,
          response: { 200: EnrollResponse, ...problemResponses },
        },
      },
      async (request) => enrollment.enrollmentStatus(ctx, request.params.id),
    );
    api.post(
      '/v1/enroll/:id/activate',
      {
        schema: {
          tags: ['node'],
          summary: 'Answer the credential challenge (TPM2_ActivateCredential)',
          params: IdParams,
          body: ActivateRequest,
          response: { 200: ActivateResponse, ...problemResponses },
        },
      },
      async (request) => {
        const { response, events } = await enrollment.activate(ctx, request.params.id, request.body.secret);
        ctx.webhooks.publish(events);
        return response;
      },
    );
    api.post(
      '/v1/attest/challenge',
      {
        schema: {
          tags: ['node'],
          summary: 'A single-use attestation challenge (nonce, PCR selection)',
          body: ChallengeRequest,
          response: { 200: ChallengeResponse, ...problemResponses },
        },
      },
      async (request) => {
        await rateLimit(ctx, `node:${request.body.nodeId}`, ctx.config.limits.perNode);
        return attestation.challenge(ctx, request.body.nodeId);
      },
    );
    api.post(
      '/v1/attest',
      {
        schema: {
          tags: ['node'],
          summary: 'Send a quote and event log; receive an EAR and, when affirming, the secrets as a JWE',
          body: AttestRequest,
          response: { 200: AttestResponse, ...problemResponses },
        },
      },
      async (request) => {
        const { response, events } = await attestation.attest(ctx, request.body);
        ctx.webhooks.publish(events);
        return response;
      },
    );
    done();
  };
}

const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) });

/**
 * The application over a context. The caller owns the context's store and closes it after
 * `app.close()`.
 */
export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<App> {
  const accepting = options.accepting ?? (() => true);
  const app = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: ctx.config.limits.bodyBytes,
    genReqId: () => randomUUID(),
    // A field the schema does not name is refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
  } as Parameters<typeof Fastify>[0]).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem('ERR_RESOURCE_NOT_FOUND', 404, `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
  app.addHook('onRequest', (_request, _reply, done) => {
    done(accepting() ? undefined : new ProtocolError('ERR_SERVER_UNAVAILABLE', 'the server is shutting down; retry with another replica or later', {}));
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.requests.inc({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vouch',
        version: ctx.verifierBuild,
        description: 'Attestation server and key broker: the node protocol and the admin API (docs/protocol.md)',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  await app.register(nodeRoutes(ctx));
  await app.register(adminRoutes(ctx, dashboardSessionAuthentication(ctx.store)), { prefix: '/v1/admin' });
  await app.register(dashboard, { prefix: DASHBOARD_PREFIX, store: ctx.store });

  app.get(
    '/.well-known/jwks.json',
    { schema: { tags: ['keys'], summary: 'The public keys EAR attestation results are signed with', response: { 200: Jwks } } },
    () => Promise.resolve(ctx.keys.jwks),
  );
  app.get('/v1/openapi.json', { schema: { hide: true } }, () => Promise.resolve(app.swagger()));
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, () =>
    Promise.resolve({ ok: true }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers and the server is not draining',
        response: { 200: Type.Object({ ok: Type.Boolean() }), ...problemResponses },
      },
    },
    async (request) => {
      try {
        await ctx.store.audit.head();
      } catch (e) {
        // Whatever keeps the database from answering, this replica cannot serve: take it out of rotation.
        request.log.warn({ err: e }, 'readiness probe: the database does not answer');
        throw new ProtocolError('ERR_SERVER_UNAVAILABLE', 'the database does not answer', {}, { cause: e });
      }
      return { ok: true };
    },
  );
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  await app.ready();
  return app;
}
