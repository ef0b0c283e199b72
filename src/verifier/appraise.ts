// Appraisal (docs/design.md "Attestation", steps 3-4): evidence + the node's bound AK + reference
// values + policy + an injected clock → a verdict that lists EVERY reason with expected vs actual
// and the events involved. Pure and synchronous: no I/O, no clock of its own.
//
// Trust is built in order and nothing is believed before the step that vouches for it: the quote's
// signature (by the bound AK) and qualifying data make the quoted PCRs the TPM's; the event log is
// believed for a PCR only where its replay equals the quoted value; claims come from events of
// PCRs that replay, and an event's data only where it is bound to its digest (claims.ts); every
// quoted PCR is appraised by a rule of the reference set, and the policy judges the claims.
import { X509Certificate } from 'node:crypto';
import { fromHex, toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import {
  checkEventDigests,
  compareWithQuote,
  describeDecodedEvent,
  parseEventLog,
  parseUefiVariableData,
  replay,
  type EventLog,
  type PcrComparison,
  type Replay,
  type TcgEvent,
} from '../eventlog/index.ts';
import { hashBytes, pcrBanks, type HashAlgorithmName, type PcrValues } from '../hash/index.ts';
import { describePcrRule, matchPcrValues, type PredictedEvent, type ReferenceSet, type ReferenceValues, type VersionMatch } from '../predict/index.ts';
import { parseSignatureDatabase, signatureEntries, subjectOf } from '../secureboot/index.ts';
import type { PcrSelection, structures } from '../tpm/index.ts';
import { deriveClaims, type Claims } from './claims.ts';
import { checkQuote, type VerifiedQuote } from './quote.ts';
import { VerdictReason, VerdictStatus, type EventDifference, type EventSummary, type PcrAppraisal, type Reason, type Verdict } from './verdict.ts';

/** Reference values per release with the composefs digest each release's command line names. */
export interface ReleaseCatalog {
  readonly values: ReferenceValues;
  readonly composefsDigests: Readonly<Record<string, string>>;
}

export interface AttestationEvidence {
  /** TPMS_ATTEST as received. */
  readonly untrustedAttest: Uint8Array;
  /** TPMT_SIGNATURE as received. */
  readonly untrustedSignature: Uint8Array;
  readonly untrustedPcrs: PcrValues;
  readonly untrustedEventLog: Uint8Array;
}

/** What a policy may know about the node besides its evidence (from the server's record, never from the node). */
export type NodeFacts = Readonly<Record<string, string | number | boolean>>;

/** What a policy judges: the claims, and the reference values they were compared with. */
export interface PolicyInput {
  readonly claims: Claims;
  readonly node: NodeFacts;
  readonly refs: {
    readonly matchedReleases: readonly string[];
    readonly composefsRelease?: string;
    readonly releases: readonly { readonly version: string; readonly composefsDigest?: string }[];
  };
}

/** A rule the claims failed: `deny` contraindicates, `warn` makes the verdict a warning. */
export interface PolicyFailure {
  readonly rule: string;
  readonly action: 'deny' | 'warn';
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
  /** Log events the rule's claims came from. */
  readonly events?: readonly number[];
}

/** A compiled policy: pure, returns every failed rule (empty: the claims pass). */
export type PolicyCheck = (input: PolicyInput) => readonly PolicyFailure[];

export interface AppraisalInputs {
  /** The AK bound to the node's EK at enrollment (undefined: the node never completed enrollment). */
  readonly boundAk: structures.TPMT_PUBLIC | undefined;
  /** The qualifying data the quote must carry: SHA-256(nonce ‖ JWK thumbprint) in the protocol. */
  readonly qualifyingData: Uint8Array;
  /** The PCRs the challenge asked for: the quote must cover exactly these. */
  readonly selection: readonly PcrSelection[];
  readonly references: ReleaseCatalog;
  readonly policy?: PolicyCheck;
  readonly node?: NodeFacts;
  readonly allowedSignatureHashes?: readonly HashAlgorithmName[];
  readonly now: Date;
}

/** systemd-stub measures the kernel command line it uses into PCR 12 (systemd docs TPM2_PCR_MEASUREMENTS). */
const KERNEL_PARAMETERS_PCR = 12;
/** EFI_SIGNATURE_DATA.SignatureOwner, the GUID before the certificate. */
const SIGNATURE_OWNER_BYTES = 16;

/**
 * Subjects of the X.509 certificates in a Secure Boot variable event (a signature database) or an
 * authority event. For display only: data that does not parse just shows no subjects — the digest
 * comparison has already decided.
 */
function certificateSubjects(type: string, data: Uint8Array): string[] {
  if (type !== 'EV_EFI_VARIABLE_DRIVER_CONFIG' && type !== 'EV_EFI_VARIABLE_AUTHORITY') return [];
  try {
    const variable = parseUefiVariableData(data);
    const certificates =
      type === 'EV_EFI_VARIABLE_AUTHORITY'
        ? [variable.data.subarray(SIGNATURE_OWNER_BYTES)]
        : signatureEntries(parseSignatureDatabase(variable.data)).flatMap((e) => (e.type === 'x509' ? [e.certificate] : []));
    return certificates.map((der) => subjectOf(new X509Certificate(der)));
  } catch {
    return [];
  }
}

function withCertificates(summary: EventSummary, data: Uint8Array | undefined): EventSummary {
  const certificates = data ? certificateSubjects(summary.type, data) : [];
  return certificates.length ? { ...summary, certificates } : summary;
}

function logEventSummary(event: TcgEvent, bank: string): EventSummary {
  const digest = event.digests[bank];
  return withCertificates(
    { index: event.index, pcr: event.pcr, type: event.typeName, description: describeDecodedEvent(event.decoded), digest: digest ? toHex(digest) : '' },
    event.data,
  );
}

function predictedSummary(event: PredictedEvent, bank: string): EventSummary {
  const digest = (event.digests as Record<string, string | undefined>)[bank] ?? '';
  return withCertificates(
    { pcr: event.pcr, type: event.type, description: event.description, digest },
    event.data === undefined ? undefined : fromHex(event.data),
  );
}

/** Position by position within one PCR: where the log departs from the prediction. */
function eventDifferences(log: EventLog, set: ReferenceSet, pcr: number, bank: string): EventDifference[] {
  const logged = log.events.filter((e) => e.pcr === pcr && e.typeName !== 'EV_NO_ACTION');
  const predicted = set.events.filter((e) => e.pcr === pcr);
  const out: EventDifference[] = [];
  for (let position = 0; position < Math.max(logged.length, predicted.length); position++) {
    const loggedEvent = logged[position];
    const predictedEvent = predicted[position];
    const actual = loggedEvent ? logEventSummary(loggedEvent, bank) : undefined;
    const expected = predictedEvent ? predictedSummary(predictedEvent, bank) : undefined;
    if (actual?.digest === expected?.digest) continue;
    out.push({ position, ...(expected ? { expected } : {}), ...(actual ? { actual } : {}) });
  }
  return out;
}

function refused(now: Date, reasons: Reason[]): Verdict {
  return {
    status: VerdictStatus.contraindicated,
    appraisedAt: now.toISOString(),
    matchedReleases: [],
    reasons,
    warnings: [],
    pcrs: [],
    releaseComparisons: [],
  };
}

/** The bank claims and event reasons are shown in: sha256 when quoted, else the first quoted bank. */
function appraisedBank(quoted: PcrValues): HashAlgorithmName {
  const banks = pcrBanks(quoted);
  return banks.includes('sha256') ? 'sha256' : banks[0]!;
}

interface LogEvidence {
  readonly log: EventLog;
  readonly replayingPcrs: ReadonlySet<number>;
  readonly reasons: readonly Reason[];
  readonly digestChecks: ReturnType<typeof checkEventDigests>['events'];
}

/** What a log says by itself, whatever it is compared with: its events, their replay and their digest checks. */
interface AnalysedLog {
  readonly log: EventLog;
  readonly replayed: Replay;
  readonly digests: ReturnType<typeof checkEventDigests>;
}

/**
 * Analyses of recently seen logs, by the SHA-256 of their bytes and the banks asked for. A node that
 * attests again on a schedule sends the same log every time (its boot did not change), so the parse,
 * replay and digest checks — most of an appraisal — are done once per boot rather than once per
 * attestation. Analyses are pure functions of the bytes and never mutated; the map is small and
 * bounded (oldest dropped first), as a parsed log holds several times its size in objects.
 */
const analysedLogs = new Map<string, AnalysedLog>();
const MAX_ANALYSED_LOGS = 64;

function analyseLog(untrustedLog: Uint8Array, banks: readonly HashAlgorithmName[], bank: HashAlgorithmName): AnalysedLog {
  const key = `${toHex(hashBytes('sha256', untrustedLog))}:${banks.join(',')}:${bank}`;
  const hit = analysedLogs.get(key);
  if (hit !== undefined) return hit;
  const log = parseEventLog(untrustedLog);
  // Replay only the quoted banks: a log that lacks one cannot explain the quote (ERR_EVENTLOG_BANK_MISSING).
  const analysed = { log, replayed: replay(log, { banks }), digests: checkEventDigests(log, { banks: [bank] }) };
  if (analysedLogs.size >= MAX_ANALYSED_LOGS) analysedLogs.delete(analysedLogs.keys().next().value!);
  analysedLogs.set(key, analysed);
  return analysed;
}

/** Parses and replays the log against the quoted values; every PCR whose replay differs is a reason. */
function logEvidence(untrustedLog: Uint8Array, quoted: PcrValues, bank: HashAlgorithmName): LogEvidence | Reason {
  let analysed: AnalysedLog;
  let comparison: PcrComparison;
  try {
    analysed = analyseLog(untrustedLog, pcrBanks(quoted), bank);
    comparison = compareWithQuote(analysed.replayed, quoted);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { reason: VerdictReason.eventLogMalformed, message: `${e.code}: ${e.message}` };
  }
  const { log, digests } = analysed;
  const reasons: Reason[] = [];
  const replayingPcrs = new Set<number>();
  for (const entry of comparison.entries) if (entry.status === 'match' && entry.bank === bank) replayingPcrs.add(entry.pcr);
  for (const m of comparison.mismatches) {
    reasons.push({
      reason: VerdictReason.logDoesNotReplay,
      message: `${m.bank} PCR ${m.pcr}: the event log replays to ${m.replayed}, the TPM quoted ${m.quoted ?? '?'}: the log was altered or is not this boot's`,
      pcr: m.pcr,
      bank: m.bank,
      ...(m.quoted !== undefined ? { expected: m.quoted } : {}),
      actual: m.replayed,
      events: m.events.map((i) => logEventSummary(log.events[i]!, m.bank)),
    });
  }
  for (const finding of digests.findings) {
    if (finding.severity !== 'error') continue;
    const event = finding.event === undefined ? undefined : log.events[finding.event];
    reasons.push({
      reason: VerdictReason.eventDataForged,
      message: finding.message,
      ...(finding.pcr !== undefined ? { pcr: finding.pcr } : {}),
      ...(event ? { events: [logEventSummary(event, bank)] } : {}),
    });
  }
  return { log, replayingPcrs, reasons, digestChecks: digests.events };
}

/** Every quoted PCR against a release's rules. */
function pcrAppraisals(quoted: PcrValues, set: ReferenceSet | undefined, comparison: VersionMatch | undefined): PcrAppraisal[] {
  const out: PcrAppraisal[] = [];
  for (const bank of pcrBanks(quoted)) {
    for (const [pcr, value] of Object.entries(quoted[bank] ?? {})) {
      const rule = set?.pcrs[bank as keyof ReferenceSet['pcrs']]?.[pcr];
      const differs = comparison?.mismatches.some((m) => m.bank === bank && String(m.pcr) === pcr) ?? false;
      const notAppraised = comparison?.notAppraised.some((n) => n.bank === bank && String(n.pcr) === pcr) ?? false;
      out.push({
        bank,
        pcr: Number(pcr),
        value,
        outcome: rule === undefined ? 'no-rule' : notAppraised ? 'not-appraised' : differs ? 'differs' : 'matches',
        rule: rule === undefined ? '(no rule)' : describePcrRule(rule),
      });
    }
  }
  return out.sort((a, b) => (a.bank === b.bank ? a.pcr - b.pcr : a.bank < b.bank ? -1 : 1));
}

/** Reasons for the PCRs of the nearest release that differ, with where the logged events depart from the predicted. */
function referenceReasons(nearest: VersionMatch, set: ReferenceSet | undefined, evidence: LogEvidence | undefined): Reason[] {
  return nearest.mismatches.map((m): Reason => {
    const trusted = evidence !== undefined && evidence.replayingPcrs.has(m.pcr);
    const differences = trusted && set ? eventDifferences(evidence.log, set, m.pcr, m.bank) : [];
    const why = m.expected === '(no rule)' ? ' (the reference set has no rule for it: nothing is left unappraised silently)' : '';
    return {
      reason: VerdictReason.pcrNotInReference,
      message: `${m.bank} PCR ${m.pcr} is not what release ${nearest.version} (the nearest) boots${why}${trusted ? '' : ' (the log does not replay for this PCR: its events are not evidence)'}`,
      pcr: m.pcr,
      bank: m.bank,
      expected: m.expected,
      actual: m.actual ?? '(not quoted)',
      ...(differences.length ? { differences } : {}),
    };
  });
}

function policyReasons(failures: readonly PolicyFailure[], log: EventLog | undefined, bank: HashAlgorithmName): { deny: Reason[]; warn: Reason[] } {
  const toReason = (f: PolicyFailure): Reason => ({
    reason: VerdictReason.policyFailed,
    rule: f.rule,
    message: f.message,
    ...(f.expected !== undefined ? { expected: f.expected } : {}),
    ...(f.actual !== undefined ? { actual: f.actual } : {}),
    ...(f.events?.length && log ? { events: f.events.flatMap((i) => (log.events[i] ? [logEventSummary(log.events[i], bank)] : [])) } : {}),
  });
  return { deny: failures.filter((f) => f.action === 'deny').map(toReason), warn: failures.filter((f) => f.action === 'warn').map(toReason) };
}

/**
 * Appraises one attestation.
 *
 * @example
 *   const verdict = appraise(evidence, { boundAk: node.akPublic, qualifyingData, selection, references, policy, now: new Date() });
 *   if (verdict.status === 'affirming') releaseSecrets(node);
 *
 * Caller's duties: `qualifyingData` derives from the nonce issued for this attestation and used
 * once; `boundAk` and `node` come from the node's enrollment record, never from the evidence.
 */
export function appraise(evidence: AttestationEvidence, inputs: AppraisalInputs): Verdict {
  if (inputs.boundAk === undefined) {
    return refused(inputs.now, [
      { reason: VerdictReason.notEnrolled, message: 'no AK is bound to this node: enrollment did not complete, so no quote can be attributed to its TPM' },
    ]);
  }
  const checked = checkQuote({
    ak: inputs.boundAk,
    untrustedAttest: evidence.untrustedAttest,
    untrustedSignature: evidence.untrustedSignature,
    pcrs: evidence.untrustedPcrs,
    expectedExtraData: inputs.qualifyingData,
    expectedSelection: inputs.selection,
    ...(inputs.allowedSignatureHashes ? { allowedSignatureHashes: inputs.allowedSignatureHashes } : {}),
  });
  // Without a valid quote nothing else is evidence of anything: stop here.
  if (!checked.verified) return refused(inputs.now, [{ reason: VerdictReason.quoteInvalid, message: `${checked.code}: ${checked.reason}` }]);
  const quote = checked.quote;
  const quoted = quote.pcrs;
  const bank = appraisedBank(quoted);

  const reasons: Reason[] = [];
  const logResult = logEvidence(evidence.untrustedEventLog, quoted, bank);
  const evidenceOk = 'log' in logResult ? logResult : undefined;
  if (evidenceOk) reasons.push(...evidenceOk.reasons);
  else reasons.push(logResult as Reason);

  const derived = evidenceOk
    ? deriveClaims(evidenceOk.log, bank, quoted, evidenceOk.replayingPcrs, evidenceOk.digestChecks)
    : { claims: emptyClaims(bank, quoted), conflicts: [] };
  const claims = derived.claims;
  for (const c of derived.conflicts) {
    reasons.push({
      reason: VerdictReason.claimConflict,
      message: `the log measures more than one ${c.what} (${c.values.map((v) => JSON.stringify(v)).join(' vs ')}): which one ran cannot be told`,
      actual: c.values.join(' | '),
      ...(evidenceOk ? { events: c.events.map((i) => logEventSummary(evidenceOk.log.events[i]!, bank)) } : {}),
    });
  }

  // What the node booted, in the terms of the release catalogue.
  const composefsRelease = Object.entries(inputs.references.composefsDigests).find(([, digest]) => digest === claims.composefsDigest)?.[0];
  if (claims.composefsDigest !== undefined && composefsRelease === undefined) {
    reasons.push({
      reason: VerdictReason.unknownRootImage,
      message: `the measured command line mounts composefs image ${claims.composefsDigest}, which is no reference release's root image`,
      pcr: KERNEL_PARAMETERS_PCR,
      expected: Object.entries(inputs.references.composefsDigests)
        .map(([release, digest]) => `${release}: ${digest}`)
        .join(', '),
      actual: claims.composefsDigest,
    });
  }

  const match = matchPcrValues(inputs.references.values, quoted, { everyEvidencePcr: true });
  const best =
    match.matched.length > 0
      ? match.versions.find((v) => v.version === match.matched[0])
      : [...match.versions].sort((a, b) => a.mismatches.length - b.mismatches.length)[0];
  const bestSet = inputs.references.values.sets.find((s) => s.version === best?.version);
  if (match.matched.length === 0 && best) reasons.push(...referenceReasons(best, bestSet, evidenceOk));
  if (!best) reasons.push({ reason: VerdictReason.pcrNotInReference, message: 'there are no reference releases to compare the quote with' });

  let warnings: Reason[] = [];
  if (inputs.policy) {
    const failures = inputs.policy({
      claims,
      node: inputs.node ?? {},
      refs: {
        matchedReleases: match.matched,
        ...(composefsRelease !== undefined ? { composefsRelease } : {}),
        releases: inputs.references.values.sets.map((s) => ({
          version: s.version,
          ...(inputs.references.composefsDigests[s.version] !== undefined ? { composefsDigest: inputs.references.composefsDigests[s.version] } : {}),
        })),
      },
    });
    const policy = policyReasons(failures, evidenceOk?.log, bank);
    reasons.push(...policy.deny);
    warnings = policy.warn;
  }

  const status = reasons.length > 0 ? VerdictStatus.contraindicated : warnings.length > 0 ? VerdictStatus.warning : VerdictStatus.affirming;
  return {
    status,
    appraisedAt: inputs.now.toISOString(),
    matchedReleases: match.matched,
    ...(match.matched.length === 0 && best ? { nearestRelease: best.version } : {}),
    ...(composefsRelease !== undefined ? { composefsRelease } : {}),
    claims,
    reasons,
    warnings,
    pcrs: pcrAppraisals(quoted, bestSet, best),
    releaseComparisons: match.versions,
    quote: quoteFacts(quote),
  };
}

function quoteFacts(quote: VerifiedQuote): Verdict['quote'] {
  return {
    clock: quote.clock.clock.toString(),
    resetCount: quote.clock.resetCount,
    restartCount: quote.clock.restartCount,
    safe: quote.clock.safe,
    firmwareVersion: `0x${quote.firmwareVersion.toString(16)}`,
  };
}

/** Claims when the log could not be read: only the quoted PCRs are known. */
function emptyClaims(bank: HashAlgorithmName, quoted: PcrValues): Claims {
  return {
    bank,
    pcrs: quoted,
    secureBoot: { authorities: [] },
    bootApplications: [],
    grubCommands: [],
    ukiSections: [],
    bootPhases: [],
    findings: [],
    sources: {},
  };
}
