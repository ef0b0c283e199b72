import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { manualClock, newNode, storeTest } from './harness.ts';

storeTest('an enrollment challenge is used once: a second use is ERR_STORE_CONSUMED, a late one ERR_STORE_EXPIRED', async (_t, f) => {
  const clock = manualClock();
  const store = await f.open({ clock: clock.now });
  const node = await store.nodes.create(newNode());
  const secretHash = new Uint8Array(randomBytes(32));
  const challenge = await store.enrollmentChallenges.create({ nodeId: node.id, secretHash, ttlMs: 30_000 });
  assert.equal(challenge.expiresAt, clock.now() + 30_000);
  const used = await store.enrollmentChallenges.consume(challenge.id);
  assert.equal(used.nodeId, node.id);
  assert.deepEqual(used.secretHash, secretHash);
  await assert.rejects(store.enrollmentChallenges.consume(challenge.id), { code: 'ERR_STORE_CONSUMED' });

  const late = await store.enrollmentChallenges.create({ nodeId: node.id, secretHash, ttlMs: 30_000 });
  clock.advance(30_000); // expiry is exclusive: at expiresAt it is already expired
  await assert.rejects(store.enrollmentChallenges.consume(late.id), { code: 'ERR_STORE_EXPIRED' });
  await assert.rejects(store.enrollmentChallenges.consume('00000000-0000-4000-8000-000000000000'), { code: 'ERR_STORE_NOT_FOUND' });
  await assert.rejects(store.enrollmentChallenges.consume('garbage'), { code: 'ERR_STORE_NOT_FOUND' });

  await assert.rejects(store.enrollmentChallenges.create({ nodeId: node.id, secretHash: new Uint8Array(8), ttlMs: 1000 }), { code: 'ERR_STORE_INVALID' });
  await assert.rejects(store.enrollmentChallenges.create({ nodeId: node.id, secretHash, ttlMs: 0 }), { code: 'ERR_STORE_INVALID' });
  await assert.rejects(store.enrollmentChallenges.create({ nodeId: '00000000-0000-4000-8000-000000000000', secretHash, ttlMs: 1000 }), {
    code: 'ERR_STORE_NOT_FOUND',
  });
  clock.advance(1);
  assert.equal(await store.enrollmentChallenges.prune(clock.now()), 2);
});

storeTest('an attestation session made by one replica is consumed by another, once; the nonce is 32 fresh bytes', async (_t, f) => {
  const clock = manualClock();
  const a = await f.open({ clock: clock.now });
  // On PostgreSQL a second store is a second replica; SQLite has one writer process, so its
  // "replicas" are concurrent requests in that process.
  const b = f.dialect === 'postgres' ? await f.open({ clock: clock.now }) : a;
  const node = await a.nodes.create(newNode());
  const selection = { sha256: [0, 1, 2, 3, 4, 5, 6, 7], sha384: [0] };
  const session = await a.attestationSessions.create({ nodeId: node.id, pcrSelection: selection, ttlMs: 60_000 });
  assert.equal(session.nonce.length, 32);
  const other = await a.attestationSessions.create({ nodeId: node.id, pcrSelection: selection, ttlMs: 60_000 });
  assert.notDeepEqual(other.nonce, session.nonce);
  const used = await b.attestationSessions.consume(session.id);
  assert.deepEqual(used.nonce, session.nonce);
  assert.deepEqual(used.pcrSelection, selection);
  await assert.rejects(a.attestationSessions.consume(session.id), { code: 'ERR_STORE_CONSUMED' });
  await assert.rejects(a.attestationSessions.create({ nodeId: node.id, pcrSelection: selection, ttlMs: 1000, nonce: new Uint8Array(16) }), {
    code: 'ERR_STORE_INVALID',
  });
});

storeTest('of many concurrent uses of one session, across replicas, exactly one succeeds', async (_t, f) => {
  const a = await f.open();
  const replicas = f.dialect === 'postgres' ? [a, await f.open(), await f.open()] : [a];
  const node = await a.nodes.create(newNode());
  for (let round = 0; round < 5; round++) {
    const session = await a.attestationSessions.create({ nodeId: node.id, pcrSelection: { sha256: [0] }, ttlMs: 60_000 });
    const challenge = await a.enrollmentChallenges.create({ nodeId: node.id, secretHash: new Uint8Array(32), ttlMs: 60_000 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => {
        const r = replicas[i % replicas.length]!;
        return i % 2 ? r.attestationSessions.consume(session.id) : r.enrollmentChallenges.consume(challenge.id);
      }),
    );
    const won = attempts.filter((x) => x.status === 'fulfilled');
    assert.equal(won.length, 2, 'one session and one challenge use succeed');
    for (const x of attempts) if (x.status === 'rejected') assert.equal((x.reason as { code: string }).code, 'ERR_STORE_CONSUMED');
  }
});
