// The node boot lab: a VM booted the way a Vouch node boots. OVMF with Secure Boot starts a
// Vouch-built, Vouch-signed UKI (bookworm-backports' Linux 6.12 and systemd-stub 254) from the ESP
// of a GPT disk; its initramfs, made by the real mkinitramfs with Vouch's initramfs-tools hook
// (boot=vouch), mounts the composefs root from the disk's object store (EROFS + overlayfs,
// verity=require) and switches into it; a third partition is left blank for the node's LUKS2
// volume. The kernel, stub and mkinitramfs chroot come from scripts/nodelab-assets.sh.
//
// The store's objects carry fs-verity, which the host's kernel may lack: the store's file system
// is made with mkfs.ext4 -d (no mount) and sealed by the lab kernel itself, in a short VM booted
// straight into the lab initramfs with a sealing script appended (`fsverity enable` on every file).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootVm, cpioNewc, type BootOptions, type VmResult } from './bootlab.ts';
import { findTool } from './peers.ts';

/** What scripts/nodelab-assets.sh keeps: the backports kernel, systemd-stub 254 and the mkinitramfs chroot. */
export interface NodeLabAssets {
  readonly cache: string;
  readonly kernel: string;
  readonly kernelVersion: string;
  readonly stub: string;
  readonly stubVersion: string;
  readonly chroot: string;
}

/** The host tools the lab runs, with their Debian packages. */
const LAB_TOOLS: Readonly<Record<string, string>> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  swtpm: 'swtpm',
  busybox: 'busybox-static',
  openssl: 'openssl',
  debootstrap: 'debootstrap',
  sfdisk: 'fdisk',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  mmd: 'mtools',
  'mkfs.ext4': 'e2fsprogs',
  debugfs: 'e2fsprogs',
};

/** What the node lab lacks here (a tool, root, the cached assets), with what to install; undefined when it can run. */
export function nodeLabMissing(repoRoot: string): string | undefined {
  for (const [tool, pkg] of Object.entries(LAB_TOOLS)) if (!findTool(tool)) return `${tool} is not installed (Debian package ${pkg})`;
  if (process.getuid?.() !== 0) return 'the lab needs root (debootstrap and chroot for mkinitramfs)';
  try {
    nodeLabAssets(repoRoot);
  } catch (e) {
    return `scripts/nodelab-assets.sh failed: ${(e as Error).message.split('\n').slice(-3).join(' ')}`;
  }
  return undefined;
}

/** The cached assets, fetched and built by scripts/nodelab-assets.sh on first use. */
export function nodeLabAssets(repoRoot: string): NodeLabAssets {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/nodelab-assets.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const cache = out.trim().split('\n').pop()!;
  return {
    cache,
    kernel: join(cache, 'kernel/vmlinuz'),
    kernelVersion: readFileSync(join(cache, 'kernel/version'), 'utf8').trim(),
    stub: join(cache, 'stub/linuxx64.efi.stub'),
    stubVersion: readFileSync(join(cache, 'stub/version'), 'utf8').trim(),
    chroot: join(cache, 'chroot'),
  };
}

/** The lab's initramfs (scripts/nodelab-initramfs.sh: cached mkinitramfs), with `agent` as its vouch executable or none. */
export function nodeLabInitramfs(repoRoot: string, agent = 'none'): string {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/nodelab-initramfs.sh'), agent], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
  });
  return out.trim().split('\n').pop()!;
}

/**
 * The single `vouch` executable the agent boots' initramfs holds: $VOUCH_EXECUTABLE when set (a
 * `make executable` build), else built into `dir` by the same script.
 */
export async function nodeLabExecutable(dir: string): Promise<string> {
  const given = process.env.VOUCH_EXECUTABLE;
  if (given !== undefined && given !== '') return given;
  const { buildExecutable } = await import('../../scripts/build-executable.ts');
  return (await buildExecutable(dir)).executable;
}

/** Debian's lsinitramfs (run in the chroot, where initramfs-tools is) on `image`: the paths it holds. */
export async function listInitramfs(assets: NodeLabAssets, image: string): Promise<string[]> {
  const name = `lsinitramfs-${randomUUID()}.img`;
  await cp(image, join(assets.chroot, 'tmp', name));
  try {
    return execFileSync('chroot', [assets.chroot, 'lsinitramfs', `/tmp/${name}`], { encoding: 'utf8', maxBuffer: 1 << 26 })
      .split('\n')
      .filter((l) => l !== '');
  } finally {
    await rm(join(assets.chroot, 'tmp', name), { force: true });
  }
}

const MIB = 1 << 20;
/**
 * Partition sizes: the ESP holds one UKI (about 20 MiB, 60 MiB with the vouch executable in its
 * initramfs) and room for FAT's tables, the store a small root, the state partition a LUKS2
 * volume (16 MiB header).
 */
const MIN_ESP_MIB = 48;
const STORE_MIB = 64;
const STATE_MIB = 64;

