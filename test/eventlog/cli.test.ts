// `vouch eventlog show|replay`, run in-process with injected streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonError, JsonResult } from '../helpers/cli.ts';
import { expectedPcrs, vouch } from './helpers.ts';

const ubuntu = 'test/vectors/eventlogs/ubuntu-2104-no-dbx.bin';
const alex = 'test/vectors/eventlogs/glinux-alex.bin';

test('eventlog show: one line per event with PCR, type, digest prefix and decoded summary', async () => {
  const { code, stdout } = await vouch(['eventlog', 'show', ubuntu]);
  assert.equal(code, 0);
  const lines = stdout.split('\n');
  assert.match(lines[0]!, /^crypto-agile log, banks sha1, sha256, sha384, 112 events/);
  assert.ok(
    lines.some((l) =>
      /^# 23 PCR {2}4 EV_EFI_BOOT_SERVICES_APPLICATION d99c93fcb042 PciRoot\(0x0\)\/Pci\(0x3,0x0\)\/Scsi\(0x1,0x0\)\/HD\(15,GPT,.*\\EFI\\ubuntu\\shimx64\.efi$/.test(
        l,
      ),
    ),
  );
  assert.ok(lines.some((l) => / PCR {2}8 EV_IPL .* grub-kernel-cmdline: \/boot\/vmlinuz-5\.11\.0-1008-gcp root=/.test(l)));
  assert.ok(lines.some((l) => / zero-length-variable: event #7/.test(l)));
});

test('eventlog show --json: decoded events with digests as hex and signature lists decoded', async () => {
  const { code, stdout } = await vouch(['eventlog', 'show', ubuntu, '--json', '--pcr', '7']);
  assert.equal(code, 0);
  interface ShownEvent {
    pcr: number;
    digests: Record<string, string>;
    decoded: { name?: string; value?: { kind: string; lists: { type: string; signatures: { subject?: string }[] }[] } };
  }
  const { result, error } = JSON.parse(stdout) as JsonResult<{ events: ShownEvent[] }>;
  assert.equal(error, null);
  assert.ok(result.events.every((e) => e.pcr === 7));
  const db = result.events.find((e) => e.decoded.name === 'db');
  assert.equal(db?.decoded.value?.kind, 'signature-lists');
  assert.ok(db.decoded.value.lists.some((l) => l.type === 'x509' && l.signatures.some((s) => /Microsoft/.test(s.subject ?? ''))));
  assert.match(db.digests.sha256 ?? '', /^[0-9a-f]{64}$/);
});

test('eventlog replay --bank --expect: PCR values, match, exit 3 and the events on mismatch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-eventlog-'));
  try {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify({ pcrs: expectedPcrs['glinux-alex.bin'] }));
    const ok = await vouch(['eventlog', 'replay', alex, '--bank', 'sha1', '--expect', good]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^sha1: \(startup locality 3\)\n {3}0: 29d236609a5f9cc6912af44ba5f57b13a17c8a84\n/);
    assert.match(ok.stdout, /all expected PCRs match/);

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ sha256: { ...expectedPcrs['glinux-alex.bin']!.sha256, 4: '00'.repeat(32) } }));
    const mismatch = await vouch(['eventlog', 'replay', alex, '--expect', bad, '--json']);
    assert.equal(mismatch.code, 3);
    const { result } = JSON.parse(mismatch.stdout) as JsonResult<{
      comparison: { allMatch: boolean; mismatches: { bank: string; pcr: number; events: number[] }[] };
      banks: Record<string, unknown>;
    }>;
    assert.equal(result.comparison.allMatch, false);
    assert.deepEqual(
      result.comparison.mismatches.map((m) => [m.bank, m.pcr, m.events.length > 0]),
      [['sha256', 4, true]],
    );
    assert.deepEqual(Object.keys(result.banks), ['sha1', 'sha256']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every shared log: show gives one readable line per event; replay --expect expected-pcrs.json (keyed by log name) matches every bank', async () => {
  for (const name of Object.keys(expectedPcrs)) {
    const file = `test/vectors/eventlogs/${name}`;
    const shown = await vouch(['eventlog', 'show', file]);
    assert.equal(shown.code, 0, name);
    const count = Number(/, (\d+) events/.exec(shown.stdout)?.[1]);
    const eventLines = shown.stdout.split('\n').filter((l) => l.startsWith('#'));
    assert.equal(eventLines.length, count, name);
    for (const line of eventLines) {
      assert.match(line, /^#\s*\d+ PCR\s+\d+ EV_[A-Z0-9_]+\s+[0-9a-f-]{12} \S/, `${name}: ${line}`);
      assert.doesNotMatch(line, /undecodable|\s$/, `${name}: ${line}`);
    }
    const replayed = await vouch(['eventlog', 'replay', file, '--expect', 'test/vectors/eventlogs/expected-pcrs.json', '--json']);
    assert.equal(replayed.code, 0, name);
    const { comparison } = (JSON.parse(replayed.stdout) as JsonResult<{ comparison: { allMatch: boolean; entries: { bank: string }[] } }>).result;
    assert.equal(comparison.allMatch, true, name);
    assert.deepEqual(new Set(comparison.entries.map((e) => e.bank)), new Set(Object.keys(expectedPcrs[name]!)), name);
  }
});

test('eventlog errors: missing file, bank the log lacks, malformed log', async () => {
  const missing = await vouch(['eventlog', 'show', 'no-such-file.bin']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vouch: ERR_CLI_IO: no-such-file\.bin/);
  const bank = await vouch(['eventlog', 'replay', 'test/vectors/eventlogs/debian-10.bin', '--bank', 'sha256']);
  assert.equal(bank.code, 1);
  assert.match(bank.stderr, /ERR_EVENTLOG_BANK_MISSING: the event log has no sha256 bank \(it has sha1\)/);
  const malformed = await vouch(['eventlog', 'show', 'package.json', '--json']);
  assert.equal(malformed.code, 1);
  const { error } = JSON.parse(malformed.stdout) as JsonError;
  assert.match(error.code, /^ERR_EVENTLOG_/);
  assert.match(error.message, /^event #0 \(the log header; is this a binary_bios_measurements file\?\): /);
});
