// The admin API and its commands against a real server on both stores: bearer tokens and roles,
// revocation (appraised, released nothing) and unrevocation, the node listing, the event stream,
// policies with a dry run, recorded attestations replayed offline by `vouch policy test`, and
// `vouch audit verify` finding rows edited directly in the database.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { resumeEnrollment } from '../../src/agent/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { attestNode, boot, enrollNode, serverTest, simNode, type SimNode, type TestServer } from './helpers.ts';

/** Enrolls a node through the approval queue; returns its id. */
async function enrolled(s: TestServer, node: SimNode): Promise<string> {
  const queued = await enrollNode(s, node);
  assert.equal(queued.status, 'pending-approval');
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${queued.enrollmentId}/approve`, {})).status, 200);
  const done = await resumeEnrollment(s.client, node.tpm, node, queued.enrollmentId);
  assert.equal(done.status, 'enrolled');
  return (done as { nodeId: string }).nodeId;
}

async function token(s: TestServer, name: string, role: string): Promise<{ token: string; id: string }> {
  const r = await s.admin('POST', '/v1/admin/tokens', { name, role });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const body = r.body as { token: string; record: { id: string } };
  return { token: body.token, id: body.record.id };
}

const code = (r: { body: unknown }): string => (r.body as { code: string }).code;

serverTest('admin calls need a valid token of a sufficient role', async (_t, s) => {
  assert.equal(code(await s.admin('GET', '/v1/admin/nodes', undefined, null)), 'ERR_AUTH_TOKEN_MISSING');
  assert.equal(
    code(await s.admin('GET', '/v1/admin/nodes', undefined, 'vouch-admin.not-a-real-token-at-all-xxxxxxxxxxxxxxxxxxxxxxxx')),
    'ERR_AUTH_TOKEN_INVALID',
  );
  assert.equal(code(await s.admin('GET', '/v1/admin/nodes', undefined, 'Basic abc')), 'ERR_AUTH_TOKEN_INVALID');
  const viewer = await token(s, 'dashboard', 'viewer');
  const operator = await token(s, 'oncall', 'operator');
  assert.equal((await s.admin('GET', '/v1/admin/nodes', undefined, viewer.token)).status, 200);
  const forbidden = await s.admin('POST', '/v1/admin/policies', { text: 'rules: []' }, viewer.token);
  assert.equal(forbidden.status, 403);
  assert.equal(code(forbidden), 'ERR_AUTH_FORBIDDEN');
  assert.equal(code(await s.admin('POST', '/v1/admin/tokens', { name: 'x', role: 'admin' }, operator.token)), 'ERR_AUTH_FORBIDDEN');
  assert.equal(code(await s.admin('POST', `/v1/admin/nodes/${crypto.randomUUID()}/revoke`, {}, viewer.token)), 'ERR_AUTH_FORBIDDEN');
  assert.equal(code(await s.admin('POST', `/v1/admin/nodes/${crypto.randomUUID()}/revoke`, {}, operator.token)), 'ERR_NODE_UNKNOWN');
  // A revoked token stops working at once.
  assert.equal((await s.admin('POST', `/v1/admin/tokens/${viewer.id}/revoke`, {})).status, 200);
  assert.equal(code(await s.admin('GET', '/v1/admin/nodes', undefined, viewer.token)), 'ERR_AUTH_TOKEN_INVALID');
  // The CLI maps an authentication failure to exit code 4.
  const cli = await runVouch(['admin', 'nodes', 'list', '--server', s.url, '--token', viewer.token]);
  assert.equal(cli.code, 4, cli.stderr);
  assert.match(cli.stderr, /ERR_AUTH_TOKEN_INVALID/);
});

serverTest('a revoked node is appraised but released nothing; unrevoked, it is served again; the event stream shows each change', async (t, s) => {
  const node = await simNode(t, 'worker-r');
  const nodeId = await enrolled(s, node);
  const eventLog = await boot(s, node);
  assert.ok((await attestNode(s, node, nodeId, eventLog)).secrets);

  const controller = new AbortController();
  t.after(() => controller.abort());
  const stream = await fetch(`${s.url}/v1/admin/events`, { headers: { authorization: `Bearer ${s.adminToken}` }, signal: controller.signal });
  assert.equal(stream.headers.get('content-type'), 'text/event-stream');
  const events = stream.body as unknown as AsyncIterable<Uint8Array>;

  const revoke = await runVouch(['admin', 'nodes', 'revoke', nodeId, '--reason', 'disk swapped', '--server', s.url, '--token', s.adminToken, '--json']);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal((JSON.parse(revoke.stdout) as { result: { status: string } }).result.status, 'revoked');
  const refused = await attestNode(s, node, nodeId, eventLog);
  assert.equal(refused.response.status, 'affirming');
  assert.equal(refused.response.revoked, true);
  assert.equal(refused.secrets, undefined);
  assert.equal(refused.response.secrets, undefined);

  assert.equal((await s.admin('POST', `/v1/admin/nodes/${nodeId}/unrevoke`, {})).status, 200);
  assert.ok((await attestNode(s, node, nodeId, eventLog)).secrets);

  let text = '';
  for await (const chunk of events) {
    text += Buffer.from(chunk).toString('utf8');
    if (/event: node\.unrevoked/.test(text)) break;
  }
  controller.abort();
  const types = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(types, ['node.revoked', 'node.unrevoked']);
  assert.match(text, new RegExp(`"nodeId":"${nodeId}"`));

  const listed = await s.admin('GET', '/v1/admin/nodes?status=enrolled&search=worker-&sort=name&limit=1');
  assert.deepEqual(
    (listed.body as { items: { name: string }[] }).items.map((n) => n.name),
    ['worker-r'],
  );
});

serverTest('a policy is dry-run against recorded attestations, online and offline with vouch policy test', async (t, s) => {
  const node = await simNode(t, 'worker-p');
  const nodeId = await enrolled(s, node);
  const eventLog = await boot(s, node, { release: 'v1' });
  const attested = await attestNode(s, node, nodeId, eventLog);
  assert.equal(attested.response.status, 'affirming');
  const dir = await mkdtemp(join(tmpdir(), 'vouch-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const onlyV2 = join(dir, 'only-v2.yaml');
  await writeFile(onlyV2, 'rules:\n  - name: v2-only\n    expr: \'"v2" in refs.matchedReleases\'\n    message: the fleet runs v2 now\n');

  const connection = ['--server', s.url, '--token', s.adminToken];
  const dry = await runVouch(['admin', 'policies', 'dry-run', onlyV2, ...connection, '--json'], { cwd: dir });
  assert.equal(dry.code, 0, dry.stderr);
  const report = (JSON.parse(dry.stdout) as { result: { appraised: number; changed: number; outcomes: { before: string; after: string }[] } }).result;
  assert.deepEqual([report.appraised, report.changed, report.outcomes[0]?.before, report.outcomes[0]?.after], [1, 1, 'affirming', 'contraindicated']);

  const evidence = join(dir, 'evidence');
  await mkdir(evidence);
  const exported = await runVouch(['admin', 'results', 'export', attested.response.resultId, '--out', join(evidence, 'worker-p.json'), ...connection]);
  assert.equal(exported.code, 0, exported.stderr);
  const offline = await runVouch(['policy', 'test', onlyV2, '--evidence', evidence], { cwd: dir });
  assert.equal(offline.code, 3, offline.stderr);
  assert.match(offline.stdout, /worker-p {2}affirming -> contraindicated {2}\(changed\)/);
  assert.match(offline.stdout, /\[v2-only\]: the fleet runs v2 now/);
  const defaults = join(dir, 'default.yaml');
  await writeFile(defaults, ((await s.admin('GET', '/v1/admin/policies')).body as { items: { text: string }[] }).items[0]!.text);
  const same = await runVouch(['policy', 'test', defaults, '--evidence', evidence], { cwd: dir });
  assert.equal(same.code, 0, same.stdout + same.stderr);

  // Saved and activated, the policy refuses v1 at the next attestation.
  const set = await runVouch(['admin', 'policies', 'set', onlyV2, '--activate', ...connection], { cwd: dir });
  assert.equal(set.code, 0, set.stderr);
  const after = await attestNode(s, node, nodeId, eventLog);
  assert.equal(after.response.status, 'contraindicated');
  assert.deepEqual(
    after.response.reasons.map((r) => r.rule),
    ['v2-only'],
  );
});

serverTest('vouch audit verify finds an audit row edited directly in the database', async (t, s) => {
  const node = await simNode(t, 'worker-a');
  const nodeId = await enrolled(s, node);
  await attestNode(s, node, nodeId, await boot(s, node));
  const connection = ['--server', s.url, '--token', s.adminToken];
  const intact = await runVouch(['audit', 'verify', ...connection]);
  assert.equal(intact.code, 0, intact.stdout + intact.stderr);
  const anchor = /head (\d+:[0-9a-f]{64})/.exec(intact.stdout)?.[1];
  assert.ok(anchor);

  const db = s.server.store.kysely;
  for (const trigger of ['audit_log_no_update', 'audit_log_no_delete']) {
    await sql.raw(s.server.store.dialect === 'sqlite' ? `drop trigger ${trigger}` : `drop trigger ${trigger} on audit_log`).execute(db);
  }
  await sql`update audit_log set details = ${'{"status":"affirming"}'} where action = 'attestation.decision'`.execute(db);
  const damaged = await runVouch(['audit', 'verify', '--anchor', anchor, ...connection]);
  assert.equal(damaged.code, 3, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout, /edited at seq \d+/);
});
