// Real firmware logs (google/go-tpm-tools internal/test/eventlogs): each replays to the PCRs its TPM
// quoted, for every bank, and the facts known about each log show up as decoded values and findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEventDigests, compareWithQuote, FindingKind, parseEventLog, replay, type EventLog, type Finding } from '../../src/eventlog/index.ts';
import { expectedPcrs, readRealLog, realLogNames } from './helpers.ts';

function load(name: string): EventLog {
  return parseEventLog(readRealLog(name));
}

function kinds(findings: readonly Finding[]): Set<string> {
  return new Set(findings.map((f) => f.kind));
}

for (const name of realLogNames) {
  test(`${name}: replay equals the quoted PCRs for every bank`, () => {
    const log = load(name);
    const replayed = replay(log);
    const expected = expectedPcrs[name]!;
    for (const bank of Object.keys(expected)) assert.ok(log.banks.includes(bank), `log carries ${bank}`);
    const comparison = compareWithQuote(replayed, expected);
    assert.deepEqual(comparison.mismatches, []);
    assert.equal(comparison.allMatch, true);
    assert.equal(
      comparison.entries.filter((e) => e.status === 'match').length,
      Object.values(expected).reduce((n, b) => n + Object.keys(b).length, 0),
    );
  });

  test(`${name}: no data-bound event is forged (only named quirks)`, () => {
    const digests = checkEventDigests(load(name));
    assert.deepEqual(
      digests.findings.filter((f) => f.kind === FindingKind.digestMismatch),
      [],
    );
  });
}

test('a changed quoted value is a per-PCR mismatch naming the events behind it', () => {
  const log = load('ubuntu-2104-no-dbx.bin');
  const quoted = structuredClone(expectedPcrs['ubuntu-2104-no-dbx.bin']!);
  quoted.sha256!['7'] = '00'.repeat(32);
  const comparison = compareWithQuote(replay(log), quoted);
  assert.equal(comparison.allMatch, false);
  assert.equal(comparison.mismatches.length, 1);
  const [m] = comparison.mismatches;
  assert.equal(m!.bank, 'sha256');
  assert.equal(m!.pcr, 7);
  assert.deepEqual(
    m!.events,
    log.events.filter((e) => e.pcr === 7).map((e) => e.index),
  );
});

test('glinux-alex: StartupLocality 3 sets PCR 0 initial value in every bank', () => {
  const log = load('glinux-alex.bin');
  const replayed = replay(log);
  assert.equal(replayed.banks.sha1!.startupLocality, 3);
  assert.equal(replayed.banks.sha256!.startupLocality, 3);
  const e1 = log.events[1]!;
  assert.deepEqual(e1.decoded, { kind: 'startup-locality', locality: 3 });
});

test('debian-10: legacy TCG 1.2 SHA-1 format', () => {
  const log = load('debian-10.bin');
  assert.equal(log.format, 'tcg-1.2-sha1');
  assert.deepEqual(log.banks, ['sha1']);
  assert.equal(log.specId, undefined);
});

test('arch-linux-workstation: zero-length SecureBoot variable and systemd-boot command line in PCR 8', () => {
  const log = load('arch-linux-workstation.bin');
  const secureBoot = log.events[3]!;
  assert.equal(secureBoot.decoded.kind, 'efi-variable');
  assert.ok(secureBoot.decoded.name === 'SecureBoot' && secureBoot.decoded.dataLength === 0);
  assert.ok(log.findings.some((f) => f.kind === FindingKind.zeroLengthVariable && f.event === 3));
  const cmdline = log.events[24]!;
  assert.ok(cmdline.decoded.kind === 'ipl' && cmdline.decoded.role === 'kernel-cmdline' && cmdline.decoded.text.endsWith('l1tf=off'));
  // The event is 365 bytes (half a UCS-2 NUL) but its digest covers the whole UCS-2 string with NUL.
  const check = checkEventDigests(log).events.find((c) => c.event === 24);
  assert.deepEqual(check, { event: 24, status: 'match', variant: 'systemd-boot < 251 (UCS-2 with NUL)' });
  const boot = log.events[19]!;
  assert.ok(boot.decoded.kind === 'efi-variable' && boot.decoded.value.kind === 'load-option');
  assert.equal(boot.decoded.value.option.description, 'Linux Boot Manager');
  assert.deepEqual(boot.decoded.value.option.devicePaths, ['HD(1,GPT,1a504613-19b5-4b44-a83d-d926d40daa1c,0x800,0x80000)/\\EFI\\SYSTEMD\\SYSTEMD-BOOTX64.EFI']);
  const app = log.events[22]!;
  assert.ok(app.decoded.kind === 'image-load');
  assert.equal(
    app.decoded.devicePath,
    'PciRoot(0x0)/Pci(0x17,0x0)/Sata(0x1,0xFFFF,0x0)/HD(1,GPT,1a504613-19b5-4b44-a83d-d926d40daa1c,0x800,0x80000)/\\EFI\\SYSTEMD\\SYSTEMD-BOOTX64.EFI',
  );
});

