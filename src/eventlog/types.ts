// The parsed event log model. Raw bytes stay Uint8Array (digests and data are what replay and
// digest checks work on); decoded values are plain JSON (hex strings, numbers, text).
import type { DecodedEvent } from './decoded-types.ts';
import type { Finding } from './findings.ts';

/** A bank name: a known algorithm (`sha256`) or `alg_0x<id>` for one only the Spec ID header describes. */
export type BankName = string;

export interface SpecIdAlgorithm {
  readonly name: BankName;
  readonly algorithmId: number;
  readonly digestSize: number;
}

/** TCG_EfiSpecIdEvent (PFP §10.4.5.1), the first event of a crypto-agile log. */
export interface SpecIdEvent {
  readonly signature: string;
  readonly platformClass: number;
  readonly specVersion: string;
  readonly uintnSize: number;
  readonly algorithms: readonly SpecIdAlgorithm[];
  readonly vendorInfo: string;
}

export interface TcgEvent {
  /** Position in the log, 0-based; the Spec ID header of a crypto-agile log is event 0. */
  readonly index: number;
  /** Byte offset of the event in the log file. */
  readonly offset: number;
  readonly pcr: number;
  readonly type: number;
  /** PFP name (`EV_IPL`) or `EV_UNKNOWN_0x…`. */
  readonly typeName: string;
  /** Digest per bank as the log claims it; untrusted until replay matches a quote. */
  readonly digests: Readonly<Record<BankName, Uint8Array>>;
  /** Event data as logged; untrusted (checkEventDigests says which events' data is bound to their digest). */
  readonly data: Uint8Array;
  readonly decoded: DecodedEvent;
}

export type EventLogFormat = 'tcg-1.2-sha1' | 'crypto-agile';

export interface EventLog {
  readonly format: EventLogFormat;
  readonly specId?: SpecIdEvent;
  /** Banks carried by the log: from the Spec ID header, or `sha1` for a TCG 1.2 log. */
  readonly banks: readonly BankName[];
  readonly events: readonly TcgEvent[];
  /** Everything odd seen while parsing and decoding (no digest checks: see checkEventDigests). */
  readonly findings: readonly Finding[];
}
