// Parses binary_bios_measurements: the TCG 1.2 SHA-1 format (TCG_PCR_EVENT, PC Client Implementation
// Spec for Conventional BIOS 1.21 §11.1) and the crypto-agile format (TCG_PCR_EVENT2 after a
// TCG_EfiSpecIDEvent "Spec ID Event03" header, PFP 1.05 §10.2), with any set of banks whose digest
// sizes the header declares. Framing errors throw typed errors; odd-but-parseable content is a finding.
import { ByteReader, toHex } from '../bytes/index.ts';
import { EventLogLimits, EventType, eventTypeName } from './constants.ts';
import { NoActionSignature, decodeEvent, noActionSignature, type DecodeOptions } from './decode.ts';
import type { DecodedSpecId } from './decoded-types.ts';
import { EventLogError } from './errors.ts';
import { findStructuralFindings } from './structural-findings.ts';
import type { BankName, EventLog, SpecIdAlgorithm, SpecIdEvent, TcgEvent } from './types.ts';
import { FindingKind, type Finding } from './findings.ts';
import { inContext, inContextError } from './wire.ts';
import { HashAlgorithm, hashAlgorithmById } from '../hash/index.ts';

export type ParseOptions = DecodeOptions;

const sha1Size = HashAlgorithm.sha1.size;
const specIdSignatureBytes = 16;

/**
 * Parses an event log. Every framing problem (truncation, an oversized count or size, an unknown
 * digest algorithm, a PCR index a TPM does not have) throws an EventLogError; everything else odd
 * (unknown event types, undecodable data, padding, separators out of place) is in `findings`.
 *
 * @example
 *   const log = parseEventLog(await readFile('/sys/kernel/security/tpm0/binary_bios_measurements'));
 *   const pcrs = replay(log);                       // values per bank
 *   const cmp = compareWithQuote(pcrs, quoted);     // per-PCR match / mismatch
 *   const digests = checkEventDigests(log);         // forged event data
 *
 * The caller must still compare the replay with a verified quote: a log alone proves nothing.
 */
export function parseEventLog(bytes: Uint8Array, options: ParseOptions = {}): EventLog {
  if (bytes.length > EventLogLimits.maxLogBytes) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `event log of ${bytes.length} bytes exceeds ${EventLogLimits.maxLogBytes}`, {
      length: bytes.length,
      max: EventLogLimits.maxLogBytes,
    });
  }
  if (bytes.length === 0) throw new EventLogError('ERR_EVENTLOG_TRUNCATED', 'event log is empty', { offset: 0 });
  const reader = new ByteReader(bytes);
  const paddingFrom = trailingFillStart(bytes);
  const events: TcgEvent[] = [];
  const findings: Finding[] = [];

  // A file that is not an event log at all fails here: say what the input should be.
  const first = inContext('event #0 (the log header; is this a binary_bios_measurements file?)', { event: 0, offset: 0 }, () =>
    readLegacyEvent(reader, 0, options),
  );
  events.push(first);
  const specId = first.decoded.kind === 'spec-id' ? specIdOf(first.decoded) : undefined;
  const isCryptoAgile = specId !== undefined;
  const digestSizes = new Map<number, SpecIdAlgorithm>(specId?.algorithms.map((a) => [a.algorithmId, a]));

  while (reader.remaining > 0) {
    if (reader.offset >= paddingFrom) {
      findings.push({
        kind: FindingKind.trailingPadding,
        severity: 'info',
        message: `${reader.remaining} bytes of 0x${bytes[reader.offset]!.toString(16).padStart(2, '0')} padding after the last event (offset ${reader.offset})`,
      });
      break;
    }
    const index = events.length;
    if (index >= EventLogLimits.maxEvents) {
      throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `event log has more than ${EventLogLimits.maxEvents} events`, { max: EventLogLimits.maxEvents });
    }
    const offset = reader.offset;
    try {
      events.push(isCryptoAgile ? readEvent2(reader, index, digestSizes, options) : readLegacyEvent(reader, index, options));
    } catch (e) {
      throw inContextError(e, `event #${index}`, { event: index, offset });
    }
  }

  const banks: BankName[] = specId ? specId.algorithms.map((a) => a.name) : ['sha1'];
  // One finding per event is possible: appended one by one, never spread as call arguments (65k of them overflow the stack).
  for (const finding of findStructuralFindings(events)) findings.push(finding);
  return { format: isCryptoAgile ? 'crypto-agile' : 'tcg-1.2-sha1', ...(specId ? { specId } : {}), banks, events, findings };
}