/** Runs `cmd` synchronously with its output kept for the error message. */
function tool(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

const SEAL_SCRIPT = `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
modprobe virtio_blk
modprobe ext4
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || echo VOUCH-SEAL-FAILED mount
n=0
for f in $(find /mnt/objects /mnt/images -type f); do
  fsverity enable "$f" || echo "VOUCH-SEAL-FAILED $f"
  n=$((n + 1))
done
umount /mnt && echo "VOUCH-SEALED $n"
echo o >/proc/sysrq-trigger
`;

/**
 * The store partition: an ext4 file system with the verity feature (4 KiB blocks, as fs-verity's
 * default Merkle tree block needs) holding `store`'s objects/ and each EROFS image as
 * images/<name>.cfs (name → image file; the name is the digest the boot looks for), every file
 * then sealed with fs-verity by the lab kernel.
 */
export async function makeStorePartition(options: {
  readonly dir: string;
  readonly store: string;
  readonly images: ReadonlyMap<string, string>;
  readonly assets: NodeLabAssets;
  readonly initramfs: string;
}): Promise<string> {
  const staging = join(options.dir, 'store-fs');
  await mkdir(join(staging, 'images'), { recursive: true });
  await cp(join(options.store, 'objects'), join(staging, 'objects'), { recursive: true });
  for (const [name, image] of options.images) await cp(image, join(staging, 'images', `${name}.cfs`));
  const partition = join(options.dir, 'store.img');
  tool('mkfs.ext4', ['-q', '-F', '-b', '4096', '-O', 'verity', '-L', 'vouch-store', '-E', 'root_owner=0:0', '-d', staging, partition, `${STORE_MIB}M`]);
  // The lab initramfs with the sealing script appended as a second (uncompressed) archive.
  const initrd = join(options.dir, 'seal-initrd.img');
  const script = cpioNewc([{ path: 'vouch-seal', mode: 0o100755, data: new TextEncoder().encode(SEAL_SCRIPT) }]);
  // Linux reads an uncompressed archive only at a 4-byte boundary (zeros between archives are skipped).
  const base = await readFile(options.initramfs);
  await writeFile(initrd, Buffer.concat([base, Buffer.alloc((4 - (base.length % 4)) % 4), script]));
  const vm = await bootVm({
    firmware: false,
    args: [
      '-kernel',
      options.assets.kernel,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0 quiet panic=-1 no_timer_check rdinit=/vouch-seal',
      '-drive',
      `if=none,id=store,format=raw,file=${partition}`,
      '-device',
      'virtio-blk-pci,drive=store',
    ],
    tmpRoot: options.dir,
  });
  if (/VOUCH-SEAL-FAILED/.test(vm.serial) || !/VOUCH-SEALED \d+/.test(vm.serial)) {
    throw new Error(`sealing the store with fs-verity failed; serial console tail:\n${vm.serial.slice(-3000)}`);
  }
  return partition;
}

/**
 * Flips one byte of the file at `path` (inside the store partition) on the partition image itself,
 * below the file system, as an attacker with the disk would: fs-verity's Merkle tree still holds
 * the old digest, so reading that block must fail.
 */
export async function tamperFile(partition: string, path: string): Promise<void> {
  const block = Number(tool('debugfs', ['-R', `bmap ${path} 0`, partition]).trim());
  if (!Number.isInteger(block) || block <= 0) throw new Error(`debugfs found no data block for ${path}`);
  const file = await open(partition, 'r+');
  try {
    const offset = block * 4096 + 100;
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x01;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}

/**
 * The node's GPT disk: (1) the ESP with `uki` as \EFI\BOOT\BOOTX64.EFI, (2) vouch-store, the
 * sealed store partition, (3) vouch-state, blank, for the LUKS2 volume the agent formats on first
 * boot. Partitions are found by these GPT names (PARTLABEL=), the boot script's defaults.
 */
export async function makeNodeDisk(options: { readonly dir: string; readonly uki: Uint8Array; readonly storePartition: string }): Promise<string> {
  const esp = join(options.dir, 'esp.img');
  const espMib = Math.max(MIN_ESP_MIB, Math.ceil(options.uki.length / MIB) + 16);
  tool('mkfs.vfat', ['-C', '-n', 'ESP', esp, String(espMib * 1024)]);
  const ukiFile = join(options.dir, 'BOOTX64.EFI');
  await writeFile(ukiFile, options.uki);
  const mtools = { MTOOLS_SKIP_CHECK: '1' };
  tool('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT'], mtools);
  tool('mcopy', ['-i', esp, ukiFile, '::/EFI/BOOT/BOOTX64.EFI'], mtools);

  const disk = join(options.dir, 'node.img');
  const sizeMib = 1 + espMib + STORE_MIB + STATE_MIB + 1;
  const handle = await open(disk, 'w');
  await handle.truncate(sizeMib * MIB);
  await handle.close();
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', disk], {
    input: [
      'label: gpt',
      `size=${espMib}MiB, type=U, name=ESP`,
      `size=${STORE_MIB}MiB, type=L, name=vouch-store`,
      `size=${STATE_MIB}MiB, type=L, name=vouch-state`,
      '',
    ].join('\n'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await copyInto(disk, esp, partitionOffset(disk, 'ESP'));
  await copyInto(disk, options.storePartition, partitionOffset(disk, 'vouch-store'));
  return disk;
}

/** The byte offset of the partition named `name` in the GPT of `disk`. */
function partitionOffset(disk: string, name: string): number {
  const table = JSON.parse(tool('sfdisk', ['--json', disk])) as { partitiontable: { partitions: { start: number; name: string }[] } };
  const partition = table.partitiontable.partitions.find((p) => p.name === name);
  if (partition === undefined) throw new Error(`${disk} has no partition named ${name}`);
  return partition.start * 512;
}

/** Puts `uki` in place of the node disk's \EFI\BOOT\BOOTX64.EFI (a release's new UKI on a node that keeps its other partitions). */
export async function replaceUki(disk: string, uki: Uint8Array): Promise<void> {
  const ukiFile = `${disk}.BOOTX64.EFI`;
  await writeFile(ukiFile, uki);
  try {
    tool('mcopy', ['-o', '-i', `${disk}@@${partitionOffset(disk, 'ESP')}`, ukiFile, '::/EFI/BOOT/BOOTX64.EFI'], { MTOOLS_SKIP_CHECK: '1' });
  } finally {
    await rm(ukiFile, { force: true });
  }
}

/** Writes `file` into `disk` at byte `offset`, 1 MiB at a time, leaving runs of zeros as holes. */
async function copyInto(disk: string, file: string, offset: number): Promise<void> {
  const src = await open(file, 'r');
  const dst = await open(disk, 'r+');
  try {
    const buf = Buffer.alloc(MIB);
    for (let at = 0; ; at += MIB) {
      const { bytesRead } = await src.read(buf, 0, MIB, at);
      if (bytesRead === 0) break;
      if (buf.subarray(0, bytesRead).some((b) => b !== 0)) await dst.write(buf, 0, bytesRead, offset + at);
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Serial console milestones of a node boot, timed from QEMU's start. */
export const NODE_BOOT_MARKS = {
  /** OVMF hands control to the UKI (BdsDxe's "starting Boot####"). */
  firmwareDone: /BdsDxe: starting Boot/,
  /** The initramfs' boot method starts (kernel, systemd-stub and udev's coldplug are done). */
  initramfs: /vouch: boot=vouch composefs=/,
  /** The network is up and the agent starts (enrollment, a no-op once enrolled). */
  enrolling: /vouch: enrolling as /,
  /** Enrolled: the agent attests to unlock. */
  attesting: /vouch: attesting to /,
  /** The server released the key and the volume is open. */
  unlocked: /vouch: \S+ unlocked as \/dev\/mapper\//,
  /** The boot script has mounted the composefs root. */
  rootMounted: /vouch: composefs root [0-9a-f]{64} mounted/,
  /** The root's init has printed the marker read from the root. */
  marker: /VOUCH-ROOT-MARKER /,
} as const;

/** The server's address as the guest sees it: QEMU forwards it to the host's 127.0.0.1 (bootNodeDisk's serverPort). */
export const GUEST_SERVER_URL = 'http://10.0.2.100';

export interface NodeBootOptions extends BootOptions {
  /** A server the guest reaches as GUEST_SERVER_URL (QEMU user networking, restrict=on, guestfwd to 127.0.0.1:port). */
  readonly serverPort?: number;
  /** The host name QEMU's DHCP server gives the guest (default none). */
  readonly hostname?: string;
  /** Once the serial console matches this, the VM is killed and the boot counts as finished. */
  readonly stopWhen?: RegExp;
}

/**
 * Boots the node disk under OVMF (Secure Boot) with a fresh swtpm: the disk first in the boot
 * order. With `serverPort`, the guest has one network card on QEMU's user network with
 * restrict=on, so nothing leaves the VM but connections to 10.0.2.100:80, each forwarded to
 * 127.0.0.1:serverPort by a busybox nc that QEMU starts for it.
 */
export function bootNodeDisk(disk: string, options: NodeBootOptions = {}): Promise<VmResult> {
  const network =
    options.serverPort === undefined
      ? []
      : [
          '-netdev',
          `user,id=net0,restrict=on${options.hostname === undefined ? '' : `,hostname=${options.hostname}`},guestfwd=tcp:10.0.2.100:80-cmd:${findTool('busybox') ?? 'busybox'} nc 127.0.0.1 ${options.serverPort}`,
          // romfile= : no iPXE option ROM, so the firmware does not try to boot from the network.
          '-device',
          'virtio-net-pci,netdev=net0,romfile=',
        ];
  return bootVm({
    ...options,
    args: ['-drive', `if=none,id=disk,format=raw,file=${disk}`, '-device', 'virtio-blk-pci,drive=disk,bootindex=0', ...network],
    marks: NODE_BOOT_MARKS,
  });
}
