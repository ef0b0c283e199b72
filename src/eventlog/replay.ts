// Replay: recompute each PCR from the logged digests, PCR_new = H(PCR_old ‖ digest), per bank.
// PCR 0 starts at 0…0‖locality when an EV_NO_ACTION "StartupLocality" event says TPM2_Startup came
// from locality 3 or 4 (PFP §10.4.5.3); tpm2_eventlog 5.4 misses this for the SHA-1 bank.
import { toHex } from '../bytes/index.ts';
import { EventType } from './constants.ts';
import { EventLogError } from './errors.ts';
import { FindingKind, type Finding } from './findings.ts';
import type { BankName, EventLog } from './types.ts';
import { HashAlgorithm, hashBytes, isHashAlgorithmName, type HashAlgorithmName } from '../hash/index.ts';

export interface ReplayedPcr {
  readonly pcr: number;
  /** Lower-case hex of the PCR value after every event of the log. */
  readonly value: string;
  /** Event numbers extended into this PCR, in order. */
  readonly events: readonly number[];
}

export interface ReplayedBank {
  readonly bank: HashAlgorithmName;
  /** Locality of TPM2_Startup (PCR 0's initial value): 0 unless a StartupLocality event says otherwise. */
  readonly startupLocality: number;
  /** PCRs that received at least one event, ascending. */
  readonly pcrs: readonly ReplayedPcr[];
}

export interface Replay {
  readonly banks: Readonly<Partial<Record<HashAlgorithmName, ReplayedBank>>>;
  readonly findings: readonly Finding[];
}

/** The TPM 2.0 PC Client PCRs 17-22 (DRTM) start at all-ones until a dynamic launch resets them (PTP §4.6.2). */
const drtmPcrs = { first: 17, last: 22 } as const;

/** A PCR's value right after TPM2_Startup(CLEAR). */
export function initialPcrValue(pcr: number, bank: HashAlgorithmName, startupLocality = 0): Uint8Array {
  const value = new Uint8Array(HashAlgorithm[bank].size);
  if (pcr >= drtmPcrs.first && pcr <= drtmPcrs.last) value.fill(0xff);
  if (pcr === 0) value[value.length - 1] = startupLocality;
  return value;
}

/** H(old ‖ digest) with the bank's hash: the TPM2_PCR_Extend step. */
export function extendPcr(bank: HashAlgorithmName, old: Uint8Array, digest: Uint8Array): Uint8Array {
  const input = new Uint8Array(old.length + digest.length);
  input.set(old);
  input.set(digest, old.length);
  return hashBytes(bank, input);
}

// One-shot crypto.hash: a hostile log asks for one hash per event, and a Hash object per call
// cost twice as much as the hashing itself.
/** The locality of the first StartupLocality event in PCR 0, or 0. */
export function startupLocalityOf(log: EventLog): number {
  for (const event of log.events) {
    if (event.type === EventType.EV_NO_ACTION && event.pcr === 0 && event.decoded.kind === 'startup-locality') return event.decoded.locality;
  }
  return 0;
}

/**
 * Replays every bank the log carries (or `options.banks`). Throws ERR_EVENTLOG_BANK_MISSING for a
 * requested bank the log lacks. A bank whose algorithm Vouch cannot compute (an id only the header
 * names) is left out with an `unreplayable-bank` finding.
 */
export function replay(log: EventLog, options: { readonly banks?: readonly BankName[] } = {}): Replay {
  const wanted = options.banks ?? log.banks;
  const findings: Finding[] = [];
  const banks: Partial<Record<HashAlgorithmName, ReplayedBank>> = {};
  const startupLocality = startupLocalityOf(log);
  for (const bank of wanted) {
    if (!log.banks.includes(bank)) {
      throw new EventLogError('ERR_EVENTLOG_BANK_MISSING', `the event log has no ${bank} bank (it has ${log.banks.join(', ')})`, { bank, banks: log.banks });
    }
    if (!isHashAlgorithmName(bank)) {
      findings.push({
        kind: FindingKind.unreplayableBank,
        severity: 'warning',
        bank,
        message: `bank ${bank} uses an algorithm Vouch cannot compute; not replayed`,
      });
      continue;
    }
    banks[bank] = replayBank(log, bank, startupLocality);
  }
  return { banks, findings };
}

function replayBank(log: EventLog, bank: HashAlgorithmName, startupLocality: number): ReplayedBank {
  const { size } = HashAlgorithm[bank];
  // PCR ‖ digest, reused for every extend: a hostile log asks for one extend per event.
  const extendInput = new Uint8Array(2 * size);
  const values = new Map<number, { value: Uint8Array; events: number[] }>();
  // TPM2_Startup from locality 3 or 4 sets PCR 0 even when no event is extended into it.
  if (startupLocality !== 0) values.set(0, { value: initialPcrValue(0, bank, startupLocality), events: [] });
  for (const event of log.events) {
    if (event.type === EventType.EV_NO_ACTION) continue;
    const digest = event.digests[bank];
    // parseEventLog rejects such an event; a log assembled by other means gets the same answer.
    if (!digest) {
      throw new EventLogError('ERR_EVENTLOG_DIGEST_MISSING', `event #${event.index} has no ${bank} digest, so the ${bank} bank cannot be replayed`, {
        event: event.index,
        bank,
      });
    }
    if (digest.length !== size) {
      throw new EventLogError('ERR_EVENTLOG_MALFORMED', `event #${event.index}: ${bank} digest of ${digest.length} bytes; ${bank} digests are ${size}`, {
        event: event.index,
        bank,
      });
    }
    let pcr = values.get(event.pcr);
    if (!pcr) {
      pcr = { value: initialPcrValue(event.pcr, bank, startupLocality), events: [] };
      values.set(event.pcr, pcr);
    }
    extendInput.set(pcr.value);
    extendInput.set(digest, size);
    pcr.value = hashBytes(bank, extendInput);
    pcr.events.push(event.index);
  }
  const pcrs = [...values.entries()].sort(([a], [b]) => a - b).map(([pcr, { value, events }]) => ({ pcr, value: toHex(value), events }));
  return { bank, startupLocality, pcrs };
}
