// The real boot lab: Debian's OVMF (Secure Boot on, snakeoil keys), swtpm as its TPM, QEMU q35
// with TCG, booting a UKI from a FAT disk QEMU synthesizes from a directory (vvfat). The UKI's
// initrd is busybox plus an init script that prints the firmware event log (base64) and every PCR
// of every bank to the serial port, then powers off. Nothing here is mocked: the PCRs are what
// real edk2, systemd-stub and Linux measured into a real TPM 2.0 emulator.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { findTool } from './peers.ts';

export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  snakeoilVars: '/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd',
  /** Microsoft's KEK and db (UEFI CA 2011): what Debian's Microsoft-signed shim needs. */
  microsoftVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
  snakeoilKey: '/usr/share/ovmf/PkKek-1-snakeoil.key',
  snakeoilCert: '/usr/share/ovmf/PkKek-1-snakeoil.pem',
  /** Debian's README.Debian for ovmf gives it; the key is a public test key. */
  snakeoilPassphrase: 'snakeoil',
} as const;
export const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const BANKS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

/** What the lab needs and does not have (tools, firmware, the cached kernel), or undefined when it can run. */
export function bootlabMissing(repoRoot: string): string | undefined {
  for (const tool of ['qemu-system-x86_64', 'swtpm', 'busybox']) if (!findTool(tool)) return `${tool} is not installed`;
  for (const file of [OVMF.code, OVMF.snakeoilVars, OVMF.snakeoilKey, SYSTEMD_STUB]) if (!existsSync(file)) return `${file} is missing`;
  try {
    bootlabKernel(repoRoot);
  } catch (e) {
    return `no Debian kernel for the lab (scripts/bootlab-assets.sh failed: ${(e as Error).message.split('\n')[0]})`;
  }
  return undefined;
}

/** The Debian kernel scripts/bootlab-assets.sh caches (fetching it on first use). */
export function bootlabKernel(repoRoot: string): string {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/bootlab-assets.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return join(out.trim().split('\n').pop()!, 'vmlinuz');
}

/** A newc cpio archive (the initramfs format, Linux Documentation/driver-api/early-userspace). */
export function cpioNewc(entries: readonly { readonly path: string; readonly mode: number; readonly data?: Uint8Array }[]): Uint8Array {
  const chunks: Buffer[] = [];
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const header = (ino: number, mode: number, size: number, name: string): void => {
    const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, name.length + 1, 0];
    const h = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('') + name + '\0', 'latin1');
    chunks.push(h, pad4(h.length));
  };
  entries.forEach((e, i) => {
    const data = Buffer.from(e.data ?? new Uint8Array(0));
    header(i + 1, e.mode, data.length, e.path);
    chunks.push(data, pad4(data.length));
  });
  header(0, 0, 0, 'TRAILER!!!');
  return new Uint8Array(Buffer.concat(chunks));
}

const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t securityfs securityfs /sys/kernel/security
echo VOUCH-LOG-BEGIN
/bin/busybox base64 /sys/kernel/security/tpm0/binary_bios_measurements
echo VOUCH-LOG-END
for bank in ${BANKS.join(' ')}; do for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 23; do
  echo "VOUCH-PCR $bank $i $(/bin/busybox cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
