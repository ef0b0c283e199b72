// The early-boot functions (packaging/boot-functions.sh) run by busybox's sh, the shell the
// initramfs-tools image runs them with: the kernel command line they accept and refuse.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';

const DIGEST = 'a'.repeat(64);

/** Sources the functions in busybox sh with `cmdline` as /proc/cmdline, runs `script`; vouch_die prints DIE and exits 3. */
function inBootShell(t: TestContext, cmdline: string, script: string): { status: number | null; out: string } | undefined {
  const busybox = peer(t, 'busybox');
  if (!busybox) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-boot-functions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cmdline'), `${cmdline}\n`);
  const prelude = `. '${join(repoRoot, 'packaging/boot-functions.sh')}'; vouch_die() { echo "DIE: $*"; exit 3; }; CMDLINE='${join(dir, 'cmdline')}'`;
  const r = spawnSync(busybox, ['sh', '-c', `${prelude}\n${script}`], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const SHOW = 'vouch_parse_cmdline "$CMDLINE"; echo "$VOUCH_COMPOSEFS|$VOUCH_STORE|$VOUCH_SERVER|$VOUCH_LUKS|$VOUCH_LUKS_NAME"';

test('the command line needs only composefs=; the store, volume and its name have defaults', (t) => {
  const r = inBootShell(t, `BOOT_IMAGE=/vmlinuz console=ttyS0 boot=vouch composefs=${DIGEST} quiet`, SHOW);
  if (!r) return;
  assert.equal(r.status, 0, r.out);
  assert.equal(r.out.trim(), `${DIGEST}|PARTLABEL=vouch-store||PARTLABEL=vouch-state|vouch-state`);
});

test('vouch.* arguments override the defaults', (t) => {
  const args = `composefs=${DIGEST} vouch.store=UUID=1234 vouch.server=https://vouch.example:8443 vouch.luks=/dev/vdb vouch.luks-name=state ip=dhcp`;
  const r = inBootShell(t, args, SHOW);
  if (!r) return;
  assert.equal(r.status, 0, r.out);
  assert.equal(r.out.trim(), `${DIGEST}|UUID=1234|https://vouch.example:8443|/dev/vdb|state`);
});

test('a boot naming no root image, or not by a SHA-256 digest, stops before anything is mounted', (t) => {
  const cases: [string, RegExp][] = [
    ['console=ttyS0 boot=vouch', /DIE: no composefs=<digest> on the kernel command line/],
    [`composefs=${DIGEST.slice(1)}`, /DIE: composefs=a{63} is not a SHA-256 digest \(64 hex digits\)/],
    [`composefs=${'A'.repeat(64)}`, /DIE: composefs=A{64} is not a lower-case hex SHA-256 digest/],
    // A digest is used as a file name under images/: nothing but hex may reach the path.
    ['composefs=../../../../etc/passwd', /DIE: composefs=\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd is not a lower-case hex SHA-256 digest/],
  ];
  for (const [cmdline, expected] of cases) {
    const r = inBootShell(t, cmdline, SHOW);
    if (!r) return;
    assert.equal(r.status, 3, r.out);
    assert.match(r.out, expected);
  }
});

test('a device that does not appear is given up on after the wait, by name', (t) => {
  const r = inBootShell(t, `composefs=${DIGEST}`, 'vouch_wait_device PARTLABEL=no-such-partition 0 && echo found || echo "gone $?"');
  if (!r) return;
  assert.equal(r.out.trim(), 'gone 1');
});

/** A fake /sys with network cards (name → MAC address; lo has none worth naming a node by). */
function fakeSysfs(t: TestContext, cards: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-boot-sysfs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, mac] of Object.entries(cards)) {
    mkdirSync(join(dir, 'class/net', name), { recursive: true });
    writeFileSync(join(dir, 'class/net', name, 'address'), `${mac}\n`);
  }
  return dir;
}

test("the node enrolls under DHCP's host name, lower-cased, else under its first network card's MAC address", (t) => {
  const sysfs = fakeSysfs(t, { lo: '00:00:00:00:00:00', enp1s0: '52:54:00:12:34:56', enp2s0: '52:54:00:ab:cd:ef' });
  const cases: [string, string][] = [
    ['Vouch-Lab-Node', 'vouch-lab-node'],
    ['node7.example.org', 'node7.example.org'],
    // ipconfig's placeholder, and names the server would refuse: the MAC address names the node.
    ['(none)', 'node-525400123456'],
    ['bad_name', 'node-525400123456'],
    ['-leading', 'node-525400123456'],
  ];
  for (const [hostname, expected] of cases) {
    const r = inBootShell(t, `composefs=${DIGEST}`, `HOSTNAME='${hostname}' VOUCH_SYSFS='${sysfs}' vouch_node_name`);
    if (!r) return;
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), expected, `HOSTNAME=${hostname}`);
  }
});

test('a node with neither a DHCP host name nor a network card stops the boot: it has no name to enroll under', (t) => {
  const sysfs = fakeSysfs(t, { lo: '00:00:00:00:00:00' });
  const r = inBootShell(t, `composefs=${DIGEST}`, `HOSTNAME='(none)' VOUCH_SYSFS='${sysfs}' vouch_node_name`);
  if (!r) return;
  assert.equal(r.status, 3, r.out);
  assert.match(r.out, /DIE: no host name from DHCP and no network card/);
});
