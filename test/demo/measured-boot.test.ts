// The simulated firmware's log: built from a prediction, it is a real log — parsed, decoded with
// the roles real systemd-stub/Linux events get, digests bound where they must be, and replayed to
// exactly the predicted PCRs. The event data is src/predict's, never rebuilt from descriptions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { checkEventDigests, encodeEventLog, initialPcrValue, parseEventLog, replay } from '../../src/eventlog/index.ts';
import type { Prediction } from '../../src/predict/index.ts';
import { DEMO_BANKS, DemoError, buildRelease, logEventsOf, releaseReferences } from '../../src/demo/index.ts';
import { SYSTEMD_STUB, requireStub } from './helpers.ts';
import { toHex } from '../../src/bytes/index.ts';

test('logEventsOf: the log of a release boot decodes like a real one and replays to the predicted PCRs', async (t) => {
  if (!requireStub(t)) return;
  const release = buildRelease(new Uint8Array(await readFile(SYSTEMD_STUB)), 'v1', 1);
  const { releases } = releaseReferences([release]);
  const prediction = releases[0]!.prediction;
  const log = parseEventLog(encodeEventLog({ banks: [...DEMO_BANKS], events: logEventsOf(prediction) }));
  const replayed = replay(log);
  for (const bank of DEMO_BANKS) {
    const values = Object.fromEntries(replayed.banks[bank]!.pcrs.map((p) => [String(p.pcr), p.value]));
    for (const [pcr, expected] of Object.entries(prediction.banks[bank]!)) {
      // A PCR no event extends stays at its reset value (the chain's untouched boot-loader PCRs).
      assert.equal(values[pcr] ?? toHex(initialPcrValue(Number(pcr), bank)), expected, `${bank} PCR ${pcr}`);
    }
  }
  assert.deepEqual(checkEventDigests(log).findings, []);
  const roles = log.events.flatMap((e) => (e.decoded.kind === 'ipl' ? [`${e.pcr}:${e.decoded.role}`] : []));
  assert.ok(roles.includes('12:kernel-cmdline'));
  assert.ok(roles.filter((r) => r === '11:uki-section').length >= 6);
  const cmdline = log.events.find((e) => e.decoded.kind === 'ipl' && e.decoded.role === 'kernel-cmdline')!;
  assert.equal(cmdline.decoded.kind === 'ipl' ? cmdline.decoded.value : '', release.cmdline);
  const image = log.events.find((e) => e.decoded.kind === 'image-load')?.decoded;
  assert.deepEqual(image?.kind === 'image-load' ? [image.devicePath, Number(image.imageLength)] : [], [
    '\\EFI\\Linux\\vouch-node-v1.efi',
    releases[0]!.signedUki.length,
  ]);
  // Platform firmware closes every pre-boot PCR and logs ExitBootServices: no "cut short" findings.
  assert.deepEqual(
    [...log.findings, ...replayed.findings].filter((f) => f.kind === 'missing-separator' || f.kind === 'missing-exit-boot-services'),
    [],
  );
});

test('logEventsOf: a prediction without a bank the demo TPM extends is ERR_DEMO_BOOT, naming the bank', () => {
  const prediction: Prediction = {
    banks: { sha256: { '4': '00'.repeat(32) } },
    pcrs: [4],
    assumptions: [],
    events: [{ pcr: 4, type: 'EV_SEPARATOR', by: 'firmware', description: 'separator', digests: { sha256: '00'.repeat(32) }, data: '00000000' }],
  };
  assert.throws(
    () => logEventsOf(prediction),
    (e: unknown) => e instanceof DemoError && e.code === 'ERR_DEMO_BOOT' && /sha1, sha384/.test(e.message),
  );
});