test('rhel8: RHEL GRUB prefixes, commands hashed with their NUL, the kernel command line without', () => {
  const log = load('rhel8-uefi.bin');
  const checks = new Map(checkEventDigests(log).events.map((c) => [c.event, c]));
  const grubCommands = log.events.filter((e) => e.decoded.kind === 'ipl' && e.decoded.role === 'grub-command');
  assert.ok(grubCommands.length > 40);
  for (const e of grubCommands) {
    assert.ok(e.decoded.kind === 'ipl' && e.decoded.prefixStyle === 'rhel');
    assert.equal(checks.get(e.index)?.variant, 'grub-rhel (text after prefix with NUL)');
  }
  const cmdline = log.events.find((e) => e.decoded.kind === 'ipl' && e.decoded.role === 'grub-kernel-cmdline')!;
  assert.equal(checks.get(cmdline.index)?.variant, 'grub-rhel (text after prefix)');
  assert.ok(cmdline.decoded.kind === 'ipl' && cmdline.decoded.value!.startsWith('(hd0,gpt2)/boot/vmlinuz-4.18.0'));
});

test('ubuntu-2104: upstream GRUB prefixes, shim MokList in PCR 14, SbatLevel, empty dbx, ExitBootServices', () => {
  const log = load('ubuntu-2104-no-dbx.bin');
  const checks = new Map(checkEventDigests(log).events.map((c) => [c.event, c]));
  const upstream = log.events.filter((e) => e.decoded.kind === 'ipl' && e.decoded.prefixStyle === 'upstream');
  assert.ok(upstream.length > 60);
  for (const e of upstream) assert.equal(checks.get(e.index)?.variant, 'grub-upstream (text after prefix)');
  assert.deepEqual(
    log.events.filter((e) => e.pcr === 14).map((e) => e.decoded.kind === 'ipl' && e.decoded.role === 'shim-mok' && e.decoded.value),
    ['MokList', 'MokListX'],
  );
  const sbat = log.events[26]!;
  assert.ok(sbat.decoded.kind === 'efi-variable' && sbat.decoded.value.kind === 'sbat' && sbat.decoded.value.text.startsWith('sbat,1,2021030218'));
  assert.ok(log.findings.some((f) => f.kind === FindingKind.zeroLengthVariable && f.event === 7));
  assert.ok(!kinds(log.findings).has(FindingKind.missingExitBootServices));
  const bootVariables = log.events.filter((e) => e.typeName === 'EV_EFI_VARIABLE_BOOT');
  assert.ok(bootVariables.every((e) => checks.get(e.index)?.variant === 'variable-data-only (edk2)'));
});

test('debian-10 and cos-85: old shim authority events are a named quirk, not a forgery', () => {
  for (const [name, events] of [
    ['debian-10.bin', [23]],
    ['cos-85-amd-sev.bin', [24, 42]],
  ] as const) {
    const log = load(name);
    const digests = checkEventDigests(log);
    assert.deepEqual(
      digests.findings.filter((f) => f.kind === FindingKind.knownDigestQuirk).map((f) => f.event),
      events,
    );
    for (const i of events) assert.ok(log.findings.some((f) => f.kind === FindingKind.trailingEventData && f.event === i));
  }
});

test('every decoded event of every real log is JSON round-trippable', () => {
  for (const name of realLogNames) {
    for (const event of load(name).events) {
      assert.deepEqual(JSON.parse(JSON.stringify(event.decoded)), event.decoded);
      assert.notEqual(event.decoded.kind, 'undecodable', `${name} event #${event.index}`);
    }
  }
});
