// Compares a replay with PCR values a TPM quoted, PCR by PCR, naming the events behind each.
import { toHex } from '../bytes/index.ts';
import { EventLogLimits } from './constants.ts';
import { EventLogError } from './errors.ts';
import { initialPcrValue, type Replay } from './replay.ts';
import { HashAlgorithm, type HashAlgorithmName, isHashAlgorithmName } from '../hash/index.ts';

/** Quoted values: bank → PCR index → value (hex string or bytes). */
export type QuotedPcrs = Readonly<Record<string, Readonly<Record<number | string, string | Uint8Array>>>>;

export interface PcrComparisonEntry {
  readonly bank: HashAlgorithmName;
  readonly pcr: number;
  /** `match` / `mismatch` for quoted PCRs; `not-quoted` for PCRs the log extends but the quote omits. */
  readonly status: 'match' | 'mismatch' | 'not-quoted';
  readonly replayed: string;
  readonly quoted?: string;
  /** Events that contributed to the replayed value (empty: the PCR is at its reset value). */
  readonly events: readonly number[];
}

export interface PcrComparison {
  /** True when every quoted PCR of every quoted bank equals the replay. */
  readonly allMatch: boolean;
  readonly entries: readonly PcrComparisonEntry[];
  readonly mismatches: readonly PcrComparisonEntry[];
}

function normalizeHex(value: string | Uint8Array): string {
  return typeof value === 'string' ? value.toLowerCase().replace(/^0x/, '') : toHex(value);
}

/**
 * Per-PCR comparison of a replay with quoted values. A quoted PCR the log never extends is compared
 * with its reset value; a bank quoted but absent from the replay throws ERR_EVENTLOG_BANK_MISSING
 * (the log cannot explain it, and silence would read as success).
 */
export function compareWithQuote(replayed: Replay, quoted: QuotedPcrs): PcrComparison {
  const entries: PcrComparisonEntry[] = [];
  for (const [bank, quotedValues] of Object.entries(quoted)) {
    const replayedBank = isHashAlgorithmName(bank) ? replayed.banks[bank] : undefined;
    if (!isHashAlgorithmName(bank) || !replayedBank) {
      throw new EventLogError('ERR_EVENTLOG_BANK_MISSING', `PCR values are given for bank ${bank}, which the replay does not have`, { bank });
    }
    const byPcr = new Map(replayedBank.pcrs.map((p) => [p.pcr, p]));
    const quotedPcrs = new Set<number>();
    for (const [key, value] of Object.entries(quotedValues)) {
      const pcr = Number(key);
      if (!/^[0-9]{1,2}$/.test(key) || pcr > EventLogLimits.maxPcrIndex) {
        throw new EventLogError('ERR_EVENTLOG_QUOTED_PCRS', `quoted ${bank} PCR ${JSON.stringify(key)} is not a PCR number 0-${EventLogLimits.maxPcrIndex}`, {
          bank,
          pcr: key,
        });
      }
      const quotedValue = normalizeHex(value);
      const digestHexChars = 2 * HashAlgorithm[bank].size;
      if (quotedValue.length !== digestHexChars || !/^[0-9a-f]*$/.test(quotedValue)) {
        throw new EventLogError('ERR_EVENTLOG_QUOTED_PCRS', `quoted ${bank} PCR ${pcr} is not ${digestHexChars} hex digits`, { bank, pcr });
      }
      quotedPcrs.add(pcr);
      const replay = byPcr.get(pcr);
      const replayedValue = replay?.value ?? toHex(initialPcrValue(pcr, bank, replayedBank.startupLocality));
      entries.push({
        bank,
        pcr,
        status: replayedValue === quotedValue ? 'match' : 'mismatch',
        replayed: replayedValue,
        quoted: quotedValue,
        events: replay?.events ?? [],
      });
    }
    for (const p of replayedBank.pcrs) {
      if (!quotedPcrs.has(p.pcr)) entries.push({ bank, pcr: p.pcr, status: 'not-quoted', replayed: p.value, events: p.events });
    }
  }
  entries.sort((a, b) => (a.bank === b.bank ? a.pcr - b.pcr : a.bank < b.bank ? -1 : 1));
  const mismatches = entries.filter((e) => e.status === 'mismatch');
  return { allMatch: mismatches.length === 0, entries, mismatches };
}
