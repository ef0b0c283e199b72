// Dashboard test helpers: a fastify app with the dashboard at /ui over a real store, and the
// session cookie and CSRF token of a sign-in.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Store } from '../../src/store/index.ts';
import { dashboard, DASHBOARD_PREFIX, type DashboardOptions } from '../../src/web/index.ts';

/** An app serving the dashboard over `store`, closed after the test. */
export async function dashboardApp(t: TestContext, store: Store, options: Omit<DashboardOptions, 'store'> = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(dashboard, { store, ...options, prefix: DASHBOARD_PREFIX });
  await app.ready();
  t.after(() => app.close());
  return app;
}

export interface SignedIn {
  /** The Cookie header value. */
  readonly cookie: string;
  readonly csrfToken: string;
  /** The Set-Cookie header as sent. */
  readonly setCookie: string;
}

/** Signs in with `token` as the dashboard's page would (same-origin fetch). */
export async function signIn(app: FastifyInstance, token: string): Promise<SignedIn> {
  const response = await app.inject({ method: 'POST', url: '/ui/session', headers: { 'sec-fetch-site': 'same-origin' }, payload: { token } });
  assert.equal(response.statusCode, 200, response.body);
  const setCookie = String(response.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrfToken: response.json<{ csrfToken: string }>().csrfToken, setCookie };
}
