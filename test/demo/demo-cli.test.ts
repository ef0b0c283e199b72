// `vouch demo` end to end against a real `vouch serve` on 127.0.0.1 (port 0) over HTTP: with
// --exit it exits 0 only when every expectation held — good nodes decrypted their secrets and hold
// the disk key the server sealed, each tampered node was refused for its own reason — and the
// evidence it keeps is accepted by the real peers (tpm2_checkquote, tpm2_eventlog, fsck.erofs) and
// by vouch's own re-check commands. Without --exit it keeps serving until SIGINT.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonError, JsonResult } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import type { DemoResult, WrittenArtifacts } from '../../src/demo/index.ts';
import { SECRET_NAMES } from '../../src/broker/index.ts';
import { openStore, type AuditEntry } from '../../src/store/index.ts';
import { SYSTEMD_STUB, repoRoot, requireStub, vouch } from './helpers.ts';

type DemoJson = DemoResult & { artifacts: WrittenArtifacts };

let dataDir = '';
let run: DemoJson | undefined;
let exitCode: number | undefined;

before(async () => {
  if (!existsSync(SYSTEMD_STUB)) return;
  dataDir = await mkdtemp(join(tmpdir(), 'vouch-demo-test-'));
  const { code, stdout, stderr } = await vouch(['demo', '--exit', '--json', '--seed', 'test-seed', '--data-dir', dataDir]);
  exitCode = code;
  const parsed = JSON.parse(stdout) as { result: DemoJson; error: unknown };
  assert.equal(parsed.error, null, stderr);
  run = parsed.result;
});

