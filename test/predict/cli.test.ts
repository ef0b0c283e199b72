// `vouch uki build` and `vouch predict` at the command line: a built and signed UKI verifies with
// sbverify and predicts; mistakes are usage or I/O errors with their codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVouch } from './helpers.ts';
import { parseEventLog, replay } from '../../src/eventlog/index.ts';
import type { JsonError, JsonResult } from '../helpers/cli.ts';
import { packageFile, peer } from '../helpers/peers.ts';
import { OVMF, SYSTEMD_STUB } from '../helpers/bootlab.ts';

type Doc = JsonResult<Record<string, unknown>> | JsonError;

async function vouch(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; doc: Doc }> {
  const { code, out } = await runVouch([...args, '--json'], cwd, env);
  return { code, doc: JSON.parse(out) as Doc };
}

test('vouch uki build signs a UKI sbverify accepts, and vouch predict reads it; bad options are typed errors', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi') || !packageFile(t, OVMF.snakeoilKey, 'ovmf')) return;
  const sbverify = peer(t, 'sbverify');
  if (!sbverify) return;
  const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vmlinuz'), randomBytes(4096));
  await writeFile(join(dir, 'initrd'), randomBytes(512));

  const base = ['uki', 'build', '--linux', 'vmlinuz', '--initrd', 'initrd', '--cmdline', 'ro composefs=ab', '--out', 'node.efi'];
  const signing = ['--key', OVMF.snakeoilKey, '--cert', OVMF.snakeoilCert];
  const built = await vouch([...base, ...signing], dir, { VOUCH_SIGNING_KEY_PASSPHRASE: OVMF.snakeoilPassphrase });
  assert.equal(built.code, 0, JSON.stringify(built.doc));
  assert.equal(built.doc.result?.signed, true);
  execFileSync(sbverify, ['--cert', OVMF.snakeoilCert, join(dir, 'node.efi')], { stdio: 'pipe' });

  await writeFile(join(dir, 'node.yaml'), `banks: [sha256]\nfirmware: { variableStore: ${OVMF.snakeoilVars} }\nchain: [{ kind: uki, image: node.efi }]\n`);
  const predicted = await vouch(['predict', 'node.yaml', '--pcrs', '4,11'], dir);
  assert.equal(predicted.code, 0);
  assert.deepEqual(Object.keys((predicted.doc.result as { banks: { sha256: object } }).banks.sha256), ['4', '11']);

  // --log-out: the expected log of those PCRs as binary_bios_measurements, replaying to the values.
  const written = await vouch(['predict', 'node.yaml', '--pcrs', '4,11', '--log-out', 'expected.bin'], dir);
  assert.equal(written.code, 0, JSON.stringify(written.doc));
  const expectedLog = parseEventLog(new Uint8Array(await readFile(join(dir, 'expected.bin'))));
  assert.deepEqual([...new Set(expectedLog.events.filter((e) => e.typeName !== 'EV_NO_ACTION').map((e) => e.pcr))], [4, 11]);
  const replayed = Object.fromEntries(replay(expectedLog).banks.sha256!.pcrs.map((p) => [String(p.pcr), p.value]));
  assert.deepEqual(replayed, (written.doc.result as { banks: { sha256: object } }).banks.sha256);
  const logOutTwice = await vouch(['predict', 'node.yaml', 'node.yaml', '--log-out', 'x.bin'], dir);
  assert.equal(logOutTwice.doc.error?.code, 'ERR_CLI_USAGE');
  const logOutNowhere = await vouch(['predict', 'node.yaml', '--log-out', 'no/such/dir/x.bin'], dir);
  assert.equal(logOutNowhere.doc.error?.code, 'ERR_CLI_IO');

  const encryptedNoPassphrase = await vouch([...base, ...signing], dir);
  assert.equal(encryptedNoPassphrase.doc.error?.code, 'ERR_CLI_IO');
  const keyWithoutCert = await vouch([...base, '--key', OVMF.snakeoilKey], dir);
  assert.equal(keyWithoutCert.doc.error?.code, 'ERR_CLI_USAGE');
  const noKernel = await vouch(['uki', 'build', '--out', 'x.efi'], dir);
  assert.equal(noKernel.doc.error?.code, 'ERR_CLI_USAGE');
  const badBank = await vouch(['predict', 'node.yaml', '--bank', 'md5'], dir);
  assert.equal(badBank.doc.error?.code, 'ERR_CLI_USAGE');
  const unpredictedBank = await vouch(['predict', 'node.yaml', '--bank', 'sha384'], dir);
  assert.equal(unpredictedBank.doc.error?.code, 'ERR_CLI_USAGE');
  await writeFile(join(dir, 'not-a-pe.yaml'), 'chain: [{ kind: uki, image: node.yaml }]\n');
  const notPe = await vouch(['predict', 'not-a-pe.yaml'], dir);
  assert.equal(notPe.doc.error?.code, 'ERR_PREDICT_ARTIFACT');
  assert.match(JSON.stringify(notPe.doc.error), /chain\[0\] \(uki node\.yaml\): ERR_SECUREBOOT_PE_MALFORMED/);
  const badPcrs = await vouch(['predict', 'node.yaml', '--pcrs', '4,99'], dir);
  assert.equal(badPcrs.doc.error?.code, 'ERR_CLI_USAGE');
  await writeFile(join(dir, 'bad.yaml'), 'chain: [{ kind: uki, image: node.efi, typo: 1 }]\n');
  const badProfile = await vouch(['predict', 'bad.yaml'], dir);
  assert.equal(badProfile.doc.error?.code, 'ERR_PREDICT_PROFILE');
});
