// Shared by the sealing tests: policy keys, a UKI whose PCR 11 Vouch predicts per boot phase,
// machines whose TPM (sim: or swtpm) reboots, and systemd's tools (Debian 12's systemd 252 keeps
// systemd-measure out of PATH).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fromHex } from '../../src/bytes/index.ts';
import { buildUki, parseBootProfile, predict, type Prediction, type UkiParts } from '../../src/predict/index.ts';
import { Tpm } from '../../src/tpm/client.ts';
import { TPM_ALG } from '../../src/tpm/constants.ts';
import { createSimulator } from '../../src/tpm/sim/index.ts';
import { packageFile } from '../helpers/peers.ts';
import { SYSTEMD_STUB } from '../helpers/bootlab.ts';
import { run, startSwtpm } from '../helpers/swtpm.ts';

export const SYSTEMD_MEASURE = '/usr/lib/systemd/systemd-measure';
export const SYSTEMD_CRYPTSETUP = '/usr/lib/systemd/systemd-cryptsetup';
/** The phases systemd-measure signs by default (src/boot/measure.c). */
export const SYSTEMD_PHASES = ['enter-initrd', 'leave-initrd', 'sysinit', 'ready'] as const;

export interface PolicyKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly privatePem: string;
  readonly publicPem: string;
}

export function policyKey(kind: 'rsa' | 'ec'): PolicyKey {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    ...pair,
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Whether Debian's systemd-stub is installed (else the test is unavailable, failing under CI). */
export function haveStub(t: TestContext): boolean {
  return packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi');
}

export async function readStub(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(SYSTEMD_STUB));
}

/** A UKI of `parts` on Debian's stub and its prediction (systemd-stub 252, the given phases, sha1 + sha256 banks). */
export function predictUki(
  stub: Uint8Array,
  parts: Omit<UkiParts, 'stub'>,
  phases: readonly string[] = SYSTEMD_PHASES,
): { uki: Uint8Array; prediction: Prediction } {
  const uki = buildUki({ stub, ...parts });
  const profile = parseBootProfile({
    banks: ['sha1', 'sha256'],
    chain: [{ kind: 'uki', image: 'uki', authority: 'none', stubVersion: 252, phases: [...phases] }],
  });
  return { uki, prediction: predict(profile, new Map([['uki', uki]])) };
}

/** A machine whose TPM can be rebooted: `tpm` is the TPM of the current boot. */
export interface Machine {
  tpm: Tpm;
  reboot(): Promise<void>;
}

/** sim: with its state in a file: a reboot closes the TPM and opens the state again. */
export async function simMachine(t: TestContext): Promise<Machine> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-sealing-'));
  const statePath = join(dir, 'tpm.json');
  const machine: Machine = {
    tpm: new Tpm(await createSimulator({ statePath })),
    async reboot() {
      await machine.tpm.close();
      machine.tpm = new Tpm(await createSimulator({ statePath }));
    },
  };
  t.after(async () => {
    await machine.tpm.close();
    await rm(dir, { recursive: true, force: true });
  });
  return machine;
}

/** swtpm: a reboot is Shutdown(CLEAR), a power cycle through the control channel, then Startup(CLEAR) as firmware sends it. */
export async function swtpmMachine(t: TestContext): Promise<Machine | undefined> {
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm?.uri) return undefined;
  const machine: Machine = {
    tpm: await Tpm.open(swtpm.uri),
    async reboot() {
      await machine.tpm.shutdown('clear');
      await machine.tpm.close();
      machine.tpm = await Tpm.open(`${swtpm.uri!},poweron`);
      await machine.tpm.startup();
    },
  };
  t.after(() => machine.tpm.close());
  return machine;
}

/** What firmware and systemd-stub (and systemd-pcrphase) extend for `pcrs` up to the initrd, as predicted. */
export async function bootInto(tpm: Tpm, prediction: Prediction, pcrs: readonly number[]): Promise<void> {
  for (const e of prediction.events) {
    if (!pcrs.includes(e.pcr)) continue;
    await tpm.pcrExtend(e.pcr, [{ hashAlg: TPM_ALG.SHA256, digest: fromHex(e.digests.sha256!) }]);
  }
}

type RunResult = Awaited<ReturnType<typeof run>>;

/**
 * A 32 MiB LUKS2 volume at `image` (a cheap PBKDF: the tests measure the TPM, not the KDF), with a
 * passphrase keyslot, then a TPM2 token that systemd-cryptenroll binds to the PCR policy key `pcrpkey`
 * (a PEM file) for `pcrs`. Returns the failing step's result, or enroll's.
 */
export async function enrollLuksVolume(image: string, tcti: string, pcrpkey: string, pcrs: readonly number[]): Promise<RunResult> {
  const passphrase = 'enrollment passphrase';
  await writeFile(image, new Uint8Array(32 << 20));
  await writeFile(`${image}.passphrase`, passphrase);
  const options = ['--type', 'luks2', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', `${image}.passphrase`];
  const format = await run('cryptsetup', ['luksFormat', ...options, image]);
  if (format.code !== 0) return format;
  return run(
    'systemd-cryptenroll',
    [`--tpm2-device=${tcti}`, `--tpm2-public-key=${pcrpkey}`, `--tpm2-public-key-pcrs=${pcrs.join('+')}`, '--tpm2-pcrs=', image],
    {
      ...process.env,
      PASSWORD: passphrase,
    },
  );
}

/** systemd-cryptsetup attach with debug logging; the LUKS passphrase prompt is off (headless), so only the TPM can unlock. */
export function systemdAttach(image: string, tcti: string, signature: string): Promise<RunResult> {
  return run(SYSTEMD_CRYPTSETUP, ['attach', 'vouch-test', image, '-', `tpm2-device=${tcti},tpm2-signature=${signature},headless`], {
    ...process.env,
    SYSTEMD_LOG_LEVEL: 'debug',
    // Without udev running, libdevmapper would wait for udev's confirmation of a device it cannot create anyway.
    DM_DISABLE_UDEV: '1',
  });
}
