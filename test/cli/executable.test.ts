// The single executable (scripts/build-executable.ts), built once for this file into a temporary
// directory and run as a node's initramfs runs it: by absolute path, with an empty environment, so
// there is no PATH and no Node.js to fall back on. It must do what the agent needs at boot (event
// log replay, quotes through the in-process sim:, swtpm and device transports, node:crypto) and
// must not run code injected through NODE_OPTIONS.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExecutable, type BuiltExecutable } from '../../scripts/build-executable.ts';
import { repoRoot, runVouch } from '../helpers/cli.ts';
import { findTool, peer } from '../helpers/peers.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { tempDir } from '../tpm/cli-helpers.ts';

const realLog = 'test/vectors/eventlogs/debian-10.bin';
const expectedPcrs = 'test/vectors/eventlogs/expected-pcrs.json';

let buildDir = '';
let built: BuiltExecutable | undefined;

before(
  async () => {
    if (!findTool('strip')) return;
    buildDir = await mkdtemp(join(tmpdir(), 'vouch-executable-'));
    built = await buildExecutable(buildDir);
  },
  { timeout: 600_000 },
);

after(async () => {
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

/** The built executable, or undefined when the build's peer (strip, from binutils) is missing. */
function executable(t: TestContext): string | undefined {
  if (!peer(t, 'strip')) return undefined;
  assert.ok(built, 'the executable was not built');
  return built.executable;
}

/** Runs the executable with an empty environment unless one is given. */
function runExecutable(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(file, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? {}, encoding: 'utf8' });
}

test('--help, with an empty environment', (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const r = runExecutable(vouch, ['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^usage: vouch <command>/);
  assert.match(r.stdout, /eventlog replay/);
});

test('eventlog replay of a real log: every PCR as quoted, the same output as bin/vouch.js', async (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const args = ['eventlog', 'replay', realLog, '--expect', expectedPcrs];
  const r = runExecutable(vouch, args);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /all expected PCRs match/);
  const reference = await runVouch(args);
  assert.equal(r.stdout, reference.stdout);
  const json = runExecutable(vouch, [...args, '--json']);
  assert.equal(json.stdout, (await runVouch([...args, '--json'])).stdout);
});

/** `tpm ak create` and `tpm quote` by the executable; the quote checked by vouch in-process and by tpm2_checkquote. */
async function quoteAndCheck(t: TestContext, vouch: string, tpm: string, dir: string): Promise<void> {
  const ak = join(dir, 'ak');
  const q = join(dir, 'q');
  const created = runExecutable(vouch, ['tpm', 'ak', 'create', '--tpm', tpm, '--out', ak]);
  assert.equal(created.status, 0, created.stderr);
  const quoted = runExecutable(vouch, ['tpm', 'quote', '--tpm', tpm, '--ak', ak, '--nonce', '00112233', '--pcrs', 'sha256:0,1,2,3,4,5,6,7', '--out', q]);
  assert.equal(quoted.status, 0, quoted.stderr);
  const files = ['--msg', join(q, 'quote.msg'), '--sig', join(q, 'quote.sig'), '--pcrs', join(q, 'quote.pcrs')];
  const verified = await runVouch(['verify', 'quote', '--ak', ak, ...files, '--nonce', '00112233']);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  const checkquote = peer(t, 'tpm2_checkquote');
  if (!checkquote) return;
  const checked = spawnSync(
    checkquote,
    ['-u', join(ak, 'ak.pub.pem'), '-m', join(q, 'quote.msg'), '-s', join(q, 'quote.sig'), '-f', join(q, 'quote.pcrs'), '-g', 'sha256', '-q', '00112233'],
    { encoding: 'utf8' },
  );
  assert.equal(checked.status, 0, checked.stderr);
}

test('tpm ak create and tpm quote on the in-process software TPM (sim:), accepted by tpm2_checkquote', async (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const dir = await tempDir(t, 'vouch-executable-run-');
  await quoteAndCheck(t, vouch, `sim:${join(dir, 'node.tpm')}`, dir);
});

test('tpm ak create and tpm quote on swtpm over TCP, accepted by tpm2_checkquote', async (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm) return;
  t.after(() => swtpm.stop());
  await quoteAndCheck(t, vouch, swtpm.uri!, await tempDir(t, 'vouch-executable-run-'));
});

test('the device: transport is inside: a missing device is a typed transport error naming it', (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const r = runExecutable(vouch, ['tpm', 'info', '--tpm', 'device:/nonexistent/tpmrm0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^vouch: ERR_TPM_TRANSPORT: .*\/nonexistent\/tpmrm0/);
});

test('NODE_OPTIONS=--require=evil.js does not run evil.js, and Node options given as arguments are only arguments', async (t) => {
  const vouch = executable(t);
  if (!vouch) return;
  const dir = await tempDir(t, 'vouch-executable-run-');
  const marker = join(dir, 'evil-ran');
  const evil = join(dir, 'evil.js');
  await writeFile(evil, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
  const injected = { NODE_OPTIONS: `--require=${evil}` };

  // The payload works: plain Node runs it.
  spawnSync(process.execPath, ['-e', '0'], { env: injected });
  assert.ok(existsSync(marker), 'the attack payload does not work on Node itself');
  await rm(marker);

  const r = runExecutable(vouch, ['--help'], { env: injected });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(marker), false, 'the executable ran code from NODE_OPTIONS');
  const asArguments = runExecutable(vouch, ['--require', evil, 'eventlog', 'show']);
  assert.equal(asArguments.status, 1);
  assert.match(asArguments.stderr, /ERR_CLI_USAGE/);
  assert.equal(existsSync(marker), false, 'the executable took --require from its arguments');
});

test('the bundle holds the software TPM and no server-side module', (t) => {
  if (!executable(t)) return;
  const inputs = built!.bundleInputs;
  assert.ok(inputs.includes('src/tpm/sim/index.ts'));
  assert.ok(inputs.includes('src/cli/commands/standalone.ts'));
  assert.deepEqual(
    inputs.filter((i) => /node_modules\/(pkcs11js|pg|fastify|kysely|prom-client)\/|^src\/(server|store|web)\//.test(i)),
    [],
  );
});
