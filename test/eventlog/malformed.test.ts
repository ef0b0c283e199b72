// Hostile input: random bytes, every truncation of every real log, random mutations of real logs,
// oversized counts and sizes. The parser (and everything downstream of a successful parse) must
// answer with a value or a typed ERR_EVENTLOG_* error, never crash or allocate what a length claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkEventDigests,
  decodeEvent,
  describeDecodedEvent,
  encodeEventLog,
  EventLogError,
  EventLogLimits,
  EventType,
  parseEventLog,
  replay,
} from '../../src/eventlog/index.ts';
import { readRealLog, realLogNames } from './helpers.ts';

/** Whatever was thrown, as text for an assertion message: an Error's stack, anything else as a string. */
function thrownText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function assertTypedOrValue(bytes: Uint8Array): void {
  let log;
  try {
    log = parseEventLog(bytes);
  } catch (e) {
    assert.ok(e instanceof EventLogError, `untyped error: ${thrownText(e)}`);
    assert.match(e.code, /^ERR_EVENTLOG_/);
    return;
  }
  // A log that parses must also replay, digest-check and describe without surprises.
  replay(log);
  checkEventDigests(log);
  for (const event of log.events) describeDecodedEvent(event.decoded);
}

const realLogs = realLogNames.map((name) => ({ name, bytes: readRealLog(name) }));

test('random bytes: a value or a typed error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), (bytes) => assertTypedOrValue(bytes)),
    { numRuns: 2000 },
  );
});

test('random bytes after a valid Spec ID header: a value or a typed error', () => {
  const header = encodeEventLog({ banks: ['sha1', 'sha256'], events: [] });
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 1024 }), (tail) => assertTypedOrValue(new Uint8Array([...header, ...tail]))),
    { numRuns: 2000 },
  );
});

for (const { name, bytes } of realLogs) {
  test(`${name}: every truncation is a typed error or a shorter log`, () => {
    for (let end = 0; end < bytes.length; end++) {
      try {
        const log = parseEventLog(bytes.subarray(0, end));
        // Only cuts at an event boundary (or into zero padding) parse.
        assert.ok(log.events.length > 0);
      } catch (e) {
        assert.ok(e instanceof EventLogError, `cut at ${end}: ${thrownText(e)}`);
      }
    }
  });
}

test('real logs with random byte mutations: a value or a typed error', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...realLogs),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      ({ bytes }, mutations) => {
        const copy = bytes.slice();
        for (const [at, value] of mutations) copy[at % copy.length] = value;
        assertTypedOrValue(copy);
      },
    ),
    { numRuns: 1500 },
  );
});

test('real logs with a mutated size or count field at each event header: a value or a typed error', () => {
  // Length fields are where a parser allocates; hit each event's EventSize/digest count with extremes.
  for (const { bytes } of realLogs) {
    const log = parseEventLog(bytes);
    for (const event of log.events.slice(1)) {
      const eventSizeOffset = event.data.byteOffset - bytes.byteOffset - 4;
      const fields = log.format === 'crypto-agile' ? [event.offset + 8, eventSizeOffset] : [eventSizeOffset];
      for (const field of fields) {
        for (const value of [0, 1, 0x7fffffff, 0xffffffff, EventLogLimits.maxEventDataBytes + 1]) {
          const copy = bytes.slice();
          new DataView(copy.buffer).setUint32(field, value, true);
          assertTypedOrValue(copy);
        }
      }
    }
  }
});

function expectCode(bytes: Uint8Array, code: string): void {
  assert.throws(
    () => parseEventLog(bytes),
    (e: unknown) => e instanceof EventLogError && e.code === code,
  );
}

test('named maximums: event data size, digest count, log size', () => {
  const one = encodeEventLog({ banks: ['sha256'], events: [{ pcr: 4, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) }] });
  const eventStart = one.length - (4 + 4 + 4 + 2 + 32 + 4 + 4);
  const view = new DataView(one.buffer);
  const dataSize = one.slice();
  new DataView(dataSize.buffer).setUint32(one.length - 8, EventLogLimits.maxEventDataBytes + 1, true);
  expectCode(dataSize, 'ERR_EVENTLOG_TOO_LARGE');
  const digestCount = one.slice();
  new DataView(digestCount.buffer).setUint32(eventStart + 8, EventLogLimits.maxDigestsPerEvent + 1, true);
  expectCode(digestCount, 'ERR_EVENTLOG_TOO_LARGE');
  assert.equal(view.getUint32(eventStart, true), 4, 'layout assumption: PCR index at the event start');
  expectCode(new Uint8Array(EventLogLimits.maxLogBytes + 1).fill(1), 'ERR_EVENTLOG_TOO_LARGE');
});

test('structural errors: truncation, unknown algorithm, PCR out of range, bad Spec ID header', () => {
  const good = encodeEventLog({ banks: ['sha1', 'sha256'], events: [{ pcr: 4, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) }] });
  expectCode(good.subarray(0, good.length - 1), 'ERR_EVENTLOG_TRUNCATED');
  expectCode(new Uint8Array(0), 'ERR_EVENTLOG_TRUNCATED');
  const eventStart = good.length - (12 + 2 + 20 + 2 + 32 + 4 + 4);
  const unknownAlgorithm = good.slice();
  new DataView(unknownAlgorithm.buffer).setUint16(eventStart + 12, 0x0099, true);
  expectCode(unknownAlgorithm, 'ERR_EVENTLOG_UNKNOWN_ALGORITHM');
  const pcr24 = good.slice();
  new DataView(pcr24.buffer).setUint32(eventStart, 24, true);
  expectCode(pcr24, 'ERR_EVENTLOG_MALFORMED');
  // Spec ID header claiming a 31-byte sha256 digest.
  const badSize = good.slice();
  const sha256SizeOffset = 32 + 24 + 4 + 2 + 2 + 2;
  assert.equal(new DataView(badSize.buffer).getUint16(sha256SizeOffset, true), 32, 'layout assumption: sha256 size field');
  new DataView(badSize.buffer).setUint16(sha256SizeOffset, 31, true);
  expectCode(badSize, 'ERR_EVENTLOG_MALFORMED');
});

test('decodeEvent: random data for every event type decodes or is undecodable with an ERR_EVENTLOG_ code, never throws', () => {
  const types = Object.values(EventType);
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.integer({ min: 0, max: 23 }), fc.uint8Array({ maxLength: 200 }), (type, pcr, data) => {
      const decoded = decodeEvent(type, pcr, data);
      if (decoded.kind === 'undecodable') assert.match(decoded.code, /^ERR_EVENTLOG_/);
      describeDecodedEvent(decoded);
      JSON.stringify(decoded);
    }),
    { numRuns: 3000 },
  );
});
