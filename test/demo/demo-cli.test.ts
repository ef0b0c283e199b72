// `vouch demo` end to end, in-process: with a seed the verdicts are exactly the expected ones, the
// output is reproducible, and the artefacts it keeps are accepted by the real peers
// (tpm2_checkquote, tpm2_eventlog, fsck.erofs) and by vouch's own re-check commands.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonError, JsonResult } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import type { DemoResult, WrittenArtifacts } from '../../src/demo/index.ts';
import { SYSTEMD_STUB, requireStub, vouch } from './helpers.ts';

type DemoJson = DemoResult & { artifacts: WrittenArtifacts };

let dataDir = '';
let run: DemoJson | undefined;

before(async () => {
  if (!existsSync(SYSTEMD_STUB)) return;
  dataDir = await mkdtemp(join(tmpdir(), 'vouch-demo-test-'));
  const { code, stdout, stderr } = await vouch(['demo', '--json', '--seed', 'test-seed', '--data-dir', dataDir]);
  assert.equal(code, 0, stderr);
  const parsed = JSON.parse(stdout) as { result: DemoJson; error: unknown };
  assert.equal(parsed.error, null);
  run = parsed.result;
});

after(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const reasonsOf = (node: DemoJson['fleet'][number]): string[] => node.verdict.reasons.map((r) => `${r.reason}${r.pcr === undefined ? '' : `@${r.pcr}`}`);

test('demo --json --seed: every node gets exactly the expected verdict, with every reason', (t) => {
  if (!requireStub(t) || !run) return;
  assert.deepEqual(
    run.fleet.map((n) => [n.node, n.ekAlg, n.release, n.tamper, n.enrollment.bound, n.verdict.status, n.verdict.matchedReleases]),
    [
      ['node-1', 'rsa', 'v1', null, true, 'affirming', ['v1']],
      ['node-2', 'ecc', 'v1', null, true, 'affirming', ['v1']],
      ['node-3', 'rsa', 'v2', null, true, 'affirming', ['v2']],
      ['node-4', 'ecc', 'v1', 'tampered-cmdline', true, 'contraindicated', []],
      ['node-5', 'rsa', 'v1', 'unlisted-signer', true, 'contraindicated', []],
      ['node-6', 'ecc', 'v1', 'edited-log', true, 'contraindicated', []],
    ],
  );
  const [n1, n2, n3, n4, n5, n6] = run.fleet;
  for (const healthy of [n1!, n2!, n3!]) assert.deepEqual(healthy.verdict.reasons, []);
  assert.equal(n3!.verdict.composefsRelease, 'v2');

  // Tampered command line: the claim (composefs digest of an unreleased image) and both PCRs that carry it.
  assert.deepEqual(reasonsOf(n4!), ['unknown-root-image@12', 'pcr-not-in-reference@9', 'pcr-not-in-reference@12']);
  assert.equal(n4!.verdict.claims?.composefsDigest, run.unreleasedImage.composefsDigest);
  const pcr12 = n4!.verdict.reasons.find((r) => r.pcr === 12 && r.reason === 'pcr-not-in-reference')!;
  assert.match(pcr12.differences![0]!.expected!.description, new RegExp(`composefs=${run.releases[0]!.composefsDigest}`));
  assert.match(pcr12.differences![0]!.actual!.description, new RegExp(`composefs=${run.unreleasedImage.composefsDigest}`));

  // Unlisted signer: PCR 7 only; the db variable and the authority event name the signer.
  assert.deepEqual(reasonsOf(n5!), ['pcr-not-in-reference@7']);
  const differences = n5!.verdict.reasons[0]!.differences!;
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
  assert.equal(n6!.verdict.claims?.kernelCmdline, undefined, 'PCRs 9 and 12 do not replay: the command line is no claim');
  assert.equal(n6!.verdict.claims?.composefsDigest, undefined);
  assert.deepEqual(run.summary, { nodes: 6, affirming: 3, contraindicated: 3 });
  assert.deepEqual(run.store, { objects: 8, problems: 0 });
});

test('demo: the same seed gives the same result (no --data-dir: nothing kept)', async (t) => {
  if (!requireStub(t) || !run) return;
  const { code, stdout } = await vouch(['demo', '--json', '--seed', 'test-seed']);
  assert.equal(code, 0);
  const again = (JSON.parse(stdout) as JsonResult<DemoJson>).result;
  const { artifacts: _kept, ...first } = run;
  assert.equal(again.artifacts, undefined);
  // Everything but the appraisal clock is the seed's.
  const withoutClock = (r: Omit<DemoJson, 'artifacts'>): unknown => ({
    ...r,
    fleet: r.fleet.map((n) => ({ ...n, verdict: { ...n.verdict, appraisedAt: '' } })),
  });
  assert.deepEqual(withoutClock(again), withoutClock(first));
});

test('demo text output: the fleet table and each failed node with its reasons', async (t) => {
  if (!requireStub(t)) return;
  const { code, stdout } = await vouch(['demo', '--seed', 'text', '--nodes', '5']);
  assert.equal(code, 0);
  assert.match(stdout, /^NODE +EK +IMAGE +VERDICT +FIRST REASON$/m);
  assert.match(stdout, /^node-1 +RSA-2048 +v1 +affirming +-$/m);
  assert.match(stdout, /^node-3 +RSA-2048 +v2 +affirming +-$/m);
  assert.match(stdout, /^node-5 +RSA-2048 +none \(nearest v1\) +contraindicated +PCR 7 differs from the reference \(signer Unlisted Signer \(not in db\)\)$/m);
  assert.match(stdout, /^node-4: contraindicated/m);
  assert.match(stdout, /^3 affirming, 2 contraindicated/m);
  assert.match(stdout, /--data-dir DIR/);
});

test('demo options: --nodes out of range is a usage error; a missing --stub is an I/O error', async () => {
  for (const nodes of ['0', '65', 'x']) {
    const { code, stdout } = await vouch(['demo', '--json', '--nodes', nodes]);
    assert.equal(code, 1);
    assert.equal((JSON.parse(stdout) as JsonError).error.code, 'ERR_CLI_USAGE');
  }
  const { code, stdout } = await vouch(['demo', '--json', '--stub', '/nonexistent/linuxx64.efi.stub']);
  assert.equal(code, 1);
  assert.equal((JSON.parse(stdout) as JsonError).error.code, 'ERR_CLI_IO');
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
