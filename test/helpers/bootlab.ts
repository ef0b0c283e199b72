// The real boot lab: Debian's OVMF (Secure Boot on, snakeoil keys), swtpm as its TPM, QEMU q35
// with TCG, booting a UKI from a FAT disk QEMU synthesizes from a directory (vvfat). The UKI's
// initrd is busybox plus an init script that prints the firmware event log (base64) and every PCR
// of every bank to the serial port, then powers off. Nothing here is mocked: the PCRs are what
// real edk2, systemd-stub and Linux measured into a real TPM 2.0 emulator.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/** Children still running, killed if the test process exits first (a cancelled or failed test run). */
const running = new Set<ReturnType<typeof spawn>>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `cmd` (stderr kept); `exited(timeoutMs, expected)` resolves when it exits with 0, or
 * killed when `expected()` says the kill was ours, and rejects otherwise; past `timeoutMs` it is
 * killed and the error says so.
 */
function spawnTracked(
  cmd: string,
  args: readonly string[],
): { child: ReturnType<typeof spawn>; exited(timeoutMs: number, expected?: () => boolean): Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    async exited(timeoutMs, expected = () => false) {
      const limit = { reached: false };
      const timer = setTimeout(() => {
        limit.reached = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const { code, signal } = await exit.finally(() => clearTimeout(timer));
      if (code === 0 || (!limit.reached && expected())) return;
      if (limit.reached) throw new Error(`${cmd} killed after the ${timeoutMs / 1000} s time limit${stderr ? `; stderr: ${stderr.slice(-2000)}` : ''}`);
      throw new Error(`${cmd} exited with ${code ?? signal}: ${stderr.slice(-2000)}`);
    },
  };
}

/** Runs `cmd` to completion; past `timeoutMs` it is killed and the error says so. */
function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<void> {
  return spawnTracked(cmd, args).exited(timeoutMs);
}

export interface BootOptions {
  /** The OVMF variable store template to start from (default: the snakeoil keys). */
  readonly vars?: string;
  /**
   * How long the VM may run before QEMU is killed (default 420 s: a boot takes 12 s on an idle
   * core, four side by side on a loaded 2-core machine were seen to need over 240 s).
   */
  readonly timeoutMs?: number;
  /** Where the VM's temporary directory is made (default os.tmpdir()); it is removed afterwards. */
  readonly tmpRoot?: string;
  /** The VM's memory (default 512 MiB). */
  readonly memoryMib?: number;
  /**
   * The swtpm's state directory, kept after the boot: a node's TPM across its boots (the same EK,
   * and the same storage seed under which its AK blobs load). Default: a fresh TPM per boot.
   */
  readonly tpmState?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends the daemonized swtpm (not our child, so no exit event): SIGTERM, then SIGKILL if it is
 * still there after 5 s, and returns once it is gone (or after 10 s), so no TPM outlives its test.
 */
async function stopDaemon(pid: number): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return; // --terminate ended it with QEMU
  process.kill(pid, 'SIGTERM');
  // Bounded: an exited daemon whose parent (init in a container) never reaps it stays a zombie.
  for (let waited = 0; alive(pid) && waited < 10_000; waited += 50) {
    if (waited === 5000) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The last lines of the serial console, for a boot that went wrong. */
async function serialTail(file: string): Promise<string> {
  const text = existsSync(file) ? (await readFile(file, 'utf8')).replace(/\r/g, '') : '';
  return text === '' ? '(the serial console printed nothing)' : text.slice(-3000);
}

/** Boots `uki` (signed for the snakeoil db) as \EFI\BOOT\BOOTX64.EFI. */
export function bootUki(uki: Uint8Array, options: BootOptions = {}): Promise<BootResult> {
  return bootEsp(new Map([['EFI/BOOT/BOOTX64.EFI', uki]]), options);
}

/**
 * Boots whatever the ESP holds (path → bytes; the firmware starts \EFI\BOOT\BOOTX64.EFI) under
 * OVMF with a fresh swtpm, and returns what the VM printed. Everything lives in a temp dir removed
 * afterwards.
 */
export async function bootEsp(files: ReadonlyMap<string, Uint8Array>, options: BootOptions = {}): Promise<BootResult> {
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'vouch-bootlab-esp-'));
  try {
    const esp = join(dir, 'esp');
    await mkdir(esp);
    for (const [path, bytes] of files) {
      await mkdir(dirname(join(esp, path)), { recursive: true });
      await writeFile(join(esp, path), bytes);
    }
    const vm = await bootVm({ ...options, args: ['-drive', `format=raw,file=fat:rw:${esp}`] });
    return parseSerial(vm.serial);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface VmOptions extends BootOptions {
  /** QEMU arguments for the VM's disks, network and (without firmware) kernel. */
  readonly args: readonly string[];
  /** false: no OVMF and no TPM (a direct kernel boot with -kernel in `args`). Default true. */
  readonly firmware?: boolean;
  /** Once the serial console matches this, QEMU is killed and the boot counts as finished. */
  readonly stopWhen?: RegExp;
  /** Serial console patterns whose first appearance is timed (name → pattern). */
  readonly marks?: Readonly<Record<string, RegExp>>;
}

export interface VmResult {
  readonly serial: string;
  /** When each of `marks` first appeared on the serial console, in ms since QEMU started (absent: never). */
  readonly marks: Readonly<Record<string, number>>;
}

/**
 * Watches the serial console file while QEMU runs: times the first appearance of each mark and
 * kills QEMU when `stopWhen` matches. Polled, not timed by the test: the figures are reported,
 * never asserted.
 */
function watchSerial(file: string, options: VmOptions, stop: () => void): { readonly marks: Record<string, number>; close(): void } {
  const started = Date.now();
  const marks: Record<string, number> = {};
  const check = (): void => {
    const text = existsSync(file) ? readFileSync(file, 'latin1') : '';
    for (const [name, pattern] of Object.entries(options.marks ?? {})) if (!(name in marks) && pattern.test(text)) marks[name] = Date.now() - started;
    if (options.stopWhen?.test(text)) stop();
  };
  const timer = setInterval(check, 100);
  return {
    marks,
    close: () => {
      clearInterval(timer);
      check();
    },
  };
}

/**
 * Runs one VM: QEMU q35 with TCG, its serial console in a file; with `firmware` (the default) OVMF
 * with Secure Boot from a copy of `vars`, and a fresh swtpm as its TPM. A VM that hangs is killed
 * at the time limit and the error carries its serial console. swtpm runs with --terminate (it
 * exits when QEMU closes the control channel) and is killed by its pid if it outlives QEMU; the
 * VM's temp dir is removed afterwards.
 */
export async function bootVm(options: VmOptions): Promise<VmResult> {
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'vouch-bootlab-'));
  const tpmDir = options.tpmState ?? join(dir, 'tpm');
  const ctrl = join(dir, 'swtpm-ctrl.sock');
  const pidFile = join(dir, 'swtpm.pid');
  const serialFile = join(dir, 'serial.log');
  const firmware = options.firmware ?? true;
  try {
    const platform: string[] = [];
    if (firmware) {
      await mkdir(tpmDir, { recursive: true });
      await copyFile(options.vars ?? OVMF.snakeoilVars, join(dir, 'vars.fd'));
      // --daemon returns once the control socket exists, so QEMU never races its creation.
      await run(
        'swtpm',
        ['socket', '--tpm2', '--tpmstate', `dir=${tpmDir}`, '--ctrl', `type=unixio,path=${ctrl}`, '--pid', `file=${pidFile}`, '--terminate', '--daemon'],
        30_000,
      );
      platform.push(
        '-global',
        'driver=cfi.pflash01,property=secure,value=on',
        '-drive',
        `if=pflash,format=raw,unit=0,file=${OVMF.code},readonly=on`,
        '-drive',
        `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`,
        '-chardev',
        `socket,id=chrtpm,path=${ctrl}`,
        '-tpmdev',
        'emulator,id=tpm0,chardev=chrtpm',
        '-device',
        'tpm-tis,tpmdev=tpm0',
      );
    }
    let stopped = false;
    const qemu = spawnTracked('qemu-system-x86_64', [
      '-machine',
      `q35,smm=${firmware ? 'on' : 'off'},accel=tcg`,
      '-m',
      String(options.memoryMib ?? 512),
      '-nographic',
      '-no-reboot',
      '-nodefaults',
      ...(options.args.includes('-netdev') ? [] : ['-nic', 'none']),
      ...platform,
      ...options.args,
      '-serial',
      `file:${serialFile}`,
      '-monitor',
      'none',
    ]);
    const watch = watchSerial(serialFile, options, () => {
      stopped = true;
      qemu.child.kill('SIGKILL');
    });
    await qemu
      .exited(options.timeoutMs ?? 420_000, () => stopped)
      .catch(async (e: unknown) => {
        throw new Error(`${(e as Error).message}\nserial console tail:\n${await serialTail(serialFile)}`);
      })
      .finally(() => watch.close());
    return { serial: (await readFile(serialFile, 'utf8')).replace(/\r/g, ''), marks: watch.marks };
  } finally {
    if (existsSync(pidFile)) await stopDaemon(Number((await readFile(pidFile, 'utf8')).trim()));
    await rm(dir, { recursive: true, force: true });
  }
}