/**
 * Firmware that copies the log out of a fixed-size ACPI area leaves the rest 0x00 or 0xFF. A real
 * event can't be all zeros past its header (EV_PREBOOT_CERT in PCR 0 with no digests and no data
 * is meaningless), so an all-0x00 or all-0xFF tail is padding. The tail is found once, scanning back
 * from the end: asking at every event whether the rest is fill made a log of zero-filled events
 * with one last non-zero byte quadratic (a minute for 1 MB).
 *
 * Returns the offset where the fill starts (bytes.length when the log does not end in 0x00 or 0xFF).
 */
export function trailingFillStart(bytes: Uint8Array): number {
  const last = bytes.length - 1;
  const fill = bytes[last];
  if (fill !== 0x00 && fill !== 0xff) return bytes.length;
  let start = last;
  while (start > 0 && bytes[start - 1] === fill) start--;
  return start;
}

function checkPcrIndex(pcr: number, type: number): void {
  // EV_NO_ACTION events are never extended, so their PCR field is informational.
  if (pcr > EventLogLimits.maxPcrIndex && type !== EventType.EV_NO_ACTION) {
    throw new EventLogError('ERR_EVENTLOG_MALFORMED', `PCR index ${pcr} is beyond PCR ${EventLogLimits.maxPcrIndex}: no TPM extends it`, { pcr });
  }
}

function typeNameOf(type: number): string {
  return eventTypeName(type) ?? `EV_UNKNOWN_0x${type.toString(16).padStart(8, '0')}`;
}

function readEventData(reader: ByteReader): Uint8Array {
  const size = reader.u32le('EventSize');
  if (size > EventLogLimits.maxEventDataBytes) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `EventSize ${size} exceeds ${EventLogLimits.maxEventDataBytes}`, {
      size,
      max: EventLogLimits.maxEventDataBytes,
    });
  }
  return reader.bytesView(size, 'Event');
}

/** TCG_PCR_EVENT: PCRIndex, EventType, SHA-1 digest, EventSize, Event (all little-endian). */
function readLegacyEvent(reader: ByteReader, index: number, options: DecodeOptions): TcgEvent {
  const offset = reader.offset;
  const pcr = reader.u32le('PCRIndex');
  const type = reader.u32le('EventType');
  checkPcrIndex(pcr, type);
  const digest = reader.bytesView(sha1Size, 'Digest');
  const data = readEventData(reader);
  const decoded =
    index === 0 && type === EventType.EV_NO_ACTION && noActionSignature(data) === NoActionSignature.specId03
      ? specIdDecoded(parseSpecIdEvent(data))
      : decodeEvent(type, pcr, data, options, { sha1: digest });
  return { index, offset, pcr, type, typeName: typeNameOf(type), digests: { sha1: digest }, data, decoded };
}

/** TCG_PCR_EVENT2: PCRIndex, EventType, TPML_DIGEST_VALUES (count, {AlgorithmId, digest}), EventSize, Event. */
function readEvent2(reader: ByteReader, index: number, sizes: ReadonlyMap<number, SpecIdAlgorithm>, options: DecodeOptions): TcgEvent {
  const offset = reader.offset;
  const pcr = reader.u32le('PCRIndex');
  const type = reader.u32le('EventType');
  checkPcrIndex(pcr, type);
  const count = reader.u32le('Digests.count');
  if (count > EventLogLimits.maxDigestsPerEvent) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `digest count ${count} exceeds ${EventLogLimits.maxDigestsPerEvent}`, {
      count,
      max: EventLogLimits.maxDigestsPerEvent,
    });
  }
  const digests: Record<BankName, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    // Field names are constants: a template per digest per event was a large share of parsing.
    const algorithmId = reader.u16le('Digests.AlgorithmId');
    const algorithm = sizes.get(algorithmId);
    if (!algorithm) {
      throw new EventLogError(
        'ERR_EVENTLOG_UNKNOWN_ALGORITHM',
        `digest algorithm 0x${algorithmId.toString(16).padStart(4, '0')} is not declared in the Spec ID header, so its size is unknown`,
        { algorithmId },
      );
    }
    if (Object.hasOwn(digests, algorithm.name)) {
      throw new EventLogError('ERR_EVENTLOG_MALFORMED', `two ${algorithm.name} digests in one event`, { algorithm: algorithm.name });
    }
    digests[algorithm.name] = reader.bytesView(algorithm.digestSize, 'Digests.digest');
  }
  // Every event carries every allocated bank (PFP §10.2.2, TCG_PCR_EVENT2.Digests). An event that
  // leaves one out could sit in the log without moving that bank's PCRs, so a replay of that bank
  // would still match the quote while its data (a command line, a composefs digest) became claims.
  // (Unknown and repeated algorithms threw above, so fewer digests than banks means one is missing.)
  if (count !== sizes.size) {
    const missing = [...sizes.values()].filter((b) => !Object.hasOwn(digests, b.name)).map((b) => b.name);
    throw new EventLogError(
      'ERR_EVENTLOG_DIGEST_MISSING',
      `${count} digest(s) but the Spec ID header allocates ${sizes.size} bank(s): no ${missing.join(', ')} digest`,
      { missing, count },
    );
  }
  const data = readEventData(reader);
  return { index, offset, pcr, type, typeName: typeNameOf(type), digests, data, decoded: decodeEvent(type, pcr, data, options, digests) };
}

