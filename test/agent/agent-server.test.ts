// `vouch agent …` against the real server (startServer on 127.0.0.1 port 0, embedded store, the
// demo's releases v1 and v2 as reference sets) with swtpm as the node's TPM, which keeps its PCRs
// between the agent's runs as a real TPM does between commands. The node boots release v1 (its
// events extended into swtpm, the log written where --eventlog reads it), waits in the approval
// queue, is approved, attests, formats a blank LUKS2 image with the released key and opens it on the
// next boot; a log that does not replay is refused with the server's reasons; a revoked node gets
// nothing (exit 7) until unrevoked; the clevis pin works and stops working the same way; a server
// that is down is "unreachable" after the retries. The key never appears in the state directory,
// the agent's output or the server's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { DEMO_BANKS, extendEvents, logEventsOf, predictBoot, demoFirmware } from '../../src/demo/index.ts';
import { encodeEventLog } from '../../src/eventlog/index.ts';
import { Tpm } from '../../src/tpm/index.ts';
import { runVouch, type VouchRun } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { tempDir } from '../tpm/cli-helpers.ts';
import { startTestServer, type TestServer } from '../server/helpers.ts';
import { exec, filesUnder, sparseImage, spellings } from './agent-node.ts';
import { installPin } from './pin-install.ts';

/** Boots a release on the TPM: its measured-boot events extended into the PCRs; returns the event log. */
async function bootRelease(s: TestServer, uri: string, version: string): Promise<Uint8Array> {
  const release = s.refs.releases.find((r) => r.version === version)!;
  const reference = s.refs.references.find((r) => r.version === version)!;
  const events = logEventsOf(predictBoot(demoFirmware(), version, reference.signedUki, release.cmdline));
  const tpm = await Tpm.open(uri);
  try {
    await tpm.startup();
    await extendEvents(tpm, events);
  } finally {
    await tpm.close();
  }
  return encodeEventLog({ banks: [...DEMO_BANKS], events });
}

