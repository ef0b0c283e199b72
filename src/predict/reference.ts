// Reference values for A/B rollouts (docs/design.md "Claims and policy"): one set per image version,
// all accepted at once while a fleet moves from the old image to the new, and for any node's
// PCRs (quoted, or replayed from its event log) the versions it matches and why the others fail.
import { fromHex, toHex } from '../bytes/index.ts';
import { extendPcr, initialPcrValue, parseEventLog, replay, type EventLog } from '../eventlog/index.ts';
import type { PcrValues } from '../hash/index.ts';
import { PCR_BANKS, type PcrBank } from './banks.ts';
import { completePcrRules, describePcrRule, ruleAccepts, type PcrRule, type PcrRules } from './pcr-rules.ts';
import type { PredictedEvent } from './events.ts';
import type { Prediction } from './predict.ts';

export interface ReferenceSet {
  /** The image version this set accepts (e.g. "2026.11.1" or a UKI file name). */
  readonly version: string;
  /** A rule for every PCR of every predicted bank: the predicted value, or a default with its reason. */
  readonly pcrs: PcrRules;
  readonly events: readonly PredictedEvent[];
  readonly assumptions: readonly string[];
}

export interface ReferenceValues {
  readonly sets: readonly ReferenceSet[];
}

export interface PcrMismatch {
  readonly bank: PcrBank;
  readonly pcr: number;
  /** The rule in words (a value, or "one of …"), or "(no rule)" when the set has none for a PCR the evidence holds. */
  readonly expected: string;
  /** undefined when the evidence lacks this PCR (not quoted, or no event in the log). */
  readonly actual: string | undefined;
  /** From an event log: the first event of this PCR where the log departs from the prediction. */
  readonly firstDifference?: EventDifference;
}

/** A PCR the set deliberately does not appraise, and why. */
export interface PcrNotAppraised {
  readonly bank: PcrBank;
  readonly pcr: number;
  readonly reason: string;
}

export interface EventDifference {
  /** Position among this PCR's events (0 = its first event). */
  readonly position: number;
  /** The predicted event there, absent when the log has more events than predicted. */
  readonly expected?: { readonly type: string; readonly description: string; readonly digest: string | undefined };
  /** The logged event there (its number in the log), absent when the log has fewer events. */
  readonly actual?: { readonly event: number; readonly type: string; readonly digest: string };
}

export interface VersionMatch {
  readonly version: string;
  readonly matches: boolean;
  readonly mismatches: readonly PcrMismatch[];
  readonly notAppraised: readonly PcrNotAppraised[];
}

export interface ReferenceMatch {
  /** Versions whose every rule holds for the evidence, in set order. */
  readonly matched: readonly string[];
  readonly versions: readonly VersionMatch[];
}

/** One reference set per image version, from the predictions of each: predicted PCRs, and defaults for the rest. */
export function referenceValues(versions: readonly { readonly version: string; readonly prediction: Prediction }[]): ReferenceValues {
  return {
    sets: versions.map(({ version, prediction }) => ({
      version,
      pcrs: completePcrRules(prediction.banks),
      events: prediction.events,
      assumptions: prediction.assumptions,
    })),
  };
}

export interface MatchOptions {
  /**
   * Every PCR the evidence holds must have a rule in the set (a quote: nothing it covers goes
   * unappraised silently). Without it only the set's rules are checked (an event log alone, which
   * holds only the PCRs it extends).
   */
  readonly everyEvidencePcr?: boolean;
}

/**
 * Which versions the PCR values match. A set matches when every rule it has for a bank the
 * evidence holds is satisfied (a not-appraised rule always is, and is listed as such), and, with
 * `everyEvidencePcr`, every PCR of the evidence has a rule; a set and evidence sharing no bank never
 * match.
 */
export function matchPcrValues(refs: ReferenceValues, actual: PcrValues, options: MatchOptions = {}): ReferenceMatch {
  const versions = refs.sets.map((set): VersionMatch => {
    const mismatches: PcrMismatch[] = [];
    const notAppraised: PcrNotAppraised[] = [];
    let compared = 0;
    for (const bank of PCR_BANKS) {
      const rules = set.pcrs[bank];
      const values = actual[bank];
      if (values === undefined || (rules === undefined && !options.everyEvidencePcr)) continue;
      const pcrs = new Set([...Object.keys(rules ?? {}), ...(options.everyEvidencePcr ? Object.keys(values) : [])]);
      for (const pcr of [...pcrs].sort((a, b) => Number(a) - Number(b))) {
        const rule = rules?.[pcr];
        const got = values[pcr]?.toLowerCase();
        if (rule === undefined) {
          mismatches.push({ bank, pcr: Number(pcr), expected: '(no rule)', actual: got });
          continue;
        }
        compared++;
        const accepted = got === undefined ? (typeof rule === 'object' && 'notAppraised' in rule ? undefined : false) : ruleAccepts(rule, got);
        if (accepted === undefined) notAppraised.push({ bank, pcr: Number(pcr), reason: (rule as { notAppraised: string }).notAppraised });
        else if (!accepted) mismatches.push({ bank, pcr: Number(pcr), expected: describePcrRule(rule), actual: got });
      }
    }
    return { version: set.version, matches: compared > 0 && mismatches.length === 0, mismatches, notAppraised };
  });
  return { matched: versions.filter((v) => v.matches).map((v) => v.version), versions };
}