after(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const reasonsOf = (node: DemoJson['fleet'][number]): string[] =>
  (node.verdict?.reasons ?? []).filter((r) => r.reason !== 'policy-failed').map((r) => `${r.reason}${r.pcr === undefined ? '' : `@${r.pcr}`}`);

test('demo --exit: every expectation held, so it exits 0; each node got exactly its verdict over HTTP', (t) => {
  if (!requireStub(t) || !run) return;
  assert.equal(exitCode, 0, JSON.stringify(run.fleet.map((n) => n.unmet)));
  assert.match(run.server.url, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
  assert.deepEqual(
    run.fleet.map((n) => [n.node, n.ekAlg, n.release, n.tamper, n.status, n.verdict?.matchedReleases, n.unmet]),
    [
      ['node-1', 'rsa', 'v1', null, 'affirming', ['v1'], []],
      ['node-2', 'ecc', 'v1', null, 'affirming', ['v1'], []],
      ['node-3', 'rsa', 'v2', null, 'affirming', ['v2'], []],
      ['node-4', 'ecc', 'v1', 'tampered-cmdline', 'contraindicated', [], []],
      ['node-5', 'rsa', 'v1', 'unlisted-signer', 'contraindicated', [], []],
      ['node-6', 'ecc', 'v1', 'edited-log', 'contraindicated', [], []],
    ],
  );
  assert.equal(new Set(run.fleet.map((n) => n.nodeId)).size, 6, 'each node has its own id');
  for (const n of run.fleet) assert.ok(n.earVerified, `${n.node}: its EAR verifies with /.well-known/jwks.json`);
  const [n1, n2, n3, n4, n5, n6] = run.fleet;
  for (const healthy of [n1!, n2!, n3!]) {
    assert.deepEqual(healthy.reasons, []);
    assert.deepEqual(healthy.secrets, { decrypted: true, diskKeyMatches: true, join: 'kubeadm-bootstrap-token' });
  }
  for (const refused of [n4!, n5!, n6!]) assert.equal(refused.secrets, undefined, `${refused.node} received nothing`);
  assert.equal(n3!.verdict?.composefsRelease, 'v2');

  // Tampered command line: the claim (composefs digest of an unreleased image) and both PCRs that carry it.
  assert.deepEqual(reasonsOf(n4!), ['unknown-root-image@12', 'pcr-not-in-reference@9', 'pcr-not-in-reference@12']);
  assert.equal(n4!.verdict?.claims?.composefsDigest, run.unreleasedImage.composefsDigest);
  const pcr12 = n4!.verdict.reasons.find((r) => r.pcr === 12 && r.reason === 'pcr-not-in-reference')!;
  assert.match(pcr12.differences![0]!.expected!.description, new RegExp(`composefs=${run.releases[0]!.composefsDigest}`));
  assert.match(pcr12.differences![0]!.actual!.description, new RegExp(`composefs=${run.unreleasedImage.composefsDigest}`));
  // The policy imported through the admin API says the same in its own words.
  assert.ok(n4!.reasons.some((r) => r.reason === 'policy-failed' && r.rule === 'released-root-image'));

  // Unlisted signer: PCR 7 only; the db variable and the authority event name the signer.
  assert.deepEqual(reasonsOf(n5!), ['pcr-not-in-reference@7']);
  const differences = n5!.verdict!.reasons[0]!.differences!;
  assert.deepEqual(
    differences.map((d) => d.actual!.type),
    ['EV_EFI_VARIABLE_DRIVER_CONFIG', 'EV_EFI_VARIABLE_AUTHORITY'],
  );
  for (const d of differences) {
    assert.deepEqual(d.expected!.certificates, ['O=Vouch Demo, CN=Vouch Demo Secure Boot Signer']);
    assert.deepEqual(d.actual!.certificates, ['O=Vouch Demo, CN=Unlisted Signer (not in db)']);
  }

  // Edited log: it no longer replays to the quote, and nothing is claimed from the PCRs it lies about.
  assert.deepEqual(reasonsOf(n6!), ['log-does-not-replay@9', 'log-does-not-replay@12', 'pcr-not-in-reference@9', 'pcr-not-in-reference@12']);
  assert.equal(n6!.verdict?.claims?.kernelCmdline, undefined, 'PCRs 9 and 12 do not replay: the command line is no claim');
  assert.equal(n6!.verdict?.claims?.composefsDigest, undefined);
  assert.deepEqual(run.summary, { nodes: 6, affirming: 3, contraindicated: 3, keysReleased: 3, asExpected: 6 });
  assert.deepEqual(run.store, { objects: 8, problems: 0 });
});

test('demo --data-dir: the server store it keeps holds each decision and release once, in an intact audit chain', async (t) => {
  if (!requireStub(t) || !run) return;
  const store = await openStore({ dataDir: join(dataDir, 'server') });
  try {
    const entries: AuditEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.audit.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
      entries.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const count = (action: string, subject?: string): number =>
      entries.filter((e) => e.action === action && (subject === undefined || e.subject === subject)).length;
    for (const node of run.fleet) {
      assert.equal(count('node.enrolled', node.nodeId), 1, node.node);
      assert.equal(count('attestation.decision', node.nodeId), 1, node.node);
      assert.equal(count('secrets.released', node.nodeId), node.tamper === null ? 1 : 0, node.node);
      assert.equal((await store.secrets.get(node.nodeId!, SECRET_NAMES.luksKey))?.version, 1, `${node.node}: one disk key, never a second`);
    }
    assert.equal(count('reference-set.imported'), 2);
    assert.equal(count('policy.created'), 1);
    const verified = await store.audit.verify({ anchors: [] });
    assert.equal(verified.ok, true, JSON.stringify(verified.problems));
  } finally {
    await store.close();
  }
});

test('demo text output: the fleet table with the secrets each node received, and each refusal with its reasons', async (t) => {
  if (!requireStub(t)) return;
  const { code, stdout } = await vouch(['demo', '--exit', '--seed', 'text', '--fleet', '5']);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^NODE +EK +IMAGE +VERDICT +SECRETS +FIRST REASON$/m);
  assert.match(stdout, /^node-1 +RSA-2048 +v1 +affirming +disk key \+ join token +-$/m);
  assert.match(stdout, /^node-3 +RSA-2048 +v2 +affirming +disk key \+ join token +-$/m);
  assert.match(
    stdout,
    /^node-5 +RSA-2048 +none \(nearest v1\) +contraindicated +none +PCR 7 differs from the reference \(signer Unlisted Signer \(not in db\)\)$/m,
  );
  assert.match(stdout, /^node-4: contraindicated/m);
  assert.match(stdout, /^3 affirming, 2 contraindicated;.* 3 nodes decrypted their secrets/m);
  assert.match(stdout, /^every expectation held \(5 of 5 nodes\)$/m);
  assert.match(stdout, /--data-dir DIR/);
});

test('demo without --exit: serves the API until SIGINT, then stops cleanly (exit 0)', async (t) => {
  if (!requireStub(t)) return;
  const child = spawn(process.execPath, [join(repoRoot, 'bin/vouch.js'), 'demo', '--fleet', '1', '--seed', 'serving'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const serving = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^Vouch is serving: API (http:\/\/127\.0\.0\.1:\d+)\/v1 .*\nadmin token: (\S+)$/m.exec(stdout);
      if (m) resolve(m);
    });
    void exited.then((code) => reject(new Error(`vouch demo exited (${code}) before serving: ${stderr}`)));
  });
  const [, url, token] = serving;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const nodes = (await (await fetch(`${url}/v1/admin/nodes`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { name: string }[] };
  assert.deepEqual(
    nodes.items.map((n) => n.name),
    ['node-1'],
  );
  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /vouch demo: stopped \(SIGINT\)/);
});

