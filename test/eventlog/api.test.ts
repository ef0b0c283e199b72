// Pins the public API other modules (predict, verifier) build on: names, shapes, and types that
// must keep compiling (the type check runs this file too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as eventlog from '../../src/eventlog/index.ts';
import type { DecodedEvent, DigestRule, EventLog, Finding, PcrComparison, Replay, TcgEvent } from '../../src/eventlog/index.ts';
import type { Equal, Expect } from '../helpers/type-equal.ts';

test('public API of src/eventlog', () => {
  for (const name of [
    'parseEventLog',
    'encodeEventLog',
    'replay',
    'compareWithQuote',
    'checkEventDigests',
    'digestRuleFor',
    'extendPcr',
    'initialPcrValue',
    'parseDevicePath',
    'parseDevicePaths',
    'encodeDevicePath',
    'devicePathToText',
    'parseUefiVariableData',
    'encodeUefiVariableData',
    'parseLoadOption',
    'encodeLoadOption',
    'describeDecodedEvent',
  ] as const) {
    assert.equal(typeof eventlog[name], 'function', name);
  }
  assert.equal(eventlog.EventType.EV_EFI_VARIABLE_AUTHORITY, 0x800000e0);
  assert.equal(eventlog.LinuxEventTag.initrd, 0x8f3b22ec);
});

// Type-level pins: these functions must accept and return exactly these shapes.
export type ApiPins = [
  Expect<Equal<ReturnType<typeof eventlog.parseEventLog>, EventLog>>,
  Expect<Equal<ReturnType<typeof eventlog.replay>, Replay>>,
  Expect<Equal<ReturnType<typeof eventlog.compareWithQuote>, PcrComparison>>,
  Expect<Equal<ReturnType<typeof eventlog.digestRuleFor>, DigestRule>>,
  Expect<Equal<TcgEvent['decoded'], DecodedEvent>>,
  Expect<Equal<EventLog['findings'], readonly Finding[]>>,
];