/**
 * TCG_EfiSpecIDEventStruct: Signature[16], platformClass u32, specVersionMinor u8, specVersionMajor u8,
 * specErrata u8, uintnSize u8, numberOfAlgorithms u32, {algorithmId u16, digestSize u16}[],
 * vendorInfoSize u8, vendorInfo[].
 */
export function parseSpecIdEvent(data: Uint8Array): SpecIdEvent {
  return inContext('Spec ID event', { event: 0 }, () => {
    const r = new ByteReader(data);
    const signature = noActionSignature(r.bytesView(specIdSignatureBytes, 'Signature'));
    const platformClass = r.u32le('platformClass');
    const minor = r.u8('specVersionMinor');
    const major = r.u8('specVersionMajor');
    const errata = r.u8('specErrata');
    const uintnSize = r.u8('uintnSize');
    const count = r.u32le('numberOfAlgorithms');
    if (count === 0 || count > EventLogLimits.maxSpecIdAlgorithms) {
      throw new EventLogError('ERR_EVENTLOG_MALFORMED', `Spec ID header declares ${count} algorithms (expected 1..${EventLogLimits.maxSpecIdAlgorithms})`, {
        count,
      });
    }
    const algorithms: SpecIdAlgorithm[] = [];
    for (let i = 0; i < count; i++) {
      const algorithmId = r.u16le(`digestSizes[${i}].algorithmId`);
      const digestSize = r.u16le(`digestSizes[${i}].digestSize`);
      const name = hashAlgorithmById(algorithmId) ?? `alg_0x${algorithmId.toString(16).padStart(4, '0')}`;
      const known = hashAlgorithmById(algorithmId);
      if (known && HashAlgorithm[known].size !== digestSize) {
        throw new EventLogError(
          'ERR_EVENTLOG_MALFORMED',
          `Spec ID header gives ${name} a ${digestSize}-byte digest; ${name} digests are ${HashAlgorithm[known].size} bytes`,
          { algorithm: name, digestSize },
        );
      }
      if (digestSize === 0 || digestSize > EventLogLimits.maxDigestBytes) {
        throw new EventLogError(
          'ERR_EVENTLOG_MALFORMED',
          `Spec ID header gives algorithm ${name} digest size ${digestSize} (expected 1..${EventLogLimits.maxDigestBytes})`,
          { algorithm: name, digestSize },
        );
      }
      if (algorithms.some((a) => a.algorithmId === algorithmId)) {
        throw new EventLogError('ERR_EVENTLOG_MALFORMED', `Spec ID header lists ${name} twice`, { algorithm: name });
      }
      algorithms.push({ name, algorithmId, digestSize });
    }
    const vendorInfo = toHex(r.bytesView(r.u8('vendorInfoSize'), 'vendorInfo'));
    r.expectEnd('TCG_EfiSpecIDEventStruct');
    return { signature, platformClass, specVersion: `${major}.${minor}.${errata}`, uintnSize, algorithms, vendorInfo };
  });
}

function specIdDecoded(specId: SpecIdEvent): DecodedSpecId {
  return { kind: 'spec-id', ...specId };
}

function specIdOf(decoded: DecodedSpecId): SpecIdEvent {
  const { kind: _kind, ...specId } = decoded;
  return specId;
}
