// Software TPMs fed a simulated boot: every predicted event's digests go, in order, into a real
// swtpm with tpm2_pcrextend (tpm2-tools), and into Vouch's in-process TPM (`sim:`) with
// TPM2_PCR_Extend; the TPMs' PCRs must then equal the predicted ones. This checks prediction's PCR
// arithmetic and bank handling against TPM implementations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUki, encodeExpectedEventLog, parseBootProfile, predict, profileArtifacts, type Prediction } from '../../src/predict/index.ts';
import { parseEventLog, replay } from '../../src/eventlog/index.ts';
import { packageFile, peer } from '../helpers/peers.ts';
import { TPM_ALG, Tpm, eventDigests } from '../../src/tpm/index.ts';
import { OVMF, SYSTEMD_STUB } from '../helpers/bootlab.ts';
import type { PcrValues } from '../../src/hash/index.ts';

const bridge = fileURLToPath(new URL('./fixtures/stdio-to-unix.ts', import.meta.url));

/** Runs `prediction`'s events through a fresh swtpm and returns bank → PCR → hex as the TPM reads them. */
async function simulate(t: import('node:test').TestContext, prediction: Prediction, banks: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const swtpm = peer(t, 'swtpm');
  const pcrextend = peer(t, 'tpm2_pcrextend');
  const pcrread = peer(t, 'tpm2_pcrread');
  if (!swtpm || !pcrextend || !pcrread) return {};
  const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-sim-'));
  const pidFile = join(dir, 'pid');
  t.after(async () => {
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGTERM');
      } catch {
        // exited already
      }
    }
    await rm(dir, { recursive: true, force: true });
  });
  const server = join(dir, 'tpm.sock');
  execFileSync(swtpm, [
    'socket',
    '--tpm2',
    '--tpmstate',
    `dir=${dir}`,
    '--server',
    `type=unixio,path=${server}`,
    '--ctrl',
    `type=unixio,path=${join(dir, 'ctrl.sock')}`,
    '--flags',
    'startup-clear',
    '--pid',
    `file=${pidFile}`,
    '--daemon',
  ]);
  const tcti = `cmd:${process.execPath} ${bridge} ${server}`;
  // One invocation extends every event, in log order.
  const specs = prediction.events.map((e) => `${e.pcr}:${banks.map((b) => `${b}=${(e.digests as Record<string, string>)[b]}`).join(',')}`);
  execFileSync(pcrextend, ['--tcti', tcti, ...specs]);
  const yaml = execFileSync(pcrread, ['--tcti', tcti, banks.map((b) => `${b}:${prediction.pcrs.join(',')}`).join('+')], { encoding: 'utf8' });
  const out: Record<string, Record<string, string>> = {};
  let bank = '';
  for (const line of yaml.split('\n')) {
    const b = /^\s*(sha\d+):\s*$/.exec(line);
    if (b) bank = b[1]!;
    const v = /^\s*(\d+)\s*:\s*0x([0-9A-F]+)/.exec(line);
    if (v) (out[bank] ??= {})[v[1]!] = v[2]!.toLowerCase();
  }
  return out;
}

test('simulated boot on swtpm: a UKI profile (snakeoil firmware, pcrphase words) extends to exactly the predicted PCRs', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi') || !packageFile(t, OVMF.snakeoilVars, 'ovmf')) return;
  const kernel = randomBytes(64 * 1024);
  const uki = buildUki({ stub: await readFile(SYSTEMD_STUB), linux: kernel, initrd: randomBytes(4096), cmdline: 'ro quiet composefs=00ff', osrel: 'ID=sim\n' });
  const profile = parseBootProfile({
    banks: ['sha1', 'sha256'],
    firmware: { variableStore: OVMF.snakeoilVars, earlierBootAttempts: 1 },
    chain: [{ kind: 'uki', image: 'uki.efi', authority: 'none', phases: ['enter-initrd', 'leave-initrd', 'sysinit', 'ready'] }],
  });
  const prediction = predict(
    profile,
    new Map([
      ['uki.efi', uki],
      [OVMF.snakeoilVars, new Uint8Array(await readFile(OVMF.snakeoilVars))],
    ]),
  );
  const tpm = await simulate(t, prediction, ['sha1', 'sha256']);
  if (Object.keys(tpm).length === 0) return;
  assert.deepEqual(tpm, prediction.banks);
});

