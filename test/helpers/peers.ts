// Real peers (swtpm, tpm2-tools, sbsign, fsverity, fsck.erofs, qemu...) are installed by
// scripts/install-deps.sh. A test that needs one calls `peer(t, 'tool')`: present → the path;
// missing → the test fails under CI (a missing install step must be loud) and is skipped
// with a reason on a developer machine. Files from Debian packages, root and kernel features
// go through `unavailable` the same way, so no test is ever skipped silently.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

const cache = new Map<string, string | undefined>();

export function findTool(name: string): string | undefined {
  if (!cache.has(name)) {
    let path: string | undefined;
    try {
      path = execFileSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      path = undefined;
    }
    cache.set(name, path);
  }
  return cache.get(name);
}

/** A CI run (CI=true, as CI services set it): there every peer, file and privilege must be present. */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Does without something a test needs: under CI the test fails with `what` and `remedy`; on a
 * developer machine it is skipped with them as the reason, which the spec reporter prints.
 */
export function unavailable(t: TestContext, what: string, remedy: string): void {
  const message = `${what}: ${remedy}`;
  if (underCi()) throw new Error(message);
  t.skip(message);
}

export function installHint(debianPackage: string): string {
  return `install the Debian package ${debianPackage} (scripts/install-deps.sh does, run as root)`;
}

/** The Debian package of each peer tool a test or the boot lab runs. */
const PACKAGE_OF_TOOL: Readonly<Record<string, string>> = {
  blkid: 'util-linux',
  busybox: 'busybox-static',
  'clevis-luks-bind': 'clevis-luks',
  'cert-to-efi-sig-list': 'efitools',
  'dump.erofs': 'erofs-utils',
  'fsck.erofs': 'erofs-utils',
  fsverity: 'fsverity',
  getfattr: 'attr',
  'mkfs.ext4': 'e2fsprogs',
  'hash-to-efi-sig-list': 'efitools',
  objdump: 'binutils',
  openssl: 'openssl',
  osslsigncode: 'osslsigncode',
  'qemu-system-x86_64': 'qemu-system-x86',
  sbsign: 'sbsigntool',
  sbverify: 'sbsigntool',
  setfattr: 'attr',
  sfdisk: 'fdisk',
  'sig-list-to-certs': 'efitools',
  'sign-efi-sig-list': 'efitools',
  swtpm: 'swtpm',
  swtpm_setup: 'swtpm-tools',
  tar: 'tar',
};

/** The Debian package that provides `tool` (tpm2_* come from tpm2-tools). */
export function packageOfTool(tool: string): string {
  return PACKAGE_OF_TOOL[tool] ?? (tool.startsWith('tpm2_') ? 'tpm2-tools' : tool);
}

/** Returns the tool's path, or skips (locally) / fails (CI) the test when it is missing. */
export function peer(t: TestContext, name: string): string | undefined {
  const path = findTool(name);
  if (path) return path;
  unavailable(t, `peer tool ${name} is not installed`, installHint(packageOfTool(name)));
  return undefined;
}

/** Whether a file a Debian package installs (firmware, signed boot binaries, the systemd stub) is there; if not, `unavailable`. */
export function packageFile(t: TestContext, path: string, debianPackage: string): boolean {
  if (existsSync(path)) return true;
  unavailable(t, `${path} is missing`, installHint(debianPackage));
  return false;
}

/** Whether the test runs as root (mount, mknod, trusted.* xattrs, chown); if not, `unavailable` with `why`. */
export function asRoot(t: TestContext, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  unavailable(t, `${why} needs root`, 'run the suite as root (sudo make test)');
  return false;
}
