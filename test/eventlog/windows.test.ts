// Issue 7 §3: Windows logs. Windows Boot Manager separates PCRs 12-14 with "WBCL" and logs its boot
// configuration as EV_EVENT_TAG events holding SIPA items (Windows SDK wbcl.h).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteWriter, concatBytes, utf8 } from '../../src/bytes/index.ts';
import { describeDecodedEvent, encodeEventLog, EventType, FindingKind, parseEventLog, utf16leBytes } from '../../src/eventlog/index.ts';
import { vouch } from './helpers.ts';

const sipa = (type: number, data: Uint8Array): Uint8Array => concatBytes(new ByteWriter(8).u32le(type).u32le(data.length).finish(), data);
const u8 = (v: number): Uint8Array => new Uint8Array([v]);

/** What winload logs in PCR 12/13: a trust boundary with boot options and a loaded module, then a boot counter. */
const windowsTag = concatBytes(
  sipa(
    0x40010001, // SIPAEVENT_TRUSTBOUNDARY
    concatBytes(
      sipa(0x00040001, u8(0)), // SIPAEVENT_BOOTDEBUGGING
      sipa(0x00050002, u8(1)), // SIPAEVENT_CODEINTEGRITY
      sipa(
        0x40010003, // SIPAEVENT_LOADEDMODULE_AGGREGATION
        concatBytes(sipa(0x00070001, utf16leBytes('\\Windows\\system32\\winload.efi', true)), sipa(0x00070002, new ByteWriter(8).u64le(1234n).finish())),
      ),
    ),
  ),
  sipa(0x00020002, new ByteWriter(8).u64le(7n).finish()), // SIPAEVENT_BOOTCOUNTER
);

function windowsLog(tag: Uint8Array): Uint8Array {
  return encodeEventLog({
    banks: ['sha1', 'sha256'],
    events: [{ pcr: 12, type: EventType.EV_EVENT_TAG, data: tag }, ...[12, 13, 14].map((pcr) => ({ pcr, type: EventType.EV_SEPARATOR, data: utf8('WBCL') }))],
  });
}

test("the WBCL separator is Windows' normal one, not a finding; its data is bound to its digest", () => {
  const log = parseEventLog(windowsLog(windowsTag));
  assert.ok(!log.findings.some((f) => f.kind === FindingKind.unusualSeparatorValue));
  assert.deepEqual(log.events[2]!.decoded, { kind: 'separator', value: 0x4c434257, isError: false });
});

test('EV_EVENT_TAG SIPA items: named by wbcl.h, nested aggregations, measured flag, UTF-16 values as text', () => {
  const decoded = parseEventLog(windowsLog(windowsTag)).events[1]!.decoded;
  assert.equal(decoded.kind, 'event-tag');
  assert.ok(decoded.sipa);
  assert.deepEqual(
    decoded.sipa.map((i) => [i.name, i.size, i.measured, i.items?.length]),
    [
      ['SIPAEVENT_TRUSTBOUNDARY', windowsTag.length - 24, true, 3],
      ['SIPAEVENT_BOOTCOUNTER', 8, true, undefined],
    ],
  );
  const module = decoded.sipa[0]!.items![2]!;
  assert.equal(module.name, 'SIPAEVENT_LOADEDMODULE_AGGREGATION');
  assert.deepEqual(
    module.items!.map((i) => [i.name, i.text, i.data]),
    [
      ['SIPAEVENT_FILEPATH', '\\Windows\\system32\\winload.efi', Buffer.from(utf16leBytes('\\Windows\\system32\\winload.efi', true)).toString('hex')],
      ['SIPAEVENT_IMAGESIZE', undefined, 'd204000000000000'],
    ],
  );
  assert.ok(
    describeDecodedEvent(decoded).startsWith(
      'WBCL TRUSTBOUNDARY{BOOTDEBUGGING=00 CODEINTEGRITY=01 LOADEDMODULE_AGGREGATION{FILEPATH=\\Windows\\system32\\winload.efi IMAGESIZE=d204000000000000}} BOOTCOUNTER=0',
    ),
  );
});

test('SIPA: a not-measured trust point and an item wbcl.h does not name keep their type; nesting past 8 levels is undecodable, not a stack overflow', () => {
  const items = parseEventLog(windowsLog(concatBytes(sipa(0x80080001, u8(9)), sipa(0x0005007f, u8(1))))).events[1]!.decoded;
  assert.equal(items.kind, 'event-tag');
  assert.deepEqual(
    items.sipa?.map((i) => [i.type, i.name, i.measured]),
    [
      [0x80080001, 'SIPAEVENT_QUOTE', false],
      [0x0005007f, undefined, true],
    ],
  );
  const depth = 100_000;
  const leaf = sipa(0x00020002, u8(0));
  const nestedWriter = new ByteWriter(8 * depth + leaf.length);
  for (let level = 0; level < depth; level++) nestedWriter.u32le(0x40010001).u32le(8 * (depth - 1 - level) + leaf.length);
  const nested = nestedWriter.bytes(leaf).finish();
  const log = parseEventLog(windowsLog(nested));
  assert.equal(log.events[1]!.decoded.kind, 'undecodable');
  assert.ok(log.findings.some((f) => f.kind === FindingKind.undecodableEventData && f.event === 1 && /nested deeper than 8/.test(f.message)));
});

test('issue 7: vouch eventlog replay lists PCR 0 when only a StartupLocality event sets it; --bank the log lacks is ERR_EVENTLOG_BANK_MISSING', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-windows-'));
  try {
    const file = join(dir, 'locality.bin');
    await writeFile(
      file,
      encodeEventLog({ banks: ['sha256'], startupLocality: 3, events: [{ pcr: 4, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) }] }),
    );
    const run = await vouch(['eventlog', 'replay', file, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const pcrs = (JSON.parse(run.stdout) as { result: { banks: Record<string, { pcrs: Record<string, string> }> } }).result.banks.sha256!.pcrs;
    assert.deepEqual(Object.keys(pcrs), ['0', '4']);
    assert.equal(pcrs['0'], `${'0'.repeat(62)}03`);
    const text = await vouch(['eventlog', 'replay', file]);
    assert.match(text.stdout, /^sha256: \(startup locality 3\)\n {3}0: 0{62}03\n {3}4: /);
    const bank = await vouch(['eventlog', 'replay', file, '--bank', 'sha384', '--json']);
    assert.equal(bank.code, 1);
    assert.deepEqual((JSON.parse(bank.stdout) as { error: { code: string; details: unknown } }).error, {
      code: 'ERR_EVENTLOG_BANK_MISSING',
      message: 'the event log has no sha384 bank (it has sha256)',
      details: { bank: 'sha384', banks: ['sha256'] },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
