// Admin tokens, kubeadm bootstrap tokens and rate limits.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { manualClock, newNode, storeTest } from './harness.ts';

storeTest('an admin token authenticates until it expires or is revoked; only its SHA-256 is stored', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const { token, record } = await store.adminTokens.create({ name: 'ops-alice', role: 'operator', expiresAt: clock.now() + 3_600_000 });
  assert.match(token, /^vouch-admin\.[A-Za-z0-9_-]{43}$/);
  assert.equal((await store.adminTokens.authenticate(token))?.role, 'operator');
  const stored = await sql<{ token_hash: Uint8Array }>`select token_hash from admin_tokens`.execute(store.kysely);
  assert.deepEqual(Buffer.from(stored.rows[0]!.token_hash), createHash('sha256').update(token).digest());
  const dump = JSON.stringify((await sql`select * from admin_tokens`.execute(store.kysely)).rows);
  assert.ok(!dump.includes(token.slice('vouch-admin.'.length)), 'the token itself is nowhere in the row');

  assert.equal(await store.adminTokens.authenticate(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), undefined);
  assert.equal(await store.adminTokens.authenticate('vouch-admin.short'), undefined);
  assert.equal(await store.adminTokens.authenticate(''), undefined);

  clock.advance(3_600_000);
  assert.equal(await store.adminTokens.authenticate(token), undefined, 'expired');

  const { token: admin } = await store.adminTokens.create({ name: 'root', role: 'admin' });
  assert.ok(await store.adminTokens.authenticate(admin));
  await store.adminTokens.revoke(record.id);
  const revoked = (await store.adminTokens.list()).items.find((r) => r.id === record.id);
  assert.ok(revoked?.revokedAt);
  const other = (await store.adminTokens.list()).items.find((r) => r.name === 'root');
  await store.adminTokens.revoke(other!.id);
  assert.equal(await store.adminTokens.authenticate(admin), undefined, 'revoked');
  await assert.rejects(store.adminTokens.create({ name: 'x', role: 'root' as 'admin' }), { code: 'ERR_STORE_INVALID' });
});

storeTest('a bootstrap token is stored as its id and the digest of its secret; verify checks the secret and expiry', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const node = await store.nodes.create(newNode({ status: 'enrolled' }));
  const token = 'abcdef.0123456789abcdef';
  const rec = await store.bootstrapTokens.record({
    token,
    nodeId: node.id,
    expiresAt: clock.now() + 60_000,
    usages: ['signing', 'authentication'],
    groups: ['system:bootstrappers:kubeadm:default-node-token'],
    description: `join of ${node.name}`,
  });
  assert.equal(rec.tokenId, 'abcdef');
  assert.deepEqual((await store.bootstrapTokens.verify(token))?.groups, ['system:bootstrappers:kubeadm:default-node-token']);
  assert.equal(await store.bootstrapTokens.verify('abcdef.0123456789abcdee'), undefined);
  assert.equal((await store.bootstrapTokens.listForNode(node.id)).items.length, 1);
  const dump = JSON.stringify((await sql`select * from bootstrap_tokens`.execute(store.kysely)).rows);
  assert.ok(!dump.includes('0123456789abcdef'));
  clock.advance(60_000);
  assert.equal(await store.bootstrapTokens.verify(token), undefined, 'expired');
  assert.equal(await store.bootstrapTokens.prune(clock.now() + 1), 1);
  for (const bad of ['ABCDEF.0123456789abcdef', 'abcdef0123456789abcdef', 'abcdef.0123456789abcde']) {
    await assert.rejects(store.bootstrapTokens.record({ token: bad, nodeId: node.id, expiresAt: 1, usages: [], groups: [] }), { code: 'ERR_STORE_INVALID' });
  }
  await assert.rejects(store.bootstrapTokens.record({ token, nodeId: node.id, expiresAt: 1, usages: [], groups: ['system:masters'] }), {
    code: 'ERR_STORE_INVALID',
  });
});

