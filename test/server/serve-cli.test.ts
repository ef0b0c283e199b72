// `vouch serve` as a process: a first start on an empty data directory makes the master key file
// (0600), prints the admin token once and serves health, readiness, metrics and the admin API;
// SIGTERM drains it and it exits 0; a second start keeps everything and prints no token.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { repoRoot } from '../helpers/cli.ts';

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token?: string;
  readonly exit: Promise<number | null>;
}

/** Starts bin/vouch.js serve and waits for the line naming its URL. */
function serve(t: TestContext, args: readonly string[]): Promise<Served> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/vouch.js'), 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '' },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stderr = '';
    let token: string | undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      token ??= /initial admin token \(shown once, store it now\): (\S+)/.exec(stderr)?.[1];
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) resolve({ child, url, exit, ...(token ? { token } : {}) });
    });
    void exit.then((code) => reject(new Error(`vouch serve exited ${code}: ${stderr}`)));
  });
}

test('vouch serve: first start makes its defaults, serves, drains on SIGTERM; a restart keeps them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-serve-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const first = await serve(t, ['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  assert.ok(first.token, 'the first start prints the admin token');
  assert.equal(statSync(join(dataDir, 'master.key')).mode & 0o777, 0o600);
  assert.deepEqual(await (await fetch(`${first.url}/healthz`)).json(), { ok: true });
  assert.deepEqual(await (await fetch(`${first.url}/readyz`)).json(), { ok: true });
  const metrics = await (await fetch(`${first.url}/metrics`)).text();
  assert.match(metrics, /vouch_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
  const policies = await fetch(`${first.url}/v1/admin/policies`, { headers: { authorization: `Bearer ${first.token}` } });
  assert.equal(policies.status, 200);
  const [policy] = ((await policies.json()) as { items: { active: boolean; description: string }[] }).items;
  assert.deepEqual([policy?.active, policy?.description], [true, 'the default policy']);

  first.child.kill('SIGTERM');
  assert.equal(await first.exit, 0);

  const second = await serve(t, ['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  assert.equal(second.token, undefined, 'the token is printed on the first start only');
  const again = await fetch(`${second.url}/v1/admin/nodes`, { headers: { authorization: `Bearer ${first.token}` } });
  assert.equal(again.status, 200);
  second.child.kill('SIGTERM');
  assert.equal(await second.exit, 0);
});
