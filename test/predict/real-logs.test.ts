// Real firmware logs (GCE, Debian 10, Arch, a laptop): prediction from the boot applications'
// digests found in each log reproduces the PCR 4 its TPM quoted (expected-pcrs.json), and the
// CLI's A/B matching names the right reference set for a real log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventLog, type EventLog } from '../../src/eventlog/index.ts';
import { parseBootProfile, predict, type PcrBank, type ReferenceMatch } from '../../src/predict/index.ts';
import { runVouch } from './helpers.ts';
import type { JsonError } from '../helpers/cli.ts';

const vectors = 'test/vectors/eventlogs';

/** A profile that boots, by digest, the applications the log's PCR 4 shows, with its firmware's PCR 4 habits. */
function pcr4ProfileOf(log: EventLog): unknown {
  const pcr4 = log.events.filter((e) => e.pcr === 4);
  const calls = pcr4.filter((e) => e.typeName === 'EV_EFI_ACTION' && Buffer.from(e.data).toString() === 'Calling EFI Application from Boot Option').length;
  const banks = log.banks.filter((b): b is PcrBank => b === 'sha1' || b === 'sha256');
  return {
    banks,
    firmware: { logsCallingAction: calls > 0, earlierBootAttempts: Math.max(0, calls - 1) },
    chain: pcr4
      .filter((e) => e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION')
      .map((e) => ({
        kind: 'efi-application',
        image: { authenticode: Object.fromEntries(banks.map((b) => [b, Buffer.from(e.digests[b]!).toString('hex')])) },
        authority: 'none',
      })),
  };
}

test("PCR 4 predicted from the boot applications' digests equals the quoted PCR 4 of every real log that has them", async () => {
  const expected = JSON.parse(await readFile(join(vectors, 'expected-pcrs.json'), 'utf8')) as Record<string, { pcrs: Record<string, Record<string, string>> }>;
  let checked = 0;
  for (const [name, { pcrs }] of Object.entries(expected)) {
    const log = parseEventLog(new Uint8Array(await readFile(join(vectors, name))));
    if (!log.events.some((e) => e.pcr === 4 && e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION')) continue;
    const profile = parseBootProfile(pcr4ProfileOf(log));
    const p = predict(profile, new Map());
    for (const bank of profile.banks) {
      assert.equal(p.banks[bank]?.['4'], pcrs[bank]?.['4']?.toLowerCase(), `${name} ${bank} PCR 4`);
    }
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} logs had boot applications`);
});

test("PCR 8 predicted from GRUB's logged commands equals the quoted PCR 8: upstream GRUB (Ubuntu 21.04, COS 85) and RHEL 8's dialect", async () => {
  const expected = JSON.parse(await readFile(join(vectors, 'expected-pcrs.json'), 'utf8')) as Record<string, { pcrs: Record<string, Record<string, string>> }>;
  const cases = [
    { name: 'ubuntu-2104-no-dbx.bin', dialect: 'upstream' },
    { name: 'cos-85-amd-sev.bin', dialect: 'upstream' },
    { name: 'rhel8-uefi.bin', dialect: 'rhel' },
  ];
  for (const { name, dialect } of cases) {
    const log = parseEventLog(new Uint8Array(await readFile(join(vectors, name))));
    // The strings as the log shows them (NUL-terminated there); prediction derives each digest.
    const commands = log.events.filter((e) => e.pcr === 8).map((e) => Buffer.from(e.data).toString('latin1').replace(/\0$/, ''));
    assert.ok(commands.length > 3, `${name}: GRUB commands expected in PCR 8`);
    const profile = parseBootProfile({
      firmware: { secureBoot: false },
      chain: [{ kind: 'grub', image: { authenticode: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } }, commands, dialect }],
    });
    const p = predict(profile, new Map());
    for (const bank of ['sha1', 'sha256'] as const) assert.equal(p.banks[bank]?.['8'], expected[name]!.pcrs[bank]!['8'], `${name} ${bank} PCR 8`);
  }
});

test('vouch predict A B --match-log names the version a real log matches, and exits 3 when none does', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-ab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const logPath = join(vectors, 'rhel8-uefi.bin');
  const log = parseEventLog(new Uint8Array(await readFile(logPath)));
  const current = pcr4ProfileOf(log) as { chain: { image: { authenticode: Record<string, string> } }[] };
  const next = structuredClone(current);
  next.chain[2]!.image.authenticode = { sha1: '00'.repeat(20), sha256: '00'.repeat(32) }; // a new kernel
  await writeFile(join(dir, 'image-2026.10.json'), JSON.stringify(current));
  await writeFile(join(dir, 'image-2026.11.json'), JSON.stringify(next));

  const run = (args: string[]): Promise<{ code: number; out: string }> => runVouch(args, dir);
  // Only PCR 4 is modeled from these digests (no Secure Boot variables given): compare on it.
  const logArg = join(process.cwd(), logPath);
  const both = await run(['predict', 'image-2026.10.json', 'image-2026.11.json', '--match-log', logArg, '--pcrs', '4', '--json']);
  assert.equal(both.code, 0, both.out);
  const doc = JSON.parse(both.out) as { result: { match: ReferenceMatch } };
  assert.deepEqual(doc.result.match.matched, ['image-2026.10']);
  assert.deepEqual(
    doc.result.match.versions[1]!.mismatches.map((m) => `${m.bank}:${m.pcr}`),
    ['sha1:4', 'sha256:4'],
  );
  // The difference is pinned on the kernel: PCR 4's fifth event (action, separator, shim, GRUB, kernel).
  const kernel = doc.result.match.versions[1]!.mismatches[1]!.firstDifference;
  assert.equal(kernel?.position, 4);
  assert.equal(kernel.expected?.description, 'efi-application (by digest)');
  assert.equal(kernel.actual?.type, 'EV_EFI_BOOT_SERVICES_APPLICATION');

  const none = await run(['predict', 'image-2026.11.json', '--match-log', logArg, '--pcrs', '4']);
  assert.equal(none.code, 3);
  assert.match(none.out, /matches no reference set\nimage-2026.11: 2 PCR mismatch/);
  assert.match(
    none.out,
    /first difference at its event 4: expected EV_EFI_BOOT_SERVICES_APPLICATION efi-application \(by digest\); the log has event #\d+ EV_EFI_BOOT_SERVICES_APPLICATION/,
  );

  const text = await run(['predict', 'image-2026.10.json']);
  assert.equal(text.code, 0);
  assert.match(text.out, /sha256:\n\s+4: [0-9a-f]{64}/);
  assert.match(text.out, /EV_EFI_BOOT_SERVICES_APPLICATION/);

  const usage = await run(['predict', '--json']);
  assert.equal(usage.code, 1);
  assert.equal((JSON.parse(usage.out) as JsonError).error.code, 'ERR_CLI_USAGE');
  const missing = await run(['predict', 'nope.yaml', '--json']);
  assert.equal((JSON.parse(missing.out) as JsonError).error.code, 'ERR_CLI_IO');
});