storeTest('rate limits are shared by every replica and slide between windows', async (_t, f) => {
  const clock = manualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const a = await f.open({ clock: clock.now });
  const b = f.dialect === 'postgres' ? await f.open({ clock: clock.now }) : a;
  const rule = { limit: 10, windowMs: 60_000 };
  const decisions = await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? a : b).rateLimits.hit('ip:192.0.2.7', rule)));
  assert.equal(decisions.filter((d) => d.allowed).length, 10);
  assert.deepEqual(
    decisions.map((d) => d.count).sort((x, y) => x - y),
    Array.from({ length: 14 }, (_, i) => i + 1),
  );
  assert.ok(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs === 60_000));
  assert.ok((await a.rateLimits.hit('ip:192.0.2.8', rule)).allowed, 'other keys count apart');

  // Half-way through the next window, half of the previous window's 14 still count.
  clock.advance(90_000);
  const next = await a.rateLimits.hit('ip:192.0.2.7', rule);
  assert.equal(next.count, 1 + 7);
  assert.ok(next.allowed);
  clock.advance(120_000);
  assert.equal((await b.rateLimits.hit('ip:192.0.2.7', rule)).count, 1);
  assert.equal(await a.rateLimits.prune(clock.now() - 60_000), 3);
  await assert.rejects(a.rateLimits.hit('k', { limit: 0, windowMs: 1000 }), { code: 'ERR_STORE_INVALID' });
});

storeTest(
  'a dashboard session acts with its token until it expires, idles out, is ended, or its token is revoked; only its SHA-256 is stored',
  async (_t, f) => {
    const clock = manualClock();
    const store = await f.open({ clock: clock.now });
    const idleMs = 30 * 60_000;
    const { record: token } = await store.adminTokens.create({ name: 'ops-bob', role: 'viewer' });
    const { secret, record } = await store.adminSessions.create({ tokenId: token.id, ttlMs: 8 * 3_600_000 });
    assert.match(secret, /^vouch-session\.[A-Za-z0-9_-]{43}$/);
    const found = await store.adminSessions.authenticate(secret, idleMs);
    assert.equal(found?.session.id, record.id);
    assert.equal(found.token.role, 'viewer');
    const dump = JSON.stringify((await sql`select * from admin_sessions`.execute(store.kysely)).rows);
    assert.ok(!dump.includes(secret.slice('vouch-session.'.length)), 'the secret itself is nowhere in the row');
    assert.equal(await store.adminSessions.authenticate(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, idleMs), undefined);
    assert.equal(await store.adminSessions.authenticate('vouch-session.', idleMs), undefined);

    // Use keeps it alive; silence ends it.
    clock.advance(idleMs - 1);
    assert.ok(await store.adminSessions.authenticate(secret, idleMs));
    clock.advance(idleMs - 1);
    assert.ok(await store.adminSessions.authenticate(secret, idleMs), 'the last use renewed it');
    clock.advance(idleMs);
    assert.equal(await store.adminSessions.authenticate(secret, idleMs), undefined, 'idle');

    // Used often, it still ends at its expiry.
    const long = await store.adminSessions.create({ tokenId: token.id, ttlMs: 3_600_000 });
    for (let i = 0; i < 4; i++) {
      assert.ok(await store.adminSessions.authenticate(long.secret, idleMs));
      clock.advance(15 * 60_000);
    }
    assert.equal(await store.adminSessions.authenticate(long.secret, idleMs), undefined, 'expired');

    // Signing out, and revoking the token, end it at once.
    const a = await store.adminSessions.create({ tokenId: token.id, ttlMs: 3_600_000 });
    const b = await store.adminSessions.create({ tokenId: token.id, ttlMs: 3_600_000 });
    assert.equal(await store.adminSessions.end(a.secret), true);
    assert.equal(await store.adminSessions.end(a.secret), false);
    assert.equal(await store.adminSessions.authenticate(a.secret, idleMs), undefined, 'signed out');
    assert.ok(await store.adminSessions.authenticate(b.secret, idleMs));
    await store.adminTokens.revoke(token.id);
    assert.equal(await store.adminSessions.authenticate(b.secret, idleMs), undefined, 'token revoked');

    assert.equal(await store.adminSessions.prune(clock.now() + 1, clock.now() - idleMs), 2, 'the idle and the expired one');
    await assert.rejects(store.adminSessions.create({ tokenId: token.id, ttlMs: 0 }), { code: 'ERR_STORE_INVALID' });
    await assert.rejects(store.adminSessions.create({ tokenId: 'nope', ttlMs: 1000 }), { code: 'ERR_STORE_NOT_FOUND' });
  },
);

storeTest('a session made through one replica is honoured by another', async (_t, f) => {
  const first = await f.open();
  const { record: token } = await first.adminTokens.create({ name: 'ops', role: 'operator' });
  const { secret } = await first.adminSessions.create({ tokenId: token.id, ttlMs: 60_000 });
  const second = f.dialect === 'postgres' ? await f.open() : first;
  assert.equal((await second.adminSessions.authenticate(secret, 60_000))?.token.role, 'operator');
  assert.equal(await second.adminSessions.end(secret), true);
  assert.equal(await first.adminSessions.authenticate(secret, 60_000), undefined);
});
