// The proof of prediction: Vouch builds and signs a UKI, real firmware boots it with a real
// (emulated) TPM, and `vouch predict` must equal the PCRs the firmware, systemd-stub and Linux
// really produced; the event log the VM printed must replay to the same values.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEventLog, replay, type TcgEvent } from '../../src/eventlog/index.ts';
import { buildUki, encodeExpectedEventLog, matchEventLog, parseBootProfile, predict, profileArtifacts, referenceValues } from '../../src/predict/index.ts';
import { signImage } from '../../src/secureboot/index.ts';
import { runVouch } from './helpers.ts';
import { OVMF, SYSTEMD_STUB, bootEsp, bootUki, bootlabInitrd, bootlabKernel, bootlabMissing, type BootResult } from '../helpers/bootlab.ts';
import type { JsonResult } from '../helpers/cli.ts';
import { unavailable } from '../helpers/peers.ts';
import type { Prediction } from '../../src/predict/index.ts';

/**
 * The lab kernels' command line. no_timer_check: on a busy host QEMU's emulated (TCG) timer can
 * tick too slowly for the kernel's early IO-APIC timer check, which then panics ("IO-APIC + timer
 * doesn't work") although the timer works; the check proves nothing about what the lab measures.
 */
const LAB_CMDLINE = 'console=ttyS0 quiet panic=-1 no_timer_check';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BANKS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

/** Whether the lab can run here (with these extra files); skips locally, fails under CI, when not. */
function labReady(t: TestContext, files: readonly string[] = []): boolean {
  const absent = bootlabMissing(root) ?? files.filter((f) => !existsSync(f)).map((f) => `${f} is missing`)[0];
  if (absent === undefined) return true;
  unavailable(t, `the boot lab cannot run: ${absent}`, 'scripts/install-deps.sh, run as root, installs its peers, firmware and kernel');
  return false;
}

/**
 * An event as far as it can be known before boot: type, digest and data, except an image load's
 * run-time address and the hardware part of its device path (firmware's boot device).
 */
function predictable(e: TcgEvent): string {
  const digest = Buffer.from(e.digests.sha256!).toString('hex');
  const data =
    e.decoded.kind === 'image-load'
      ? `image of ${e.decoded.imageLength} bytes from …${e.decoded.devicePath.split('/').pop()}`
      : Buffer.from(e.data).toString('hex');
  return `${e.typeName} ${digest} ${data}`;
}

/**
 * PCR values equal in every bank, the log replays to the TPM, and per PCR the events of the
 * expected log (`vouch predict --log-out`, or encoded from the prediction) are the real log's,
 * digests and event data.
 */
function assertBootMatches(predicted: Prediction, booted: BootResult, pcrs: readonly number[], expectedLog = encodeExpectedEventLog(predicted)): void {
  for (const bank of BANKS) {
    for (const pcr of pcrs) assert.equal(predicted.banks[bank]?.[String(pcr)], booted.pcrs[bank]?.[String(pcr)], `${bank} PCR ${pcr}: predicted vs TPM`);
  }
  // PCR 10 is Linux IMA's, whose events are in IMA's own log, not the firmware's.
  const log = parseEventLog(booted.eventLog);
  for (const bank of BANKS) {
    for (const p of replay(log).banks[bank]!.pcrs) {
      if (p.pcr !== 10) assert.equal(p.value, booted.pcrs[bank]?.[String(p.pcr)], `${bank} PCR ${p.pcr}: replayed log vs TPM`);
    }
  }
  const expected = parseEventLog(expectedLog);
  for (const pcr of pcrs) {
    assert.deepEqual(
      expected.events.filter((e) => e.pcr === pcr).map(predictable),
      log.events.filter((e) => e.pcr === pcr).map(predictable),
      `PCR ${pcr} events`,
    );
  }
}

