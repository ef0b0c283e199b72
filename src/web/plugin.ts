// The dashboard as a fastify plugin, registered by `vouch serve` at /ui: the page and its modules
// under a strict Content-Security-Policy, and sign-in/sign-out. Everything the pages show and do
// goes through the admin API (/v1/admin/…) with the session cookie this plugin sets; the admin
// API's authentication hook accepts it through dashboardPrincipal() (session.ts).
import { STATUS_CODES } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { PROBLEM_CONTENT_TYPE } from '../protocol/index.ts';
import type { Repositories } from '../store/index.ts';
import { loadAssets, type Asset } from './assets.ts';
import { WEB_PROBLEM_STATUS, WebError } from './errors.ts';
import {
  checkSameOrigin,
  clearedSessionCookie,
  csrfTokenOf,
  dashboardPrincipal,
  originOf,
  SESSION_IDLE_MS,
  SESSION_LIFETIME_MS,
  sessionCookie,
  sessionSecretOf,
} from './session.ts';

/** Where `vouch serve` mounts the dashboard. */
export const DASHBOARD_PREFIX = '/ui';

/**
 * Scripts and styles only from files this server sends: no inline script or style, no eval, no
 * other origin, and the page cannot be framed (clickjacking) or post forms elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** At most this many sign-in attempts per client address per minute (admin tokens cannot be guessed; this bounds the work). */
const SIGN_IN_RATE = { limit: 30, windowMs: 60_000 };

export interface DashboardOptions {
  readonly store: Repositories;
  /** A session left unused this long ends (default 30 minutes). */
  readonly idleMs?: number;
  /** A session ends this long after sign-in (default 12 hours). */
  readonly lifetimeMs?: number;
  /** The dashboard's files (default: src/web/client); tests pass their own. */
  readonly assets?: ReadonlyMap<string, Asset>;
}

const SignInBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
const SessionView = Type.Object(
  {
    name: Type.String(),
    role: Type.String(),
    csrfToken: Type.String(),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
type SessionView = Static<typeof SessionView>;

/** An RFC 9457 problem document, shaped as the rest of the server's. */
function sendProblem(reply: FastifyReply, status: number, code: string, detail: string): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ type: `urn:vouch:error:${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code });
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply.header('etag', asset.etag).header('cache-control', 'no-cache').type(asset.contentType);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.send(asset.body);
}

export const dashboard: FastifyPluginAsync<DashboardOptions> = (app, options) => {
  const { store } = options;
  const idleMs = options.idleMs ?? SESSION_IDLE_MS;
  const lifetimeMs = options.lifetimeMs ?? SESSION_LIFETIME_MS;
  const assets = options.assets ?? loadAssets();
  const page = assets.get('index.html')!;

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof WebError) return sendProblem(reply, WEB_PROBLEM_STATUS[error.code as keyof typeof WEB_PROBLEM_STATUS], error.code, error.message);
    // fastify's own refusals (schema validation, media type, body size) carry a 4xx statusCode.
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendProblem(reply, status, status === 413 ? 'ERR_REQUEST_TOO_LARGE' : 'ERR_REQUEST_INVALID', (error as Error).message);
    }
    request.log.error({ err: error }, 'dashboard request failed');
    return sendProblem(reply, 500, 'ERR_SERVER_INTERNAL', 'an unexpected server failure; the server logged the cause');
  });

  const index = async (request: FastifyRequest, reply: FastifyReply) => sendAsset(request, reply, page);
  app.get('/', index);
  app.get('/assets/:name', { schema: { params: Type.Object({ name: Type.String({ maxLength: 64 }) }) } }, async (request, reply) => {
    const asset = assets.get((request.params as { name: string }).name);
    if (!asset) return sendProblem(reply, 404, 'ERR_RESOURCE_NOT_FOUND', 'no such dashboard file');
    return sendAsset(request, reply, asset);
  });

  app.get('/session', { schema: { response: { 200: SessionView } } }, async (request, reply): Promise<SessionView> => {
    reply.header('cache-control', 'no-store');
    const principal = await dashboardPrincipal(store, request, originOf(request), idleMs);
    if (!principal) throw new WebError('ERR_WEB_SESSION', 'not signed in');
    return {
      name: principal.token.name,
      role: principal.token.role,
      csrfToken: principal.csrfToken,
      expiresAt: new Date(principal.session.expiresAt).toISOString(),
    };
  });

  app.post('/session', { schema: { body: SignInBody, response: { 200: SessionView } } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    checkSameOrigin(request.headers, originOf(request));
    const limited = await store.rateLimits.hit(`dashboard-sign-in:${request.ip}`, SIGN_IN_RATE);
    if (!limited.allowed) {
      reply.header('retry-after', String(Math.ceil(limited.retryAfterMs / 1000)));
      return sendProblem(reply, 429, 'ERR_RATE_LIMITED', 'too many sign-in attempts from this address; wait a minute');
    }
    const { token: presented } = request.body as Static<typeof SignInBody>;
    const token = await store.adminTokens.authenticate(presented.trim());
    if (!token) return sendProblem(reply, 401, 'ERR_AUTH_TOKEN_INVALID', 'that admin token is unknown, revoked or expired');
    const maxAgeMs = token.expiresAt === null ? lifetimeMs : Math.min(lifetimeMs, token.expiresAt - store.now());
    const { secret, record } = await store.transaction(async (tx) => {
      const created = await tx.adminSessions.create({ tokenId: token.id, ttlMs: maxAgeMs });
      await tx.audit.append({
        actor: `admin:${token.name}`,
        action: 'dashboard.sign-in',
        subject: null,
        details: { session: created.record.id, role: token.role },
      });
      return created;
    });
    reply.header('set-cookie', sessionCookie(secret, maxAgeMs));
    return { name: token.name, role: token.role, csrfToken: csrfTokenOf(secret), expiresAt: new Date(record.expiresAt).toISOString() } satisfies SessionView;
  });

  app.delete('/session', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const principal = await dashboardPrincipal(store, request, originOf(request), idleMs);
    if (!principal) throw new WebError('ERR_WEB_SESSION', 'not signed in');
    await store.transaction(async (tx) => {
      await tx.adminSessions.end(sessionSecretOf(request.headers)!);
      await tx.audit.append({
        actor: `admin:${principal.token.name}`,
        action: 'dashboard.sign-out',
        subject: null,
        details: { session: principal.session.id },
      });
    });
    return reply.header('set-cookie', clearedSessionCookie()).code(204).send();
  });
  return Promise.resolve();
};
