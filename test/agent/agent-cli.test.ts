// `vouch agent …` end to end against the protocol peer (a real HTTP server on 127.0.0.1, port 0,
// with real MakeCredential, quote checks, EAR signatures and secrets JWEs) and the in-process
// software TPM: enrollment by credential activation, attestation, a LUKS2 image formatted when blank
// and opened with the released key (checked by cryptsetup itself with the server's key), refusals
// with every reason, revocation, an unreachable server after backoff, a TPM that cannot be opened —
// each with its exit code — and, after a release, no trace of the key in the state directory, on
// standard output or on standard error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { asRoot, peer } from '../helpers/peers.ts';
import { agentNode, deviceMapper, filesUnder, onlyNode, sparseImage, spellings } from './agent-node.ts';

test('enroll, attest, unlock a blank LUKS2 image, refused with every reason, revoked, unreachable: each its line and exit code', async (t) => {
  const cryptsetup = peer(t, 'cryptsetup');
  if (!cryptsetup || !peer(t, 'blkid')) return;
  const node = await agentNode(t);

  let r = await node.agent('attest');
  assert.equal(r.code, ExitCode.notEnrolled, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_NOT_ENROLLED: .*holds no enrollment/m);

  r = await node.agent('enroll', '--hostname', 'node-1');
  assert.equal(r.code, 0, r.stderr);
  const enrolled = onlyNode(node.peer);
  assert.match(r.stdout, new RegExp(`^enrolled: node ${enrolled.nodeId} at ${node.peer.url}, AK [0-9a-f]{68}$`, 'm'));
  assert.equal(enrolled.hostname, 'node-1');
  r = await node.agent('enroll');
  assert.match(r.stdout, new RegExp(`^already enrolled: node ${enrolled.nodeId}`, 'm'));
  assert.equal(node.peer.nodes.size, 1);

  // The state directory: owner-only, AK blobs in `vouch tpm ak create`'s layout, nothing else.
  assert.equal((await stat(node.state)).mode & 0o777, 0o700);
  const files = await filesUnder(node.state);
  assert.deepEqual(files.map((f) => f.slice(node.state.length + 1)).sort(), ['ak.json', 'ak.name', 'ak.priv', 'ak.pub', 'ak.pub.pem', 'node.json']);
  for (const f of files) assert.equal((await stat(f)).mode & 0o777, 0o600, f);

  r = await node.agent('attest');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^affirming: node .*; secrets released \(held in memory only, not shown\)$/m);

  // First boot: a blank volume is formatted with the released key; cryptsetup opens it with the key the server holds.
  const image = await sparseImage(join(node.dir, 'disk.img'), 32);
  r = await node.agent('unlock', '--luks', image, '--test', '--format-if-blank');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /was blank: formatted as LUKS2 with the released key; the released key opens/);
  const check = spawnSync(cryptsetup, ['open', '--test-passphrase', '--key-file=-', image], { input: enrolled.diskKey });
  assert.equal(check.status, 0, check.stderr.toString());
  // Second boot: the volume is LUKS now, opened and never formatted again.
  const header = await readFile(image);
  r = await node.agent('unlock', '--luks', image, '--test', '--format-if-blank');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^the released key opens .*disk\.img$/m);
  assert.ok(header.equals(await readFile(image)), 'an opened volume is not rewritten');

  // Nothing the server released is in the state directory or anything printed.
  const secrets = spellings(enrolled.diskKey);
  for (const f of [...(await filesUnder(node.state)), join(node.dir, 'tpm')]) {
    const bytes = await readFile(f);
    assert.equal(bytes.indexOf(Buffer.from(enrolled.diskKey)), -1, `${f} holds the raw key`);
    for (const s of secrets) assert.ok(!bytes.toString('latin1').includes(s), `${f} holds the key`);
  }
  for (const text of node.printed) for (const s of secrets) assert.ok(!text.includes(s), 'printed the key');

  // A refusal: exit 3, one line per reason, nothing formatted or opened.
  node.peer.verdict = {
    status: 'contraindicated',
    reasons: [
      { reason: 'ERR_POLICY_FAILED', message: 'claims.cmdline: expected composefs=ab12…, got composefs=ff00…' },
      { reason: 'ERR_POLICY_FAILED', message: 'claims.secureBoot.enabled: expected true, got false' },
    ],
  };
  r = await node.agent('attest');
  assert.equal(r.code, ExitCode.notVerified, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_REFUSED: http:\/\/127\.0\.0\.1:\d+ refused the attestation \(contraindicated, 2 reasons\)$/m);
  assert.match(r.stderr, /^ {2}ERR_POLICY_FAILED: claims\.cmdline: expected composefs=ab12…, got composefs=ff00…$/m);
  assert.match(r.stderr, /^ {2}ERR_POLICY_FAILED: claims\.secureBoot\.enabled: expected true, got false$/m);
  const blank = await sparseImage(join(node.dir, 'blank.img'), 32);
  r = await node.agent('unlock', '--luks', blank, '--test', '--format-if-blank');
  assert.equal(r.code, ExitCode.notVerified, r.stderr);
  assert.equal(
    (await readFile(blank)).findIndex((b) => b !== 0),
    -1,
    'a refused node formats nothing',
  );

  r = await node.agent('status');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^node: +${enrolled.nodeId} \\(node-1\\)$`, 'm'));
  assert.match(r.stdout, /^last result: contraindicated at /m);
  assert.match(r.stdout, /^ {2}signature verified with http:\/\/127\.0\.0\.1:\d+'s keys$/m);

  // Revoked: exit 7, even with an affirming appraisal.
  node.peer.verdict = { status: 'affirming' };
  enrolled.revoked = true;
  r = await node.agent('unlock', '--luks', image, '--test');
  assert.equal(r.code, ExitCode.revoked, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_REVOKED: node .* is revoked at .*: nothing was released$/m);
  r = await node.agent('status');
  assert.match(r.stdout, /^last result: affirming, revoked at /m);

  // Unreachable: every attempt said on stderr with its wait, then exit 5.
  await node.peer.close();
  r = await node.agent('attest', '--verbose');
  assert.equal(r.code, ExitCode.unreachable, r.stderr);
  assert.equal(r.stderr.match(/^attestation: .* \(attempt \d of 3\); retrying in \d+ ms$/gm)?.length, 2, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_CLIENT_UNREACHABLE: /m);
  r = await node.agent('status');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /did not answer \(ERR_CLIENT_UNREACHABLE\): shown as recorded, unverified/);
});

test('--format-if-blank never formats a volume with a filesystem, and a wrong key is its own error', async (t) => {
  const mkfs = peer(t, 'mkfs.ext4');
  const cryptsetup = peer(t, 'cryptsetup');
  if (!mkfs || !cryptsetup || !peer(t, 'blkid')) return;
  const node = await agentNode(t);
  assert.equal((await node.agent('enroll')).code, 0);

  const ext4 = await sparseImage(join(node.dir, 'ext4.img'), 32);
  assert.equal(spawnSync(mkfs, ['-q', '-F', ext4]).status, 0);
  const before = await readFile(ext4);
  let r = await node.agent('unlock', '--luks', ext4, '--test', '--format-if-blank');
  assert.equal(r.code, ExitCode.error, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_NOT_BLANK: .*ext4\.img is not blank, so it is not formatted: blkid finds ext4 \(filesystem\)$/m);
  assert.ok(before.equals(await readFile(ext4)), 'the filesystem is untouched');

  // A LUKS2 volume made for another key: opened by nothing, formatted by nothing.
  const other = await sparseImage(join(node.dir, 'other.img'), 32);
  const made = spawnSync(
    cryptsetup,
    ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', other],
    {
      input: 'another key',
    },
  );
  assert.equal(made.status, 0, made.stderr.toString());
  r = await node.agent('unlock', '--luks', other, '--test', '--format-if-blank');
  assert.equal(r.code, ExitCode.error, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_LUKS_KEY: the released key does not open /m);
  assert.equal(spawnSync(cryptsetup, ['open', '--test-passphrase', '--key-file=-', other], { input: 'another key' }).status, 0);

  r = await node.agent('unlock', '--luks', join(node.dir, 'missing.img'), '--test');
  assert.equal(r.code, ExitCode.error);
  assert.equal(node.peer.requests.filter((q) => q.startsWith('POST /v1/attest')).length, 4, 'a missing device fails before the server is asked');
});

test('unlock --name opens the volume through device-mapper (root)', async (t) => {
  const cryptsetup = peer(t, 'cryptsetup');
  if (!cryptsetup || !peer(t, 'blkid')) return;
  if (!asRoot(t, 'opening a volume through device-mapper') || !deviceMapper(t)) return;
  const node = await agentNode(t);
  assert.equal((await node.agent('enroll')).code, 0);
  const image = await sparseImage(join(node.dir, 'disk.img'), 32);
  const name = `vouch-agent-test-${process.pid}`;
  t.after(() => spawnSync(cryptsetup, ['close', name]));
  const r = await node.agent('unlock', '--luks', image, '--name', name, '--format-if-blank');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`unlocked as /dev/mapper/${name}$`, 'm'));
  const status = spawnSync(cryptsetup, ['status', name], { encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /type:\s+LUKS2/);
});

test('an enrollment in the approval queue is exit 6 until approved, then resumes with the same AK', async (t) => {
  const node = await agentNode(t);
  node.peer.queueEnrollments = true;
  let r = await node.agent('enroll');
  assert.equal(r.code, ExitCode.notEnrolled, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_ENROLLMENT_PENDING: enrollment ([0-9a-f-]{36}) at .* waits for an operator's approval \(the EK is not known/m);
  r = await node.agent('attest');
  assert.equal(r.code, ExitCode.notEnrolled);
  const { akName } = JSON.parse(await readFile(join(node.state, 'node.json'), 'utf8')) as { akName: string };
  const enrollmentId = /enrollment ([0-9a-f-]{36})/.exec(r.stderr)![1]!;
  node.peer.approve(enrollmentId);
  r = await node.agent('enroll');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^enrolled: node [0-9a-f-]{36} at .*, AK ${akName}$`, 'm'));
  assert.equal((await node.agent('attest')).code, 0);
});

test('a TPM that cannot be opened is exit 8 with the TPM layer code; run says each round', async (t) => {
  const node = await agentNode(t);
  let r = await node.agent('enroll', '--tpm', `device:${join(node.dir, 'no-tpm')}`);
  assert.equal(r.code, ExitCode.tpm, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_TPM: TPM device:.*no-tpm: ERR_TPM_\w+: /m);

  assert.equal((await node.agent('enroll')).code, 0);
  r = await node.agent('run', '--rounds', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^vouch agent run: round 1: affirming$/m);
  node.peer.verdict = { status: 'contraindicated', reasons: [{ reason: 'ERR_POLICY_FAILED', message: 'claims.composefs: not in any accepted release' }] };
  r = await node.agent('run', '--rounds', '1');
  assert.equal(r.code, ExitCode.notVerified, r.stderr);
  assert.match(r.stderr, /^vouch agent run: round 1: refused: ERR_AGENT_REFUSED: .*\n {2}ERR_POLICY_FAILED: claims\.composefs: not in any accepted release$/m);
});
