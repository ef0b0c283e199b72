// Operations on a running server (both stores): rate limits kept in the database, webhooks signed
// and retried on node status changes, the stale sweep of silent nodes, metrics of verdicts and
// releases, readiness, and logs that never carry a token, key or secret.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resumeEnrollment } from '../../src/agent/index.ts';
import { ProtocolError } from '../../src/protocol/index.ts';
import { buildApp } from '../../src/server/app.ts';
import { openServer, serverLogger } from '../../src/server/server.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { attestNode, boot, enrollNode, serverTest, simNode, DIALECTS, startTestServer, type SimNode, type TestServer } from './helpers.ts';
import { manualClock } from '../store/harness.ts';

async function enrolled(s: TestServer, node: SimNode): Promise<string> {
  const queued = await enrollNode(s, node);
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${queued.enrollmentId}/approve`, {})).status, 200);
  return ((await resumeEnrollment(s.client, node.tpm, node, queued.enrollmentId)) as { nodeId: string }).nodeId;
}

serverTest('logs are JSON lines that carry no token, key or secret', async (t, s) => {
  const node = await simNode(t, 'worker-l');
  const nodeId = await enrolled(s, node);
  const outcome = await attestNode(s, node, nodeId, await boot(s, node));
  assert.ok(outcome.secrets?.join?.kind === 'kubeadm-bootstrap-token');
  const viewer = (await s.admin('POST', '/v1/admin/tokens', { name: 'viewer', role: 'viewer' })).body as { token: string };
  await s.admin('GET', '/v1/admin/nodes', undefined, viewer.token);
  await s.admin('GET', '/v1/admin/nodes', undefined, 'vouch-admin.wrong-token-wrong-token-wrong-token-wrong-tok');
  // A request that fails inside a handler is logged with its cause; its body must still not be.
  await fetch(`${s.url}/v1/attest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sessionId: crypto.randomUUID() }),
  });

  assert.ok(s.log.lines.length > 5);
  for (const line of s.log.lines) assert.doesNotThrow(() => JSON.parse(line), line);
  const all = s.log.lines.join('\n');
  const secrets = {
    adminToken: s.adminToken,
    viewerToken: viewer.token,
    diskKey: outcome.secrets.diskKey,
    bootstrapToken: outcome.secrets.join.token,
    bootstrapSecret: outcome.secrets.join.token.split('.')[1]!,
    jwe: outcome.response.secrets!,
  };
  for (const [name, value] of Object.entries(secrets)) assert.ok(!all.includes(value), `${name} appears in the log`);
  assert.match(all, /"reqId":"[0-9a-f-]{36}"/);
});

serverTest(
  'rate limits per node and per address are kept in the database',
  async (t, s) => {
    const node = await simNode(t, 'worker-rl');
    const nodeId = await enrolled(s, node);
    await s.client.challenge(nodeId);
    await s.client.challenge(nodeId);
    try {
      await s.client.challenge(nodeId);
      assert.fail('the third challenge within a minute is over the limit');
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, 'ERR_RATE_LIMITED');
      assert.ok(((e.details as { retryAfterSeconds?: number }).retryAfterSeconds ?? 0) >= 1);
    }
    // The address limit counts every node-facing request from 127.0.0.1: enroll, poll, activate and
    // three challenges so far, four more reach the limit, the next is over it.
    for (let i = 0; i < 4; i++) await fetch(`${s.url}/v1/enroll/${crypto.randomUUID()}`);
    const over = await fetch(`${s.url}/v1/enroll/${crypto.randomUUID()}`);
    assert.equal(over.status, 429);
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    // The admin API has no address limit of the node protocol.
    assert.equal((await s.admin('GET', '/v1/admin/nodes')).status, 200);
  },
  // A clock that stands still: no window boundary passes during the test.
  {
    clock: manualClock(Date.now()).now,
    document: { limits: { perNode: { requests: 2, windowSeconds: 60 }, perAddress: { requests: 10, windowSeconds: 60 } } },
  },
);

interface Delivery {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

for (const dialect of DIALECTS) {
  test(`webhooks receive signed node events, retried until delivered; the stale sweep marks silent nodes once; metrics count verdicts [${dialect}]`, async (t) => {
    const deliveries: Delivery[] = [];
    let failuresLeft = 2;
    let delivered: () => void = () => undefined;
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (failuresLeft-- > 0) {
          res.writeHead(503).end();
          return;
        }
        deliveries.push({ headers: req.headers, body });
        res.writeHead(204).end();
        delivered();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

    const clock = manualClock(Date.now());
    const s = await startTestServer(t, dialect, { clock: clock.now, document: { attestation: { staleAfterSeconds: 600 } } });
    if (!s) return;
    const hook = await s.admin('POST', '/v1/admin/webhooks', {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/vouch`,
      events: ['node.revoked', 'node.stale'],
    });
    assert.equal(hook.status, 200, JSON.stringify(hook.body));
    const key = Buffer.from((hook.body as { secret: string }).secret, 'base64url');

    const node = await simNode(t, 'worker-w');
    const nodeId = await enrolled(s, node);
    const eventLog = await boot(s, node);
    await attestNode(s, node, nodeId, eventLog);
    const first = new Promise<void>((resolve) => (delivered = resolve));
    assert.equal((await s.admin('POST', `/v1/admin/nodes/${nodeId}/revoke`, { reason: 'test' })).status, 200);
    await first;
    const [delivery] = deliveries;
    assert.ok(delivery);
    assert.equal(delivery.headers['vouch-event'], 'node.revoked');
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(delivery.headers['vouch-signature']));
    assert.ok(signature);
    assert.equal(signature[2], createHmac('sha256', key).update(`${signature[1]}.${delivery.body}`).digest('hex'));
    assert.deepEqual(
      [(JSON.parse(delivery.body) as { nodeId: string; status: string }).nodeId, (JSON.parse(delivery.body) as { status: string }).status],
      [nodeId, 'revoked'],
    );

    // Silent for longer than staleAfterSeconds: marked once, however often the sweep runs.
    assert.equal((await s.admin('POST', `/v1/admin/nodes/${nodeId}/unrevoke`, {})).status, 200);
    clock.advance(601_000);
    const stale = new Promise<void>((resolve) => (delivered = resolve));
    assert.equal(await s.server.staleSweep.sweep(), 1);
    assert.equal(await s.server.staleSweep.sweep(), 0);
    await stale;
    assert.equal(deliveries.at(-1)?.headers['vouch-event'], 'node.stale');
    const detail = (await s.admin('GET', `/v1/admin/nodes/${nodeId}`)).body as { node: { stale: boolean } };
    assert.equal(detail.node.stale, true);
    // Its next attestation clears the mark.
    await attestNode(s, node, nodeId, eventLog);
    assert.equal(((await s.admin('GET', `/v1/admin/nodes/${nodeId}`)).body as { node: { stale: boolean } }).node.stale, false);

    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /vouch_attestations_total\{status="affirming"\} 2/);
    assert.match(metrics, /vouch_releases_total 2/);
    assert.match(metrics, /vouch_appraisal_seconds_count 2/);
    assert.match(metrics, /vouch_webhook_deliveries_total\{outcome="failed"\} 2/);
  });
}

test('readiness answers 503 when the database is gone, while liveness still answers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-ready-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opened = await openServer(resolveConfig({}, { dataDir: join(dir, 'data') }), { log: serverLogger('silent') });
  const app = await buildApp(opened.ctx);
  t.after(() => app.close());
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  await opened.close();
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json<{ code: string }>().code, 'ERR_SERVER_UNAVAILABLE');
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});
