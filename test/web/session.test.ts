// The dashboard's own routes over a real store: sign-in, the session cookie, CSRF refusals, the
// security headers, and sessions shared by replicas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { CONTENT_SECURITY_POLICY, dashboardPrincipal, loadAssets } from '../../src/web/index.ts';
import { manualClock, storeFixture, storeTest } from '../store/harness.ts';
import { dashboardApp, signIn } from './harness.ts';

storeTest('the page and every module are sent with a strict Content-Security-Policy, as JavaScript, revalidated by ETag', async (t, f) => {
  const app = await dashboardApp(t, await f.open());
  const page = await app.inject({ url: '/ui/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.doesNotMatch(page.body, /<script>|<style|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');

  const assets = loadAssets();
  assert.ok(assets.has('main.ts') && assets.has('app.css'));
  for (const [name, asset] of assets) {
    const response = await app.inject({ url: `/ui/assets/${name}` });
    assert.equal(response.statusCode, 200, name);
    assert.equal(response.headers['content-security-policy'], CONTENT_SECURITY_POLICY, name);
    assert.equal(response.headers['content-type'], asset.contentType, name);
    if (name.endsWith('.ts')) {
      assert.match(asset.contentType, /^text\/javascript/);
      assert.doesNotMatch(response.body, /^import type /m, `${name}: type-only imports are erased`);
    }
    const again = await app.inject({ url: `/ui/assets/${name}`, headers: { 'if-none-match': String(response.headers.etag) } });
    assert.equal(again.statusCode, 304, name);
  }
  for (const bad of ['../plugin.ts', '..%2fplugin.ts', 'tsconfig.json', 'nope.ts']) {
    const response = await app.inject({ url: `/ui/assets/${bad}` });
    assert.equal(response.statusCode, 404, bad);
  }
});

storeTest('sign-in exchanges an admin token for an HttpOnly, Secure, SameSite=Strict session cookie; the token is not the cookie', async (t, f) => {
  const store = await f.open();
  const app = await dashboardApp(t, store);
  const { token } = await store.adminTokens.create({ name: 'ops-alice', role: 'operator' });

  const wrong = await app.inject({
    method: 'POST',
    url: '/ui/session',
    headers: { 'sec-fetch-site': 'same-origin' },
    payload: { token: `${token.slice(0, -2)}xx` },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json<{ code: string }>().code, 'ERR_AUTH_TOKEN_INVALID');
  assert.match(String(wrong.headers['content-type']), /^application\/problem\+json/);
  assert.equal(wrong.headers['set-cookie'], undefined);
  for (const payload of [{ token: 'x'.repeat(257) }, { token: '' }, {}, 'token']) {
    const malformed = await app.inject({ method: 'POST', url: '/ui/session', headers: { 'sec-fetch-site': 'same-origin' }, payload });
    assert.equal(malformed.statusCode, typeof payload === 'string' ? 415 : 400, JSON.stringify(payload));
    assert.equal(malformed.json<{ code: string }>().code, 'ERR_REQUEST_INVALID');
  }

  const signedIn = await signIn(app, token);
  const attributes = signedIn.setCookie.split(';').map((a) => a.trim().toLowerCase());
  assert.match(signedIn.cookie, /^__Host-vouch-session=vouch-session\.[A-Za-z0-9_-]{43}$/);
  for (const a of ['httponly', 'secure', 'samesite=strict', 'path=/']) assert.ok(attributes.includes(a), `${a} in ${signedIn.setCookie}`);
  assert.ok(!signedIn.setCookie.includes(token), 'the admin token never travels in the cookie');

  const me = await app.inject({ url: '/ui/session', headers: { cookie: signedIn.cookie } });
  assert.equal(me.statusCode, 200);
  assert.deepEqual((({ name, role, csrfToken }) => ({ name, role, csrfToken }))(me.json<{ name: string; role: string; csrfToken: string }>()), {
    name: 'ops-alice',
    role: 'operator',
    csrfToken: signedIn.csrfToken,
  });
  assert.equal(me.headers['cache-control'], 'no-store');
  const audit = await store.audit.list({});
  assert.ok(audit.items.some((e) => e.action === 'dashboard.sign-in' && e.actor === 'admin:ops-alice'));

  const anonymous = await app.inject({ url: '/ui/session' });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.json<{ code: string }>().code, 'ERR_WEB_SESSION');
});

storeTest('state-changing calls are refused without the CSRF token or from another site; sign-in from another site is refused', async (t, f) => {
  const store = await f.open();
  const app = await dashboardApp(t, store);
  const { token } = await store.adminTokens.create({ name: 'ops', role: 'admin' });

  const forgedSignIn = await app.inject({ method: 'POST', url: '/ui/session', headers: { 'sec-fetch-site': 'cross-site' }, payload: { token } });
  assert.equal(forgedSignIn.statusCode, 403);
  assert.equal(forgedSignIn.json<{ code: string }>().code, 'ERR_WEB_CSRF');
  const foreignOrigin = await app.inject({ method: 'POST', url: '/ui/session', headers: { origin: 'https://evil.example' }, payload: { token } });
  assert.equal(foreignOrigin.statusCode, 403);

  const s = await signIn(app, token);
  const attempts: Record<string, Record<string, string>> = {
    'no token': { cookie: s.cookie, 'sec-fetch-site': 'same-origin' },
    'wrong token': { cookie: s.cookie, 'sec-fetch-site': 'same-origin', 'x-vouch-csrf': `${s.csrfToken.slice(0, -1)}${s.csrfToken.endsWith('A') ? 'B' : 'A'}` },
    'same-site but other origin': { cookie: s.cookie, 'sec-fetch-site': 'same-site', 'x-vouch-csrf': s.csrfToken },
    'cross-site': { cookie: s.cookie, 'sec-fetch-site': 'cross-site', 'x-vouch-csrf': s.csrfToken },
    'foreign Origin, no Sec-Fetch-Site': { cookie: s.cookie, origin: 'http://evil.example', 'x-vouch-csrf': s.csrfToken },
  };
  for (const [what, headers] of Object.entries(attempts)) {
    const response = await app.inject({ method: 'DELETE', url: '/ui/session', headers });
    assert.equal(response.statusCode, 403, what);
    assert.equal(response.json<{ code: string }>().code, 'ERR_WEB_CSRF', what);
  }
  assert.equal((await app.inject({ url: '/ui/session', headers: { cookie: s.cookie } })).statusCode, 200, 'still signed in');

  const out = await app.inject({
    method: 'DELETE',
    url: '/ui/session',
    headers: { cookie: s.cookie, 'sec-fetch-site': 'same-origin', 'x-vouch-csrf': s.csrfToken },
  });
  assert.equal(out.statusCode, 204);
  assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
  assert.equal((await app.inject({ url: '/ui/session', headers: { cookie: s.cookie } })).statusCode, 401, 'signed out');
});

storeTest('the admin API learns the role from the session, read at each request: revoking the token ends the session', async (t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const app = await dashboardApp(t, store);
  const { token, record } = await store.adminTokens.create({ name: 'watcher', role: 'viewer' });
  const s = await signIn(app, token);
  const origin = 'http://localhost:80';
  const read = await dashboardPrincipal(store, { method: 'GET', headers: { cookie: s.cookie } }, origin);
  assert.equal(read?.token.role, 'viewer');
  assert.equal(await dashboardPrincipal(store, { method: 'GET', headers: {} }, origin), undefined, 'no cookie: look for a bearer token');
  await assert.rejects(dashboardPrincipal(store, { method: 'POST', headers: { cookie: s.cookie } }, origin), { code: 'ERR_WEB_CSRF' });
  const acting = await dashboardPrincipal(store, { method: 'POST', headers: { cookie: s.cookie, origin, 'x-vouch-csrf': s.csrfToken } }, origin);
  assert.equal(acting?.token.id, record.id);

  clock.advance(31 * 60_000);
  await assert.rejects(dashboardPrincipal(store, { method: 'GET', headers: { cookie: s.cookie } }, origin), { code: 'ERR_WEB_SESSION' }, 'idle for 31 minutes');

  const again = await signIn(app, token);
  await store.adminTokens.revoke(record.id);
  await assert.rejects(dashboardPrincipal(store, { method: 'GET', headers: { cookie: again.cookie } }, origin), { code: 'ERR_WEB_SESSION' });
  assert.equal((await app.inject({ url: '/ui/session', headers: { cookie: again.cookie } })).statusCode, 401);
  const rows = await sql<{ n: number | string }>`select count(*) as n from admin_sessions`.execute(store.kysely);
  assert.equal(Number(rows.rows[0]!.n), 2, 'sessions are rows of the database');
});

test('a session made through one replica is honoured by another (PostgreSQL)', async (t) => {
  const f = await storeFixture(t, 'postgres');
  if (!f) return;
  const [a, b] = [await f.open(), await f.open()];
  const first = await dashboardApp(t, a);
  const second = await dashboardApp(t, b);
  const { token } = await a.adminTokens.create({ name: 'ops', role: 'operator' });
  const s = await signIn(first, token);
  assert.equal((await second.inject({ url: '/ui/session', headers: { cookie: s.cookie } })).json<{ role: string }>().role, 'operator');
  const out = await second.inject({
    method: 'DELETE',
    url: '/ui/session',
    headers: { cookie: s.cookie, 'sec-fetch-site': 'same-origin', 'x-vouch-csrf': s.csrfToken },
  });
  assert.equal(out.statusCode, 204);
  assert.equal((await first.inject({ url: '/ui/session', headers: { cookie: s.cookie } })).statusCode, 401);
});