done; done
echo VOUCH-DONE
/bin/busybox poweroff -f
`;

/** The lab's initrd: static busybox and the init script above (gzip, deterministic). */
export async function bootlabInitrd(): Promise<Uint8Array> {
  const busybox = await readFile(findTool('busybox')!);
  const dir = 0o040755;
  const file = 0o100755;
  const archive = cpioNewc([
    { path: 'bin', mode: dir },
    { path: 'bin/busybox', mode: file, data: busybox },
    { path: 'proc', mode: dir },
    { path: 'sys', mode: dir },
    { path: 'dev', mode: dir },
    { path: 'init', mode: file, data: new TextEncoder().encode(INIT_SCRIPT) },
  ]);
  return new Uint8Array(gzipSync(archive, { level: 6 }));
}

export interface BootResult {
  /** The firmware event log the kernel exposed. */
  readonly eventLog: Uint8Array;
  /** bank → PCR → lower-case hex, as the kernel read them from the TPM. */
  readonly pcrs: Record<string, Record<string, string>>;
  readonly serial: string;
}

function parseSerial(serial: string): BootResult {
  const text = serial.replace(/\r/g, '');
  const begin = text.indexOf('VOUCH-LOG-BEGIN\n');
  const end = text.indexOf('VOUCH-LOG-END');
  if (begin < 0 || end < 0 || !text.includes('VOUCH-DONE')) {
    throw new Error(`the lab VM did not print its measurements; serial console tail:\n${text.slice(-3000)}`);
  }
  const eventLog = new Uint8Array(Buffer.from(text.slice(begin + 'VOUCH-LOG-BEGIN\n'.length, end).replace(/\s+/g, ''), 'base64'));
  const pcrs: Record<string, Record<string, string>> = {};
  for (const m of text.matchAll(/^VOUCH-PCR (\w+) (\d+) ([0-9A-Fa-f]+)$/gm)) {
    (pcrs[m[1]!] ??= {})[m[2]!] = m[3]!.toLowerCase();
  }
  return { eventLog, pcrs, serial: text };
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited with ${code ?? signal}: ${stderr.slice(-2000)}`));
    });
  });
}

export interface BootOptions {
  /** The OVMF variable store template to start from (default: the snakeoil keys). */
  readonly vars?: string;
  readonly timeoutMs?: number;
}

/** Boots `uki` (signed for the snakeoil db) as \EFI\BOOT\BOOTX64.EFI. */
export function bootUki(uki: Uint8Array, options: BootOptions = {}): Promise<BootResult> {
  return bootEsp(new Map([['EFI/BOOT/BOOTX64.EFI', uki]]), options);
}

/**
 * Boots whatever the ESP holds (path → bytes; the firmware starts \EFI\BOOT\BOOTX64.EFI) under
 * OVMF with a fresh swtpm, and returns what the VM printed. Everything lives in a temp dir removed
 * afterwards; swtpm runs with --terminate (it exits when QEMU closes the control channel) and is
 * killed by its pid if it outlives QEMU.
 */
export async function bootEsp(files: ReadonlyMap<string, Uint8Array>, options: BootOptions = {}): Promise<BootResult> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bootlab-'));
  const tpmDir = join(dir, 'tpm');
  const esp = join(dir, 'esp');
  const ctrl = join(tpmDir, 'ctrl.sock');
  const pidFile = join(tpmDir, 'swtpm.pid');
  try {
    await mkdir(tpmDir);
    for (const [path, bytes] of files) {
      await mkdir(dirname(join(esp, path)), { recursive: true });
      await writeFile(join(esp, path), bytes);
    }
    await copyFile(options.vars ?? OVMF.snakeoilVars, join(dir, 'vars.fd'));
    // --daemon returns once the control socket exists, so QEMU never races its creation.
    await run('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${tpmDir}`, '--ctrl', `type=unixio,path=${ctrl}`, '--pid', `file=${pidFile}`, '--terminate', '--daemon'], 30_000);
    const serialFile = join(dir, 'serial.log');
    await run(
      'qemu-system-x86_64',
      [
        '-machine', 'q35,smm=on,accel=tcg', '-m', '512', '-nographic', '-no-reboot', '-nodefaults', '-nic', 'none',
        '-global', 'driver=cfi.pflash01,property=secure,value=on',
        '-drive', `if=pflash,format=raw,unit=0,file=${OVMF.code},readonly=on`,
        '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`,
        '-chardev', `socket,id=chrtpm,path=${ctrl}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0',
        '-drive', `format=raw,file=fat:rw:${esp}`,
        '-serial', `file:${serialFile}`, '-monitor', 'none',
      ],
      options.timeoutMs ?? 240_000,
    );
    return parseSerial(await readFile(serialFile, 'utf8'));
  } finally {
    if (existsSync(pidFile)) {
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone: --terminate ended it with QEMU
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}
