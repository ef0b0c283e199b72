// The proof of prediction: Vouch builds and signs a UKI, real firmware boots it with a real
// (emulated) TPM, and `vouch predict` must equal the PCRs the firmware, systemd-stub and Linux
// really produced; the event log the VM printed must replay to the same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEventLog, replay } from '../../src/eventlog/index.ts';
import { buildUki, matchEventLog, parseBootProfile, predict, profileArtifacts, referenceValues } from '../../src/predict/index.ts';
import { signImage } from '../../src/secureboot/index.ts';
import { runCli } from '../../src/cli/main.ts';
import { OVMF, SYSTEMD_STUB, bootUki, bootlabInitrd, bootlabKernel, bootlabMissing } from '../helpers/bootlab.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('real boot lab: OVMF + swtpm boot a Vouch-built UKI; predicted PCRs 4, 7, 9, 11, 12 equal the TPM, and the log replays to them', { timeout: 600_000 }, async (t) => {
  const missing = bootlabMissing();
  if (missing) {
    if (process.env.CI) throw new Error(`boot lab cannot run: ${missing}`);
    t.skip(missing);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-lab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // A composefs root digest on the command line, as a node image would carry it.
  const composefsDigest = createHash('sha256').update('vouch boot lab root image').digest('hex');
  const cmdline = `console=ttyS0 quiet panic=-1 composefs=${composefsDigest}`;
  const uki = buildUki({
    stub: await readFile(SYSTEMD_STUB),
    linux: await readFile(bootlabKernel(root)),
    initrd: await bootlabInitrd(),
    cmdline,
    osrel: 'ID=vouch-bootlab\nNAME="Vouch boot lab"\n',
  });
  const key = createPrivateKey({ key: await readFile(OVMF.snakeoilKey), passphrase: OVMF.snakeoilPassphrase });
  const signed = signImage(uki, { certificate: await readFile(OVMF.snakeoilCert, 'utf8'), privateKey: key });
  const ukiPath = join(dir, 'vouch-lab.efi');
  await writeFile(ukiPath, signed);

  // The profile an operator would write for this node: OVMF's snakeoil keys; the disk is the
  // first boot option QEMU offers (-nodefaults: no CD-ROM drive tried first).
  const profilePath = join(dir, 'lab.yaml');
  await writeFile(
    profilePath,
    [
      'banks: [sha1, sha256, sha384, sha512]',
      'firmware:',
      `  variableStore: ${OVMF.snakeoilVars}`,
      '  earlierBootAttempts: 0',
      'chain:',
      '  - kind: uki',
      `    image: ${ukiPath}`,
      '    stubVersion: 252',
      '',
    ].join('\n'),
  );

  // Predict through the CLI, as an operator would, before booting.
  const out: string[] = [];
  const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream;
  const code = await runCli(['predict', profilePath, '--json'], { stdout: sink as never, stderr: sink as never, env: {}, cwd: dir });
  assert.equal(code, 0, out.join(''));
  const predicted = JSON.parse(out.join('')).result as { banks: Record<string, Record<string, string>>; events: { pcr: number; digests: Record<string, string> }[] };

  const booted = await bootUki(signed);

  for (const bank of ['sha1', 'sha256', 'sha384', 'sha512']) {
    for (const pcr of ['4', '7', '9', '11', '12']) {
      assert.equal(predicted.banks[bank]?.[pcr], booted.pcrs[bank]?.[pcr], `${bank} PCR ${pcr}: predicted vs firmware`);
    }
  }

  // The printed log replays to the TPM's values (every PCR the firmware log covers; PCR 10 is
  // Linux IMA's, whose events are in IMA's own log, not this one).
  const log = parseEventLog(booted.eventLog);
  const replayed = replay(log);
  for (const bank of ['sha1', 'sha256'] as const) {
    for (const p of replayed.banks[bank]!.pcrs) {
      if (p.pcr === 10) continue;
      assert.equal(p.value, booted.pcrs[bank]?.[String(p.pcr)], `${bank} PCR ${p.pcr}: replayed log vs TPM`);
    }
  }

  // Event by event: the predicted list is exactly the log's events of those PCRs, in order.
  const modeled = new Set([4, 7, 9, 11, 12]);
  const logged = log.events.filter((e) => modeled.has(e.pcr) && e.typeName !== 'EV_NO_ACTION');
  assert.deepEqual(
    predicted.events.map((e) => `${e.pcr}:${e.digests.sha256}`),
    logged.map((e) => `${e.pcr}:${Buffer.from(e.digests.sha256!).toString('hex')}`),
  );

  // A/B: the log matches this image, not one with another command line.
  const profile = parseBootProfile((await import('yaml')).parse(await readFile(profilePath, 'utf8')));
  const artifacts = new Map(await Promise.all(profileArtifacts(profile).map(async (f) => [f, new Uint8Array(await readFile(f))] as const)));
  const otherUki = signImage(buildUki({ stub: await readFile(SYSTEMD_STUB), linux: await readFile(bootlabKernel(root)), initrd: await bootlabInitrd(), cmdline: `${cmdline} rd.debug` }), {
    certificate: await readFile(OVMF.snakeoilCert, 'utf8'),
    privateKey: key,
  });
  const other = new Map<string, Uint8Array>(artifacts).set(ukiPath, otherUki);
  const refs = referenceValues([
    { version: 'next', prediction: predict(profile, other) },
    { version: 'current', prediction: predict(profile, artifacts) },
  ]);
  assert.deepEqual(matchEventLog(refs, booted.eventLog).matched, ['current']);
});
