// The protocol client against real HTTP servers on 127.0.0.1 (port 0): problem documents become the
// server's error codes, anything else is ERR_CLIENT_RESPONSE, an unreachable server or an endless
// answer is bounded; and the retry schedule is capped exponential with full jitter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VouchClient, backoffMs, withRetry } from '../../src/agent/index.ts';
import { ProtocolError } from '../../src/protocol/index.ts';

async function serve(t: import('node:test').TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.code;
  }
}

test('a problem document becomes the error its code names; a bad answer is ERR_CLIENT_RESPONSE', async (t) => {
  const url = await serve(t, (req, res) => {
    if (req.url === '/v1/attest/challenge') {
      res.writeHead(403, { 'content-type': 'application/problem+json', 'retry-after': '7' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'node revoked', code: 'ERR_NODE_REVOKED' }));
    } else if (req.url === '/v1/enroll') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ enrollmentId: 'not-a-uuid', status: 'enrolled' }));
    } else {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<h1>oops</h1>');
    }
  });
  const client = new VouchClient({ server: url });
  try {
    await client.challenge('7b0a0f4e-4c39-4d4e-9d23-0f3f0b1f5d6e');
    assert.fail('refused');
  } catch (e) {
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.code, 'ERR_NODE_REVOKED');
    assert.equal(e.message, 'node revoked');
    assert.deepEqual(e.details, { status: 403, retryAfterSeconds: 7 });
  }
  assert.equal(await code(client.enroll({ ekPublic: '', akPublic: '', hostname: 'n' })), 'ERR_CLIENT_RESPONSE');
  assert.equal(await code(client.attest({} as never)), 'ERR_CLIENT_RESPONSE');
});

test('an unreachable server, an endless answer and a silent server are bounded', async (t) => {
  const closed = await serve(t, () => undefined);
  const port = new URL(closed).port;
  // Nothing listens on a port taken from a server that then closed.
  const gone = await new Promise<string>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(`http://127.0.0.1:${p}`));
    });
  });
  assert.equal(await code(new VouchClient({ server: gone }).challenge('x')), 'ERR_CLIENT_UNREACHABLE');
  assert.equal(await code(new VouchClient({ server: `http://127.0.0.1:${port}`, timeoutMs: 200 }).challenge('x')), 'ERR_CLIENT_UNREACHABLE');
  const flood = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1 << 20, 0x20);
    const write = (): void => {
      while (res.write(chunk)) if (res.destroyed) return;
      res.once('drain', write);
    };
    write();
  });
  assert.equal(await code(new VouchClient({ server: flood }).challenge('x')), 'ERR_CLIENT_RESPONSE');
  assert.equal(await code(Promise.resolve().then(() => new VouchClient({ server: 'not a url' }))), 'ERR_CLIENT_UNREACHABLE');
});

test('backoff: capped exponential with full jitter, Retry-After as a floor; only transient errors retry', async () => {
  const options = { baseMs: 100, capMs: 10_000, random: () => 0.999 };
  assert.deepEqual(
    [0, 1, 2, 3, 10, 40].map((n) => backoffMs(n, options)),
    [99, 199, 399, 799, 9990, 9990],
  );
  assert.equal(backoffMs(0, { ...options, random: () => 0 }), 0, 'full jitter reaches zero');
  assert.equal(backoffMs(0, options, 30), 30_000, 'Retry-After is a floor');

  const waits: number[] = [];
  let calls = 0;
  const retried = await withRetry(
    () => {
      calls++;
      if (calls < 4) return Promise.reject(new ProtocolError('ERR_CLIENT_UNREACHABLE', 'down'));
      return Promise.resolve('up');
    },
    { ...options, random: () => 0.5, attempts: Infinity, sleep: (ms) => (waits.push(ms), Promise.resolve()) },
  );
  assert.equal(retried, 'up');
  assert.deepEqual(waits, [50, 100, 200]);
  let refused = 0;
  await assert.rejects(
    withRetry(
      () => {
        refused++;
        return Promise.reject(new ProtocolError('ERR_NODE_REVOKED', 'revoked'));
      },
      { ...options, attempts: 10, sleep: () => Promise.resolve() },
    ),
    { code: 'ERR_NODE_REVOKED' },
  );
  assert.equal(refused, 1, 'a refusal is final');
  await assert.rejects(
    withRetry(() => Promise.reject(new ProtocolError('ERR_SERVER_UNAVAILABLE', 'draining')), { ...options, attempts: 3, sleep: () => Promise.resolve() }),
    { code: 'ERR_SERVER_UNAVAILABLE' },
  );
});