test('the agent with the real server and swtpm: approval, attestation, LUKS2 unlock, refusal, revocation, the clevis pin, a server down', async (t) => {
  const cryptsetup = peer(t, 'cryptsetup');
  const clevis = peer(t, 'clevis');
  if (!cryptsetup || !clevis || !peer(t, 'blkid') || !peer(t, 'jose')) return;
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm) return;
  const s = await startTestServer(t, 'sqlite');
  if (!s) return;
  const dir = await tempDir(t, 'vouch-agent-server-');
  const state = join(dir, 'state');
  const eventLog = join(dir, 'binary_bios_measurements');
  const printed: string[] = [];
  const agent = async (command: string, ...args: string[]): Promise<VouchRun> => {
    const where = [
      '--server',
      s.url,
      '--tpm',
      swtpm.uri!,
      '--eventlog',
      eventLog,
      '--state',
      state,
      '--attempts',
      '3',
      '--backoff-base-ms',
      '1',
      '--backoff-cap-ms',
      '4',
    ];
    const r = await runVouch(['agent', command, ...where, ...args], { cwd: dir });
    printed.push(r.stdout, r.stderr);
    return r;
  };

  await writeFile(eventLog, await bootRelease(s, swtpm.uri!, 'v1'));

  // Enrollment: the EK has no certificate and is not allowlisted, so it waits for an operator.
  let r = await agent('enroll', '--hostname', 'worker-7');
  assert.equal(r.code, ExitCode.notEnrolled, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_ENROLLMENT_PENDING: enrollment [0-9a-f-]{36} at http:\/\/127\.0\.0\.1:\d+ waits for an operator's approval/m);
  const queue = (await s.admin('GET', '/v1/admin/approvals')).body as { items: { id: string; name: string }[] };
  const waiting = queue.items.find((n) => n.name === 'worker-7')!;
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${waiting.id}/approve`, { reason: 'racked' })).status, 200);
  r = await agent('enroll');
  assert.equal(r.code, 0, r.stderr);
  const nodeId = /^enrolled: node ([0-9a-f-]{36}) /m.exec(r.stdout)![1]!;

  // A disk key the test knows, imported as the node's (so cryptsetup can check the volume with it).
  const diskKey = new Uint8Array(randomBytes(32));
  const imported = await s.admin('POST', `/v1/admin/nodes/${nodeId}/disk-key`, { value: Buffer.from(diskKey).toString('base64url') });
  assert.equal(imported.status, 200, JSON.stringify(imported.body));

  r = await agent('attest');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^affirming: node ${nodeId} at ${s.url}, result [0-9a-f-]{36}; secrets released`, 'm'));

  // First boot formats the blank volume; the next opens it; cryptsetup agrees it is the server's key.
  const image = await sparseImage(join(dir, 'disk.img'), 32);
  r = await agent('unlock', '--luks', image, '--test', '--format-if-blank');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /was blank: formatted as LUKS2 with the released key/);
  r = await agent('unlock', '--luks', image, '--test', '--format-if-blank');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^the released key opens /m);
  assert.equal(spawnSync(cryptsetup, ['open', '--test-passphrase', '--key-file=-', image], { input: diskKey }).status, 0);

  // The clevis pin against the same server.
  const bin = await installPin(dir);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const config = JSON.stringify({ url: s.url, tpm: swtpm.uri, state, eventlog: eventLog });
  const encrypted = await exec(clevis, ['encrypt', 'vouch', config], { input: 'bound by the vouch pin', env });
  assert.equal(encrypted.status, 0, encrypted.stderr);
  const jwe = encrypted.stdout.toString();
  const decrypted = await exec(clevis, ['decrypt'], { input: jwe, env });
  assert.equal(decrypted.status, 0, decrypted.stderr);
  assert.equal(decrypted.stdout.toString(), 'bound by the vouch pin');

  // A log that does not replay to the quoted PCRs: refused, every reason on its own line.
  await writeFile(join(dir, 'other.log'), await readFile(new URL('../vectors/eventlogs/debian-10.bin', import.meta.url)));
  r = await agent('attest', '--eventlog', join(dir, 'other.log'));
  assert.equal(r.code, ExitCode.notVerified, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_AGENT_REFUSED: http:\/\/127\.0\.0\.1:\d+ refused the attestation \(contraindicated, \d+ reasons?\)$/m);
  assert.match(r.stderr, /^ {2}event-log-malformed: ERR_EVENTLOG_BANK_MISSING: the event log has no sha256 bank \(it has sha1\)$/m);
  assert.match(r.stderr, /^ {2}policy-failed: the measured command line must mount the composefs root image of a reference release /m);

  // Revoked: appraised, nothing released — the unlock and the pin both fail with exit 7's reason.
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${nodeId}/revoke`, { reason: 'disk reported stolen' })).status, 200);
  r = await agent('unlock', '--luks', image, '--test');
  assert.equal(r.code, ExitCode.revoked, r.stderr);
  assert.match(r.stderr, new RegExp(`^vouch: ERR_AGENT_REVOKED: node ${nodeId} is revoked at ${s.url}: nothing was released`, 'm'));
  const refused = await exec(clevis, ['decrypt'], { input: jwe, env });
  assert.notEqual(refused.status, 0);
  assert.equal(refused.stdout.length, 0);
  assert.match(refused.stderr, /^vouch: ERR_AGENT_REVOKED: /m);
  r = await agent('status');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^last result: affirming, revoked at /m);
  assert.match(r.stdout, /signature verified with http:\/\/127\.0\.0\.1:\d+'s keys/);

  // Unrevoked: the next attestation releases again.
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${nodeId}/unrevoke`, { reason: 'found' })).status, 200);
  assert.equal((await agent('unlock', '--luks', image, '--test')).code, 0);

  // Nothing released is in the state directory, the agent's output or the server's log.
  for (const f of await filesUnder(state)) {
    const text = (await readFile(f)).toString('latin1');
    for (const k of spellings(diskKey)) assert.ok(!text.includes(k), `${f} holds the key`);
  }
  for (const text of [...printed, ...s.log.lines]) for (const k of spellings(diskKey)) assert.ok(!text.includes(k), 'the key was printed or logged');

  // The server goes down: each retry is said, then exit 5.
  await s.server.close();
  r = await agent('attest', '--verbose');
  assert.equal(r.code, ExitCode.unreachable, r.stderr);
  assert.equal(r.stderr.match(/^attestation: .* \(attempt \d of 3\); retrying in \d+ ms$/gm)?.length, 2, r.stderr);
  assert.match(r.stderr, /^vouch: ERR_CLIENT_UNREACHABLE: /m);
});