test('demo options: --fleet out of range is a usage error; a missing --stub is an I/O error; a used --data-dir is refused', async () => {
  for (const nodes of ['0', '257', 'x']) {
    const { code, stdout } = await vouch(['demo', '--json', '--fleet', nodes]);
    assert.equal(code, 1);
    assert.equal((JSON.parse(stdout) as JsonError).error.code, 'ERR_CLI_USAGE');
  }
  const { code, stdout } = await vouch(['demo', '--json', '--stub', '/nonexistent/linuxx64.efi.stub']);
  assert.equal(code, 1);
  assert.equal((JSON.parse(stdout) as JsonError).error.code, 'ERR_CLI_IO');
  const used = await mkdtemp(join(tmpdir(), 'vouch-demo-used-'));
  try {
    await mkdir(join(used, 'server'));
    await writeFile(join(used, 'server', 'vouch.db'), '');
    const again = await vouch(['demo', '--json', '--exit', '--data-dir', used]);
    assert.equal(again.code, 1);
    assert.equal((JSON.parse(again.stdout) as JsonError).error.code, 'ERR_DEMO_DATA_DIR');
  } finally {
    await rm(used, { recursive: true, force: true });
  }
});

test('artefacts: tpm2_checkquote accepts every node quote (RSA and ECC AKs)', (t) => {
  if (!requireStub(t) || !run) return;
  const checkquote = peer(t, 'tpm2_checkquote');
  if (!checkquote) return;
  for (const node of run.fleet) {
    const p = run.artifacts.nodes[node.node]!;
    const r: SpawnSyncReturns<string> = spawnSync(
      checkquote,
      ['-u', p.akPublicPem, '-m', p.quoteMessage, '-s', p.quoteSignature, '-f', p.quotePcrs, '-g', 'sha256', '-q', p.nonce],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `${node.node}: ${r.stderr}`);
    // A quote for another nonce is refused: the check is real.
    const wrong = spawnSync(
      checkquote,
      ['-u', p.akPublicPem, '-m', p.quoteMessage, '-s', p.quoteSignature, '-f', p.quotePcrs, '-g', 'sha256', '-q', '00'.repeat(32)],
      { encoding: 'utf8' },
    );
    assert.notEqual(wrong.status, 0, node.node);
  }
});

test('artefacts: tpm2_eventlog reads every log and replays it to the PCRs vouch computes', (t) => {
  if (!requireStub(t) || !run) return;
  const eventlog = peer(t, 'tpm2_eventlog');
  if (!eventlog) return;
  for (const node of run.fleet) {
    const p = run.artifacts.nodes[node.node]!;
    const yaml = execFileSync(eventlog, [p.eventLog], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const pcrs = yaml.slice(yaml.indexOf('\npcrs:\n'));
    const sha256 = pcrs.slice(pcrs.indexOf('  sha256:'), pcrs.indexOf('  sha384:'));
    const pcr = (n: number): string | undefined => new RegExp(`^\\s+${n}\\s*: 0x([0-9a-fA-F]+)`, 'm').exec(sha256)?.[1]?.toLowerCase();
    const quoted: Record<string, string> = (JSON.parse(execFileSync('cat', [p.quotedPcrs], { encoding: 'utf8' })) as { sha256: Record<string, string> }).sha256;
    // The edited log replays (in tpm2-tools too) to values the TPM did not quote; every other log to exactly the quote.
    const differing = [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12].filter((n) => pcr(n) !== quoted[n]);
    assert.deepEqual(differing, node.tamper === 'edited-log' ? [9, 12] : [], node.node);
  }
});

test('artefacts: fsck.erofs accepts the root images; vouch composefs verify finds the v1 objects in the store', async (t) => {
  if (!requireStub(t) || !run) return;
  const fsck = peer(t, 'fsck.erofs');
  if (!fsck) return;
  for (const image of Object.values(run.artifacts.images)) {
    const r: SpawnSyncReturns<string> = spawnSync(fsck, [image], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${image}: ${r.stderr}`);
  }
  const verified = await vouch(['composefs', 'verify', run.artifacts.images.v1!, '--store', join(dataDir, 'store'), '--json']);
  assert.equal(verified.code, 0, verified.stdout);
  // The unreleased image's extra binary was never published: its objects are not all in the store.
  const unreleased = await vouch(['composefs', 'verify', run.artifacts.images['v1+debug-shell']!, '--store', join(dataDir, 'store'), '--json']);
  assert.notEqual(unreleased.code, 0);
});

test('artefacts: the printed vouch re-check commands give the verdicts back', async (t) => {
  if (!requireStub(t) || !run) return;
  const byWhat = (w: RegExp): string[] =>
    run!.artifacts.commands
      .find((c) => w.test(c.what))!
      .command.split(' ')
      .slice(1);
  const quote = await vouch(byWhat(/quote \(signature/));
  assert.equal(quote.code, 0, quote.stdout);
  const replay = await vouch(byWhat(/event log against/));
  assert.equal(replay.code, 3, 'the edited log does not replay');
  const predict = await vouch([...byWhat(/which release/), '--json']);
  assert.equal(predict.code, 0, predict.stdout);
  assert.deepEqual((JSON.parse(predict.stdout) as JsonResult<{ match: { matched: string[] } }>).result.match.matched, ['v2.profile']);
});
