// Hostile event logs built to cost the most per byte: the shapes of issue 7 §1 (tests check the
// answers, bench/eventlog-hostile.bench.ts measures the time and memory on the same inputs).
import { ByteWriter } from '../../src/bytes/index.ts';
import { encodeSpecIdEvent, EventType } from '../../src/eventlog/index.ts';
import { HashAlgorithm, type HashAlgorithmName } from '../../src/hash/index.ts';

const legacyHeaderBytes = 32;

function withSpecIdHeader(banks: readonly HashAlgorithmName[], capacity: number): ByteWriter {
  const spec = encodeSpecIdEvent(banks);
  return new ByteWriter(capacity).u32le(0).u32le(EventType.EV_NO_ACTION).bytes(new Uint8Array(20)).u32le(spec.length).bytes(spec);
}

/**
 * A sha256 log whose events are 16 zero bytes each (PCR 0, EV_PREBOOT_CERT, no digests, no data),
 * ended by one event with a data byte: once quadratic padding detection, and with 65k events a
 * stack overflow where findings were spread into push().
 */
export function zeroDigestEventsLog(count: number): Uint8Array {
  const w = withSpecIdHeader(['sha256'], 16 * count + 256);
  for (let i = 0; i < count; i++) w.u32le(0).u32le(0).u32le(0).u32le(0);
  return w.u32le(0).u32le(0).u32le(0).u32le(1).u8(1).finish();
}

/**
 * A TCG 1.2 log of `bytes` zero bytes (32-byte events: PCR 0, EV_PREBOOT_CERT, zero digest, no
 * data) whose last event names PCR 1, so no tail is padding: every event parses, and a padding check
 * that scanned to the end from each event read the whole log at every event.
 */
export function zeroFilledLegacyLog(bytes: number): Uint8Array {
  const log = new Uint8Array(bytes - (bytes % legacyHeaderBytes));
  log[log.length - legacyHeaderBytes] = 1;
  return log;
}

/**
 * A crypto-agile log of `bytes` (at most) packed with the smallest well-formed events of `type`
 * (every bank's digest zero, `dataBytes` zero bytes of data) over PCRs 0-7: the most events, and
 * with EV_SEPARATOR the most digest checks (each one a mismatch finding) and findings per byte.
 */
export function densestLog(banks: readonly HashAlgorithmName[], type: number, bytes: number, dataBytes = 0): Uint8Array {
  const w = withSpecIdHeader(banks, Math.max(bytes, 256));
  const eventBytes = 16 + banks.reduce((n, b) => n + 2 + HashAlgorithm[b].size, 0) + dataBytes;
  const count = Math.floor((bytes - w.length) / eventBytes);
  for (let i = 0; i < count; i++) {
    w.u32le(i % 8)
      .u32le(type)
      .u32le(banks.length);
    for (const bank of banks) w.u16le(HashAlgorithm[bank].id).bytes(new Uint8Array(HashAlgorithm[bank].size));
    w.u32le(dataBytes).bytes(new Uint8Array(dataBytes));
  }
  return w.finish();
}
