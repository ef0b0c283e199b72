// Builds binary event logs (crypto-agile or TCG 1.2) from event descriptions: what a simulated boot
// writes next to the software TPM, and the fixtures tests parse back. The output is a real log:
// parseEventLog reads it and replay gives the PCRs a TPM fed the same digests holds.
import { ByteWriter } from '../bytes/index.ts';
import { EventType } from './constants.ts';
import { NoActionSignature } from './decode.ts';
import { EventLogError } from './errors.ts';
import { HashAlgorithm, type HashAlgorithmName, hashBytes } from '../hash/index.ts';

export interface EventToEncode {
  readonly pcr: number;
  readonly type: number;
  readonly data: Uint8Array;
  /** Digests per bank as logged; when absent each bank's digest is H(digestInput ?? data). */
  readonly digests?: Readonly<Partial<Record<HashAlgorithmName, Uint8Array>>>;
  /** What the digest covers when it is not the event data (a PE image, a file, a command without its prefix). */
  readonly digestInput?: Uint8Array;
}

export interface EventLogToEncode {
  /** `crypto-agile` (default) writes a Spec ID Event03 header for `banks`; `tcg-1.2-sha1` writes SHA-1 TCG_PCR_EVENTs. */
  readonly format?: 'crypto-agile' | 'tcg-1.2-sha1';
  readonly banks: readonly HashAlgorithmName[];
  /** Writes an EV_NO_ACTION StartupLocality event first (locality 3 or 4 platforms). */
  readonly startupLocality?: number;
  readonly events: readonly EventToEncode[];
}

/** TCG_EfiSpecIDEventStruct for `banks` (PFP §10.4.5.1): platform class 0 (client), spec 2.0 errata 0, UINTN 8 bytes. */
export function encodeSpecIdEvent(banks: readonly HashAlgorithmName[]): Uint8Array {
  const w = new ByteWriter().bytes(signatureBytes(NoActionSignature.specId03)).u32le(0).u8(0).u8(2).u8(0).u8(2).u32le(banks.length);
  for (const bank of banks) w.u16le(HashAlgorithm[bank].id).u16le(HashAlgorithm[bank].size);
  return w.u8(0).finish();
}

/** The 17-byte EV_NO_ACTION StartupLocality event data. */
export function encodeStartupLocalityEvent(locality: number): Uint8Array {
  return new ByteWriter(17).bytes(signatureBytes(NoActionSignature.startupLocality)).u8(locality).finish();
}

function signatureBytes(signature: string): Uint8Array {
  const out = new Uint8Array(16);
  out.set(Buffer.from(signature, 'latin1'));
  return out;
}

function digestFor(event: EventToEncode, bank: HashAlgorithmName): Uint8Array {
  if (event.type === EventType.EV_NO_ACTION) return new Uint8Array(HashAlgorithm[bank].size);
  const given = event.digests?.[bank];
  if (given) {
    if (given.length !== HashAlgorithm[bank].size)
      throw new EventLogError('ERR_EVENTLOG_MALFORMED', `${bank} digest of ${given.length} bytes; ${bank} digests are ${HashAlgorithm[bank].size}`, { bank });
    return given;
  }
  return hashBytes(bank, event.digestInput ?? event.data);
}

export function encodeEventLog(log: EventLogToEncode): Uint8Array {
  const w = new ByteWriter(4096);
  const legacyEvent = (pcr: number, type: number, digest: Uint8Array, data: Uint8Array): void => {
    w.u32le(pcr).u32le(type).bytes(digest).u32le(data.length).bytes(data);
  };
  const isLegacy = log.format === 'tcg-1.2-sha1';
  if (isLegacy && (log.banks.length !== 1 || log.banks[0] !== 'sha1')) {
    throw new EventLogError('ERR_EVENTLOG_MALFORMED', 'a TCG 1.2 log carries exactly the sha1 bank');
  }
  if (!isLegacy) legacyEvent(0, EventType.EV_NO_ACTION, new Uint8Array(20), encodeSpecIdEvent(log.banks));
  const events: EventToEncode[] = [
    ...(log.startupLocality !== undefined ? [{ pcr: 0, type: EventType.EV_NO_ACTION, data: encodeStartupLocalityEvent(log.startupLocality) }] : []),
    ...log.events,
  ];
  for (const event of events) {
    if (isLegacy) {
      legacyEvent(event.pcr, event.type, digestFor(event, 'sha1'), event.data);
      continue;
    }
    w.u32le(event.pcr).u32le(event.type).u32le(log.banks.length);
    for (const bank of log.banks) w.u16le(HashAlgorithm[bank].id).bytes(digestFor(event, bank));
    w.u32le(event.data.length).bytes(event.data);
  }
  return w.finish();
}