// The boots are independent VMs, each mostly waiting on its own QEMU: run them side by side.
describe('real boot lab', { concurrency: true }, () => {
  test('OVMF + swtpm boot a Vouch-built UKI; predicted PCRs 4, 7, 9, 11, 12 equal the TPM, and the log replays to them', { timeout: 600_000 }, async (t) => {
    if (!labReady(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-lab-'));
    t.after(() => rm(dir, { recursive: true, force: true }));

    // The operator's path: `vouch uki build` with a composefs root digest on the command line,
    // signed with the snakeoil db key, then `vouch predict` — all before the node boots.
    const composefsDigest = createHash('sha256').update('vouch boot lab root image').digest('hex');
    const cmdline = `${LAB_CMDLINE} composefs=${composefsDigest}`;
    const kernelPath = bootlabKernel(root);
    const initrdPath = join(dir, 'initrd.img');
    await writeFile(initrdPath, await bootlabInitrd());
    await writeFile(join(dir, 'os-release'), 'ID=vouch-bootlab\nNAME="Vouch boot lab"\n');
    const ukiPath = join(dir, 'vouch-lab.efi');
    const vouch = async (args: string[]): Promise<unknown> => {
      const { code, out } = await runVouch([...args, '--json'], dir, { VOUCH_SIGNING_KEY_PASSPHRASE: OVMF.snakeoilPassphrase });
      assert.equal(code, 0, out);
      return (JSON.parse(out) as JsonResult<unknown>).result;
    };
    await vouch([
      'uki',
      'build',
      '--linux',
      kernelPath,
      '--initrd',
      initrdPath,
      '--cmdline',
      cmdline,
      '--osrel',
      'os-release',
      '--out',
      ukiPath,
      '--key',
      OVMF.snakeoilKey,
      '--cert',
      OVMF.snakeoilCert,
    ]);
    const signed = new Uint8Array(await readFile(ukiPath));

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
        '    path: \\EFI\\BOOT\\BOOTX64.EFI',
        '    stubVersion: 252',
        '',
      ].join('\n'),
    );

    const expectedLogPath = join(dir, 'expected.bin');
    const predicted = (await vouch(['predict', profilePath, '--log-out', expectedLogPath])) as Prediction;

    const booted = await bootUki(signed);

    assertBootMatches(predicted, booted, [4, 7, 9, 11, 12], new Uint8Array(await readFile(expectedLogPath)));

    // A/B: the log matches this image, not one with another command line.
    const profile = parseBootProfile((await import('yaml')).parse(await readFile(profilePath, 'utf8')));
    const artifacts = new Map(await Promise.all(profileArtifacts(profile).map(async (f) => [f, new Uint8Array(await readFile(f))] as const)));
    const key = createPrivateKey({ key: await readFile(OVMF.snakeoilKey), passphrase: OVMF.snakeoilPassphrase });
    const otherUki = signImage(
      buildUki({
        stub: await readFile(SYSTEMD_STUB),
        linux: await readFile(kernelPath),
        initrd: await readFile(initrdPath),
        cmdline: `${cmdline} rd.debug`,
        osrel: await readFile(join(dir, 'os-release'), 'utf8'),
      }),
      {
        certificate: await readFile(OVMF.snakeoilCert, 'utf8'),
        privateKey: key,
      },
    );
    const other = new Map<string, Uint8Array>(artifacts).set(ukiPath, otherUki);
    const refs = referenceValues([
      { version: 'next', prediction: predict(profile, other) },
      { version: 'current', prediction: predict(profile, artifacts) },
    ]);
    const match = matchEventLog(refs, booted.eventLog);
    assert.deepEqual(match.matched, ['current']);
    // The other image is told apart by its command line: PCR 11's .cmdline section event.
    const pcr11 = match.versions[0]!.mismatches.find((m) => m.bank === 'sha256' && m.pcr === 11);
    assert.equal(pcr11?.firstDifference?.position, 5);
    assert.match(pcr11.firstDifference.expected?.description ?? '', /^\.cmdline \(/);
  });

  test('Debian shim 16 → GRUB → kernel under Microsoft keys; predicted PCRs 4, 7, 8, 9, 14 equal the TPM', { timeout: 600_000 }, async (t) => {
    const binaries = ['/usr/lib/shim/shimx64.efi.signed', '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed', OVMF.microsoftVars];
    if (!labReady(t, binaries)) return;
    const shim = new Uint8Array(await readFile(binaries[0]!));
    const grub = new Uint8Array(await readFile(binaries[1]!));
    const kernel = new Uint8Array(await readFile(bootlabKernel(root)));
    const initrd = await bootlabInitrd();
    const cmdline = `${LAB_CMDLINE} composefs=${createHash('sha256').update('vouch shim lab').digest('hex')}`;
    const grubCfg = new TextEncoder().encode(`set timeout=0\nlinux /vmlinuz ${cmdline}\ninitrd /initrd.img\nboot\n`);

    // Debian's signed GRUB runs its built-in config first (prefix /EFI/debian on the ESP, which QEMU's
    // synthesized FAT disk presents as the first MBR partition), then grub.cfg.
    const prefix = '(hd0,msdos1)/EFI/debian';
    const profile = parseBootProfile({
      banks: [...BANKS],
      firmware: { variableStore: OVMF.microsoftVars },
      chain: [
        { kind: 'shim', image: 'shim', path: '\\EFI\\BOOT\\BOOTX64.EFI' },
        {
          kind: 'grub',
          image: 'grub',
          path: '\\EFI\\BOOT\\grubx64.efi',
          commands: [
            `[ -z ${prefix} -o ! -e ${prefix} ]`,
            `[ -e ${prefix}/x86_64-efi/grub.cfg ]`,
            `[ -e ${prefix}/grub.cfg ]`,
            `source ${prefix}/grub.cfg`,
            'set timeout=0',
            `linux /vmlinuz ${cmdline}`,
            `kernel_cmdline: /vmlinuz ${cmdline}`,
            'initrd /initrd.img',
            'boot',
          ],
          files: [
            { path: `${prefix}/grub.cfg`, content: 'grub.cfg' },
            { path: '/vmlinuz', content: 'vmlinuz' },
            { path: '/initrd.img', content: 'initrd.img' },
          ],
        },
        // GRUB 2.06 hands Linux its command line and initrd itself: the EFI stub measures neither.
        { kind: 'linux', image: 'vmlinuz', measureLoadOptions: false, measureInitrd: false },
      ],
    });
    const artifacts = new Map<string, Uint8Array>([
      ['shim', shim],
      ['grub', grub],
      ['grub.cfg', grubCfg],
      ['vmlinuz', kernel],
      ['initrd.img', initrd],
      [OVMF.microsoftVars, new Uint8Array(await readFile(OVMF.microsoftVars))],
    ]);
    const predicted = predict(profile, artifacts);

    const booted = await bootEsp(
      new Map([
        ['EFI/BOOT/BOOTX64.EFI', shim],
        ['EFI/BOOT/grubx64.efi', grub],
        ['EFI/debian/grub.cfg', grubCfg],
        ['vmlinuz', kernel],
        ['initrd.img', initrd],
      ]),
      { vars: OVMF.microsoftVars },
    );
    assertBootMatches(predicted, booted, [4, 7, 8, 9, 14]);
  });

  test('systemd-boot (signed by Vouch) → UKI entry; predicted PCRs 4, 7, 9, 11, 12 equal the TPM', { timeout: 600_000 }, async (t) => {
    const SD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
    if (!labReady(t, [SD_BOOT])) return;
    const key = createPrivateKey({ key: await readFile(OVMF.snakeoilKey), passphrase: OVMF.snakeoilPassphrase });
    const identity = { certificate: await readFile(OVMF.snakeoilCert, 'utf8'), privateKey: key };
    const loader = signImage(new Uint8Array(await readFile(SD_BOOT)), identity);
    // systemd-boot lists a UKI in /EFI/Linux only when it has an .osrel section.
    const uki = signImage(
      buildUki({
        stub: await readFile(SYSTEMD_STUB),
        linux: await readFile(bootlabKernel(root)),
        initrd: await bootlabInitrd(),
        cmdline: LAB_CMDLINE,
        osrel: 'ID=vouch-bootlab\nVERSION_ID=2\n',
      }),
      identity,
    );
    const profile = parseBootProfile({
      banks: [...BANKS],
      firmware: { variableStore: OVMF.snakeoilVars },
      chain: [
        { kind: 'systemd-boot', image: 'systemd-boot', path: '\\EFI\\BOOT\\BOOTX64.EFI' },
        { kind: 'uki', image: 'uki', path: '\\EFI\\Linux\\vouch.efi' },
      ],
    });
    const predicted = predict(
      profile,
      new Map([
        [OVMF.snakeoilVars, new Uint8Array(await readFile(OVMF.snakeoilVars))],
        ['systemd-boot', loader],
        ['uki', uki],
      ]),
    );
    const booted = await bootEsp(
      new Map([
        ['EFI/BOOT/BOOTX64.EFI', loader],
        ['EFI/Linux/vouch.efi', uki],
        ['loader/loader.conf', new TextEncoder().encode('timeout 0\n')],
      ]),
    );
    assertBootMatches(predicted, booted, [4, 7, 9, 11, 12]);
  });

  test(
    'Secure Boot off (no keys enrolled): an unsigned UKI; PCR 7 measures the absent variables, the stub starts the kernel with LoadImage (PCR 4)',
    { timeout: 600_000 },
    async (t) => {
      const emptyVars = '/usr/share/OVMF/OVMF_VARS_4M.fd';
      if (!labReady(t, [emptyVars])) return;
      const uki = buildUki({
        stub: await readFile(SYSTEMD_STUB),
        linux: await readFile(bootlabKernel(root)),
        initrd: await bootlabInitrd(),
        cmdline: LAB_CMDLINE,
        osrel: 'ID=vouch-bootlab\n',
      });
      const profile = parseBootProfile({
        banks: [...BANKS],
        firmware: { secureBoot: false, variableStore: emptyVars },
        chain: [{ kind: 'uki', image: 'uki', path: '\\EFI\\BOOT\\BOOTX64.EFI' }],
      });
      const predicted = predict(
        profile,
        new Map([
          [emptyVars, new Uint8Array(await readFile(emptyVars))],
          ['uki', uki],
        ]),
      );
      const booted = await bootUki(uki, { vars: emptyVars });
      assertBootMatches(predicted, booted, [4, 7, 9, 11, 12]);
    },
  );
});

test(
  'a VM that never finishes is killed at its time limit; the error carries the serial console, and no process or file is left',
  { timeout: 120_000 },
  async (t) => {
    if (!labReady(t)) return;
    const tmpRoot = await mkdtemp(join(tmpdir(), 'vouch-predict-hang-'));
    t.after(() => rm(tmpRoot, { recursive: true, force: true }));
    // An empty ESP: OVMF finds nothing to boot and waits in its boot manager forever.
    await assert.rejects(bootEsp(new Map(), { timeoutMs: 5_000, tmpRoot }), /qemu-system-x86_64 killed after the 5 s time limit[\s\S]*serial console tail:/);
    assert.deepEqual(await readdir(tmpRoot), []);
    const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(tmpRoot));
    assert.deepEqual(leftovers, []);
  },
);