test('simulated boot on swtpm: Debian shim → GRUB (commands, files) → kernel with MOK lists and SbatLevel', async (t) => {
  const shim = '/usr/lib/shim/shimx64.efi.signed';
  const grub = '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed';
  const msVars = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
  if (!packageFile(t, shim, 'shim-signed') || !packageFile(t, grub, 'grub-efi-amd64-signed') || !packageFile(t, msVars, 'ovmf')) return;
  const profile = parseBootProfile({
    banks: ['sha1', 'sha256'],
    firmware: { variableStore: msVars },
    chain: [
      {
        kind: 'shim',
        image: shim,
        mokList: { hex: '' },
        mokListX: { hex: '' },
        sbatLevel: { hex: Buffer.from('sbat,1,2022052400\ngrub,2\n').toString('hex') },
      },
      {
        kind: 'grub',
        image: grub,
        commands: ['set root=(hd0,gpt2)', 'linux /vmlinuz root=/dev/vda2 ro', 'kernel_cmdline: /vmlinuz root=/dev/vda2 ro', 'initrd /initrd.img'],
        files: [
          { path: '(hd0,gpt2)/boot/grub/grub.cfg', content: { hex: Buffer.from('linux /vmlinuz\n').toString('hex') } },
          { path: '/vmlinuz', content: { hex: 'aa'.repeat(100) } },
        ],
      },
      {
        kind: 'linux',
        image: { authenticode: { sha1: '11'.repeat(20), sha256: '22'.repeat(32) } },
        authority: 'none',
        cmdline: 'root=/dev/vda2 ro',
        initrd: { hex: 'bb'.repeat(64) },
      },
    ],
  });
  const artifacts = new Map(await Promise.all(profileArtifacts(profile).map(async (f) => [f, new Uint8Array(await readFile(f))] as const)));
  const prediction = predict(profile, artifacts);
  assert.deepEqual(prediction.pcrs, [4, 7, 8, 9, 13, 14], 'the whole chain: PCR 13 (system extensions) is predicted untouched');
  const tpm = await simulate(t, prediction, ['sha1', 'sha256']);
  if (Object.keys(tpm).length === 0) return;
  assert.deepEqual(tpm, prediction.banks);
});

test("simulated boot on Vouch's software TPM (sim:): the same UKI profile in the sha1, sha256 and sha384 banks; its expected log replays to the TPM up to pcrphase", async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi') || !packageFile(t, OVMF.snakeoilVars, 'ovmf')) return;
  const uki = buildUki({
    stub: await readFile(SYSTEMD_STUB),
    linux: randomBytes(64 * 1024),
    initrd: randomBytes(4096),
    cmdline: 'ro composefs=00ff',
    osrel: 'ID=sim\n',
  });
  const banks = ['sha1', 'sha256', 'sha384'] as const;
  const profile = parseBootProfile({
    banks: [...banks],
    firmware: { variableStore: OVMF.snakeoilVars },
    chain: [{ kind: 'uki', image: 'uki.efi', authority: 'none', phases: ['enter-initrd', 'leave-initrd', 'sysinit', 'ready'] }],
  });
  const prediction = predict(
    profile,
    new Map([
      ['uki.efi', uki],
      [OVMF.snakeoilVars, new Uint8Array(await readFile(OVMF.snakeoilVars))],
    ]),
  );
  await using tpm = await Tpm.open('sim:');
  const tpmAlg = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384 } as const;
  const ids = banks.map((b) => tpmAlg[b]);
  const bankOf = new Map(banks.map((b) => [tpmAlg[b] as number, b]));
  const readPcrs = (): Promise<PcrValues> => tpm.pcrRead(ids.map((hash) => ({ hash, pcrs: [...prediction.pcrs] })));
  // The firmware's part: the expected log's events (everything but pcrphase), then the log replays to the TPM.
  const firmwareEvents = prediction.events.filter((e) => e.data !== undefined);
  assert.equal(firmwareEvents.length, prediction.events.length - 4);
  const extend = (e: Prediction['events'][number]) =>
    tpm.pcrExtend(
      e.pcr,
      eventDigests(ids, (id) => Buffer.from(e.digests[bankOf.get(id)!]!, 'hex')),
    );
  for (const e of firmwareEvents) await extend(e);
  const atHandoff = await readPcrs();
  const replayed = replay(parseEventLog(encodeExpectedEventLog(prediction)));
  for (const bank of banks)
    for (const p of replayed.banks[bank]!.pcrs) assert.equal(p.value, atHandoff[bank]![String(p.pcr)], `${bank} PCR ${p.pcr}: expected log vs TPM`);
  // Then userspace's pcrphase words: the TPM reaches exactly the predicted PCRs.
  for (const e of prediction.events.filter((x) => x.data === undefined)) await extend(e);
  assert.deepEqual(await readPcrs(), prediction.banks);
});
