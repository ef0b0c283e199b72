// `npx vouch …` as the README shows it, run from the checkout by the system's npm, which runs on the
// system's Node (Debian 12's is older than 24) while Vouch runs on the Node 24 that the `node`
// dependency installs. The user must see Vouch's output only: no npm warnings (EBADENGINE) first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { tempDir } from '../tpm/cli-helpers.ts';

/** PATH as a user's shell has it: without this checkout's node_modules/.bin (and so without Node 24). */
const systemPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

test('npx vouch --help prints only Vouch output, on the first run of a checkout and after', async (t) => {
  if (!peer(t, 'npx')) return;
  // A fresh npm cache: the first `npx vouch` links the checkout into npx's cache, which is where npm
  // checked package.json's engines against its own Node and warned. The log level is npm's default,
  // so no user configuration can hide a warning from this test.
  const env = { PATH: systemPath, HOME: process.env.HOME ?? tmpdir(), npm_config_cache: await tempDir(t, 'vouch-npm-cache-'), npm_config_loglevel: 'notice' };
  for (const run of ['first', 'second']) {
    const r = spawnSync('npx', ['vouch', '--help'], { cwd: repoRoot, env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${run} run: ${r.stderr}`);
    assert.equal(r.stderr, '', `${run} run printed to stderr`);
    assert.match(r.stdout, /^usage: vouch <command>/, `${run} run`);
  }
});

test('bin/vouch.js started by a Node older than 24 says which Node to use, in one line', (t) => {
  const node = spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: systemPath }, encoding: 'utf8' }).stdout.trim();
  if (!node) {
    t.skip('no system Node besides the pinned one');
    return;
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (Number(/^v(\d+)/.exec(version)?.[1]) >= 24) {
    t.skip(`the system Node is ${version}: nothing to refuse`);
    return;
  }
  const r = spawnSync(node, [join(repoRoot, 'bin/vouch.js'), '--help'], { cwd: repoRoot, env: {}, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^vouch: ERR_CLI_RUNTIME: Vouch runs on Node.js 24 or later, this is ${version} .*npx vouch.*\\n$`));
});
