// Dashboard sessions as HTTP sees them: the cookie that names one, the CSRF token that goes with it,
// and the checks a state-changing call must pass. The admin API's authentication hook calls
// dashboardPrincipal() for requests that carry the session cookie instead of a bearer token.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { parseCookie, stringifySetCookie } from 'cookie';
import { constantTimeEqual } from '../bytes/index.ts';
import type { AdminSessionRecord, AdminTokenRecord, Repositories } from '../store/index.ts';
import { WebError } from './errors.ts';

/**
 * `__Host-`: the browser keeps the cookie only if it is Secure, has Path=/ and no Domain, so no
 * sibling subdomain can plant or overwrite it (the cookie-tossing route to session fixation).
 * Browsers count http://127.0.0.1 and http://localhost as secure contexts, so this works there too.
 */
export const SESSION_COOKIE = '__Host-vouch-session';
/** The header a state-changing call carries the session's CSRF token in. */
export const CSRF_HEADER = 'x-vouch-csrf';
/** A session ends this long after sign-in, however busy. */
export const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** A session left unused this long ends. */
export const SESSION_IDLE_MS = 30 * 60 * 1000;

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface DashboardPrincipal {
  readonly token: AdminTokenRecord;
  readonly session: AdminSessionRecord;
  readonly csrfToken: string;
}

/**
 * The session's CSRF token, derived from its secret (HMAC-SHA256), so nothing more is stored. The
 * page reads it from /ui/session and sends it in a header; a forged cross-site request can make the
 * browser send the cookie but can neither read the cookie nor the token.
 */
export function csrfTokenOf(sessionSecret: string): string {
  return createHmac('sha256', sessionSecret).update('vouch dashboard csrf token').digest('base64url');
}

/** The session cookie a sign-in sets: HttpOnly, Secure, SameSite=Strict, no longer than the session. */
export function sessionCookie(secret: string, maxAgeMs: number): string {
  return stringifySetCookie({
    name: SESSION_COOKIE,
    value: secret,
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    maxAge: Math.floor(maxAgeMs / 1000),
  });
}

/** The header that removes the cookie (signing out). */
export function clearedSessionCookie(): string {
  return stringifySetCookie({ name: SESSION_COOKIE, value: '', path: '/', httpOnly: true, secure: true, sameSite: 'strict', maxAge: 0 });
}

/** The session secret the request's cookie carries, if any. */
export function sessionSecretOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.cookie;
  if (header === undefined) return undefined;
  return parseCookie(header)[SESSION_COOKIE];
}

/**
 * Refuses a request that did not come from the dashboard's own pages: the browser's Sec-Fetch-Site
 * must say same-origin, or, from a browser that sends no such header, Origin must be this server.
 * Guards the sign-in too (login CSRF: a forged sign-in into the attacker's own session).
 */
export function checkSameOrigin(headers: IncomingHttpHeaders, expectedOrigin: string): void {
  const site = headers['sec-fetch-site'];
  const origin = headers.origin;
  if (site !== undefined ? site !== 'same-origin' : origin !== undefined && origin !== expectedOrigin) {
    throw new WebError('ERR_WEB_CSRF', `refused a state-changing call from ${site !== undefined ? `a ${site} page` : `origin ${origin ?? '(none)'}`}`, {
      secFetchSite: site ?? null,
    });
  }
}

/**
 * Who a request acts for through its dashboard session: undefined when it carries no session
 * cookie (the caller then looks for a bearer token); ERR_WEB_SESSION when the cookie names no live
 * session; ERR_WEB_CSRF when a state-changing call fails the origin check or lacks the session's
 * CSRF token. The role is the admin token's, read now.
 */
export async function dashboardPrincipal(
  store: Repositories,
  request: { readonly method: string; readonly headers: IncomingHttpHeaders },
  expectedOrigin: string,
  idleMs: number = SESSION_IDLE_MS,
): Promise<DashboardPrincipal | undefined> {
  const secret = sessionSecretOf(request.headers);
  if (secret === undefined) return undefined;
  const unsafe = !SAFE_METHODS.has(request.method);
  if (unsafe) checkSameOrigin(request.headers, expectedOrigin);
  const found = await store.adminSessions.authenticate(secret, idleMs);
  if (!found) throw new WebError('ERR_WEB_SESSION', 'the dashboard session ended: sign in again');
  const csrfToken = csrfTokenOf(secret);
  if (unsafe) {
    const presented = request.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || !constantTimeEqual(Buffer.from(presented), Buffer.from(csrfToken))) {
      throw new WebError('ERR_WEB_CSRF', `a state-changing call must carry the session's CSRF token in ${CSRF_HEADER}`, { header: CSRF_HEADER });
    }
  }
  return { ...found, csrfToken };
}

/** The admin API's way to accept the dashboard's session (a request with no bearer token). */
export function dashboardSessionAuthentication(
  store: Repositories,
  idleMs: number = SESSION_IDLE_MS,
): (request: FastifyRequest) => Promise<AdminTokenRecord | undefined> {
  return async (request) => (await dashboardPrincipal(store, request, originOf(request), idleMs))?.token;
}

/** This server's origin as the browser sees it. */
export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}
