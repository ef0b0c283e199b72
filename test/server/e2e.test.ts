// End to end over real sockets (127.0.0.1, port 0), on the embedded store and on PostgreSQL: the
// real protocol client and software TPMs enroll (approval queue, allowlist), boot a release with a
// real measured-boot log, attest, and decrypt their secrets; the EAR verifies with the published
// keys; problem documents, the OpenAPI document and body limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { resumeEnrollment } from '../../src/agent/index.ts';
import { ProtocolError } from '../../src/protocol/index.ts';
import { allowlisting, attestNode, boot, enrollNode, serverTest, simNode, startTestServer, DIALECTS } from './helpers.ts';

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e;
  }
  assert.fail('expected a refusal');
}

serverTest('a queued node is approved, activates its AK, attests and decrypts its disk key and join token', async (t, s) => {
  const node = await simNode(t, 'worker-1');
  const queued = await enrollNode(s, node);
  assert.equal(queued.status, 'pending-approval');
  const approvals = await s.admin('GET', '/v1/admin/approvals');
  assert.equal(approvals.status, 200);
  const [waiting] = (approvals.body as { items: { id: string; name: string }[] }).items;
  assert.equal(waiting?.name, 'worker-1');
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${waiting.id}/approve`, { reason: 'racked by ops' })).status, 200);
  const enrolled = await resumeEnrollment(s.client, node.tpm, node, queued.enrollmentId);
  assert.equal(enrolled.status, 'enrolled');
  const nodeId = (enrolled as { nodeId: string }).nodeId;

  const eventLog = await boot(s, node, { release: 'v1' });
  const first = await attestNode(s, node, nodeId, eventLog);
  assert.equal(first.response.status, 'affirming', JSON.stringify(first.response.reasons));
  assert.ok(first.secrets);
  assert.equal(Buffer.from(first.secrets.diskKey, 'base64url').length, 32);
  const join = first.secrets.join;
  assert.equal(join?.kind, 'kubeadm-bootstrap-token');
  assert.match(join.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  assert.match(join.secretManifest, new RegExp(`name: bootstrap-token-${join.token.slice(0, 6)}`));
  assert.match(join.secretManifest, /auth-extra-groups: system:bootstrappers:kubeadm:default-node-token/);

  // The EAR verifies with the published key set and says what the server decided.
  const jwks = (await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as Parameters<typeof createLocalJWKSet>[0];
  const { payload, protectedHeader } = await jwtVerify(first.response.result, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.sub, nodeId);
  const submod = (payload.submods as Record<string, Record<string, unknown>>)['vouch-node']!;
  assert.equal(submod['ear.status'], 'affirming');
  assert.deepEqual(submod['vouch.matched-releases'], ['v1']);
  assert.equal(typeof payload.eat_nonce, 'string');
  assert.ok(typeof payload.exp === 'number' && payload.exp > (payload.iat ?? 0));

  // Every attestation gets the same disk key and a fresh join token.
  const second = await attestNode(s, node, nodeId, eventLog);
  assert.ok(second.secrets);
  assert.equal(second.secrets.diskKey, first.secrets.diskKey);
  assert.notEqual((second.secrets.join as { token: string }).token, join.token);

  const detail = await s.admin('GET', `/v1/admin/nodes/${nodeId}`);
  const body = detail.body as {
    node: { status: string; currentRelease: string; lastAttestationStatus: string };
    timeline: { action: string }[];
    results: unknown[];
  };
  assert.equal(body.node.status, 'enrolled');
  assert.equal(body.node.currentRelease, 'v1');
  assert.equal(body.results.length, 2);
  const actions = body.timeline.map((e) => e.action);
  for (const a of ['node.pending-approval', 'node.approved', 'node.enrolled', 'attestation.decision', 'secrets.released'])
    assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
});

for (const dialect of DIALECTS) {
  test(`an allowlisted EK enrolls by credential activation alone; an unknown EK is refused without a queue [${dialect}]`, async (t) => {
    const listed = await simNode(t, 'listed', 'rsa');
    const stranger = await simNode(t, 'stranger');
    const s = await startTestServer(t, dialect, {
      document: { enrollment: { ...allowlisting(listed).enrollment, approvalQueue: false } },
    });
    if (!s) return;
    const outcome = await enrollNode(s, listed);
    assert.equal(outcome.status, 'enrolled');
    const eventLog = await boot(s, listed, { release: 'v2' });
    const attested = await attestNode(s, listed, (outcome as { nodeId: string }).nodeId, eventLog);
    assert.equal(attested.response.status, 'affirming', JSON.stringify(attested.response.reasons));
    assert.ok(attested.secrets);

    const refused = await refusal(enrollNode(s, stranger));
    assert.equal(refused.code, 'ERR_ENROLL_EK_UNTRUSTED');
    assert.match(refused.message, /no approval queue/);
  });
}

serverTest('problem documents name the field; bodies over the limit are refused; OpenAPI and JWKS are served', async (_t, s) => {
  const post = (path: string, body: string) => fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const missing = await post('/v1/enroll', JSON.stringify({ ekPublic: 'AA', akPublic: 'AA' }));
  assert.equal(missing.status, 400);
  assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const problem = (await missing.json()) as { code: string; detail: string };
  assert.equal(problem.code, 'ERR_REQUEST_INVALID');
  assert.match(problem.detail, /hostname/);

  const extra = (await (await post('/v1/attest/challenge', JSON.stringify({ nodeId: crypto.randomUUID(), admin: true }))).json()) as {
    code: string;
    detail: string;
  };
  assert.equal(extra.code, 'ERR_REQUEST_INVALID');
  assert.match(extra.detail, /admin/);

  const notJson = (await (await post('/v1/attest', '{"sessionId":')).json()) as { code: string };
  assert.equal(notJson.code, 'ERR_REQUEST_INVALID');

  const huge = await post('/v1/attest', JSON.stringify({ eventLog: 'A'.repeat(1024 * 1024 + 1) }));
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as { code: string }).code, 'ERR_REQUEST_TOO_LARGE');

  const unknown = (await (await post('/v1/attest/challenge', JSON.stringify({ nodeId: crypto.randomUUID() }))).json()) as { code: string };
  assert.equal(unknown.code, 'ERR_NODE_UNKNOWN');

  const openapi = (await (await fetch(`${s.url}/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  assert.equal(openapi.openapi, '3.1.0');
  for (const path of ['/v1/enroll', '/v1/enroll/{id}/activate', '/v1/attest/challenge', '/v1/attest', '/v1/admin/nodes', '/.well-known/jwks.json']) {
    assert.ok(openapi.paths[path], `${path} in the OpenAPI document`);
  }
  const jwks = (await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as { keys: { kty: string; crv: string; alg: string; d?: string }[] };
  assert.equal(jwks.keys.length, 1);
  assert.deepEqual([jwks.keys[0]!.kty, jwks.keys[0]!.crv, jwks.keys[0]!.alg, jwks.keys[0]!.d], ['EC', 'P-256', 'ES256', undefined]);
});
