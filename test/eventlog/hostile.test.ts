// Issue 7 §1 and §2: hostile logs that once took minutes, overflowed the stack, or slipped an event
// past replay by leaving out a bank's digest. Each must end in a result or a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteWriter, concatBytes } from '../../src/bytes/index.ts';
import {
  checkEventDigests,
  compareWithQuote,
  encodeEventLog,
  EventLogError,
  EventLogLimits,
  EventType,
  FindingKind,
  parseEventLog,
  replay,
  type EventLog,
} from '../../src/eventlog/index.ts';
import { densestLog, zeroDigestEventsLog, zeroFilledLegacyLog } from './hostile-logs.ts';
import { vouch } from './helpers.ts';

function assertDigestMissing(run: () => unknown, event: number, missing: readonly string[]): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof EventLogError, String(e));
    assert.equal(e.code, 'ERR_EVENTLOG_DIGEST_MISSING');
    assert.equal(e.details.event, event);
    assert.deepEqual(e.details.missing, missing);
    assert.match(e.message, new RegExp(`^event #${event}: `));
    return true;
  });
}

test('issue 7: a PCR 12 EV_IPL event with zero digests injected into an honest log is an error at parse, with its event number', () => {
  const honest = encodeEventLog({
    banks: ['sha1', 'sha256'],
    events: [
      { pcr: 12, type: EventType.EV_IPL, data: Buffer.from('root=composefs composefs=0123 ro\0', 'utf16le') },
      { pcr: 4, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) },
    ],
  });
  const firstEvent = parseEventLog(honest).events[1]!.offset;
  const cmdline = new Uint8Array(Buffer.from('root=composefs composefs=4567 ro init=/bin/sh\0', 'utf16le'));
  const injected = new ByteWriter().u32le(12).u32le(EventType.EV_IPL).u32le(0).u32le(cmdline.length).bytes(cmdline).finish();
  const forged = concatBytes(honest.subarray(0, firstEvent), injected, honest.subarray(firstEvent));
  assertDigestMissing(() => parseEventLog(forged), 1, ['sha1', 'sha256']);
});

test('issue 7: an event with the sha1 digest but not the sha256 one the header allocates is an error naming sha256', () => {
  const header = encodeEventLog({ banks: ['sha1', 'sha256'], events: [] });
  const sha1Only = new ByteWriter()
    .u32le(4)
    .u32le(EventType.EV_SEPARATOR)
    .u32le(1)
    .u16le(0x0004)
    .bytes(new Uint8Array(20))
    .u32le(4)
    .bytes(new Uint8Array(4))
    .finish();
  assertDigestMissing(() => parseEventLog(concatBytes(header, sha1Only)), 1, ['sha256']);
});

test('replay of a log assembled without parseEventLog refuses an event that lacks the bank', () => {
  const parsed = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [{ pcr: 4, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) }] }));
  const assembled: EventLog = { ...parsed, events: parsed.events.map((e) => ({ ...e, digests: {} })) };
  assert.throws(
    () => replay(assembled),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_DIGEST_MISSING' && e.details.event === 1 && e.details.bank === 'sha256',
  );
});

test('issue 7: 65k zero-digest 16-byte events stop at the first one (once > 60 s of padding scans, then a stack overflow)', () => {
  assertDigestMissing(() => parseEventLog(zeroDigestEventsLog(65000)), 1, ['sha256']);
});

test('issue 7: 1 MB of zero-filled TCG 1.2 events with no padding tail parses in one pass (once quadratic)', () => {
  const log = parseEventLog(zeroFilledLegacyLog(1 << 20));
  assert.equal(log.events.length, (1 << 20) / 32);
  assert.equal(log.events.at(-1)!.pcr, 1);
  assert.ok(!log.findings.some((f) => f.kind === FindingKind.trailingPadding));
});

test('issue 7: the event cap of well-formed events, each one a finding, parses, replays, compares and digest-checks without a RangeError', async () => {
  const headerBytes = densestLog(['sha1'], EventType.EV_PREBOOT_CERT, 0).length;
  const bytes = densestLog(['sha1'], EventType.EV_PREBOOT_CERT, headerBytes + 38 * (EventLogLimits.maxEvents - 1));
  const log = parseEventLog(bytes);
  assert.equal(log.events.length, EventLogLimits.maxEvents);
  assert.equal(log.findings.filter((f) => f.kind === FindingKind.reservedEventType).length, EventLogLimits.maxEvents - 1);
  const replayed = replay(log);
  assert.equal(replayed.banks.sha1!.pcrs.length, 8);
  assert.equal(compareWithQuote(replayed, { sha1: { 0: replayed.banks.sha1!.pcrs[0]!.value } }).allMatch, true);
  assert.equal(checkEventDigests(log).events.length, EventLogLimits.maxEvents);

  const dir = await mkdtemp(join(tmpdir(), 'vouch-hostile-'));
  try {
    await writeFile(join(dir, 'many.bin'), bytes);
    const run = await vouch(['eventlog', 'replay', join(dir, 'many.bin')]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.split('\n').filter((l) => l.includes(FindingKind.reservedEventType)).length === EventLogLimits.maxEvents - 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('separators packed into 1 MB: every digest mismatch is a finding, nothing is lost', () => {
  const log = parseEventLog(densestLog(['sha1', 'sha256'], EventType.EV_SEPARATOR, 1 << 20));
  const digests = checkEventDigests(log);
  assert.equal(digests.findings.length, log.events.length - 1);
  assert.ok(digests.findings.every((f) => f.kind === FindingKind.digestMismatch && f.severity === 'error'));
});