/**
 * A set as the firmware log shows it: without the extends made from userspace (systemd-pcrphase),
 * which a quote includes but binary_bios_measurements never records.
 */
function firmwareLogView(set: ReferenceSet): ReferenceSet {
  if (set.events.every((e) => e.data !== undefined)) return set;
  const logged = set.events.filter((e) => e.data !== undefined);
  const pcrs: Partial<Record<PcrBank, Record<string, PcrRule>>> = {};
  for (const bank of PCR_BANKS) {
    const rules = set.pcrs[bank];
    if (rules === undefined) continue;
    const predictedPcrs = new Set(set.events.map((e) => String(e.pcr)));
    const atHandoff = new Map([...predictedPcrs].map((pcr) => [pcr, initialPcrValue(Number(pcr), bank)]));
    for (const e of logged) {
      const value = atHandoff.get(String(e.pcr));
      const digest = e.digests[bank];
      if (value !== undefined && digest !== undefined) atHandoff.set(String(e.pcr), extendPcr(bank, value, fromHex(digest)));
    }
    pcrs[bank] = { ...rules, ...Object.fromEntries([...atHandoff].map(([pcr, v]) => [pcr, toHex(v)])) };
  }
  return { ...set, pcrs, events: logged };
}

/**
 * Which versions an event log matches: the log is replayed per bank (PCRs without events keep
 * their reset value, as a quote would show) and compared with each set as far as the firmware log
 * records it (pcrphase words left out). Replaying a log proves nothing alone — the verifier also
 * checks the replay against a quote.
 */
export function matchEventLog(references: ReferenceValues, log: Uint8Array): ReferenceMatch {
  const refs: ReferenceValues = { sets: references.sets.map(firmwareLogView) };
  const parsed = parseEventLog(log);
  const replayed = replay(parsed);
  const actual: Partial<Record<PcrBank, Record<string, string>>> = {};
  for (const bank of PCR_BANKS) {
    const result = replayed.banks[bank];
    if (result === undefined) continue;
    const values: Record<string, string> = {};
    for (const set of refs.sets)
      for (const pcr of Object.keys(set.pcrs[bank] ?? {})) values[pcr] = toHex(initialPcrValue(Number(pcr), bank, result.startupLocality));
    for (const p of result.pcrs) values[String(p.pcr)] = p.value;
    actual[bank] = values;
  }
  const match = matchPcrValues(refs, actual);
  // Say which event made each PCR differ: what an operator needs to see (a new kernel, a
  // changed command line, a dbx update) rather than two unrelated hashes.
  const versions = match.versions.map((v, i) => ({
    ...v,
    mismatches: v.mismatches.map((m) => {
      const difference = firstDifference(refs.sets[i]!.events, parsed, m.bank, m.pcr);
      return difference ? { ...m, firstDifference: difference } : m;
    }),
  }));
  return { matched: match.matched, versions };
}

function firstDifference(predicted: readonly PredictedEvent[], log: EventLog, bank: PcrBank, pcr: number): EventDifference | undefined {
  const expected = predicted.filter((e) => e.pcr === pcr);
  const logged = log.events.filter((e) => e.pcr === pcr && e.typeName !== 'EV_NO_ACTION');
  for (let position = 0; position < Math.max(expected.length, logged.length); position++) {
    const e = expected[position];
    const l = logged[position];
    const loggedDigest = l?.digests[bank] === undefined ? undefined : toHex(l.digests[bank]);
    if (e !== undefined && l !== undefined && e.digests[bank] === loggedDigest) continue;
    return {
      position,
      ...(e ? { expected: { type: e.type, description: e.description, digest: e.digests[bank] } } : {}),
      ...(l ? { actual: { event: l.index, type: l.typeName, digest: loggedDigest ?? '' } } : {}),
    };
  }
  return undefined;
}
