// Appraisal: evidence + the node's enrolled AK + reference values → a verdict that lists EVERY
// reason with expected vs actual and the events involved. Pure and synchronous (no I/O, no clock):
// the seed of the verifier's appraise() (DESIGN.md "Attestation", steps 3-4).
//
// Trust is built in order and nothing is believed before the step that vouches for it: the quote's
// signature (by the bound AK) and nonce make the quoted PCRs the TPM's; the event log is believed
// for a PCR only where its replay equals the quoted value; claims (the command line, the composefs
// digest) come from events of PCRs that replay, never from anything the node states.
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
  type TcgEvent,
} from '../eventlog/index.ts';
import { matchPcrValues, type PredictedEvent, type ReferenceSet, type ReferenceValues, type VersionMatch } from '../predict/index.ts';
import { parseSignatureDatabase, signatureEntries } from '../secureboot/index.ts';
import { algLabel, type structures } from '../tpm/index.ts';
import { checkQuote, type PcrBankSelection, type PcrBankValues } from '../verifier/index.ts';
import { composefsDigestOf } from './boot-chain.ts';

export const VerdictStatus = { affirming: 'affirming', contraindicated: 'contraindicated' } as const;
export type VerdictStatus = (typeof VerdictStatus)[keyof typeof VerdictStatus];

/** Why a node is not trusted; stable names for tooling (the message is for people). */
export const VerdictReason = {
  notEnrolled: 'not-enrolled',
  quoteInvalid: 'quote-invalid',
  eventLogMalformed: 'event-log-malformed',
  logDoesNotReplay: 'log-does-not-replay',
  eventDataForged: 'event-data-forged',
  pcrNotInReference: 'pcr-not-in-reference',
  unknownRootImage: 'unknown-root-image',
} as const;
export type VerdictReason = (typeof VerdictReason)[keyof typeof VerdictReason];

/** One event as the reference predicts it or as the node's log records it. */
export interface EventSummary {
  /** Index in the node's log (absent for a predicted event). */
  readonly index?: number;
  readonly pcr: number;
  readonly type: string;
  readonly description: string;
  /** Digest in the appraised bank (hex). */
  readonly digest: string;
  /** For db/KEK/PK and authority events: the certificates they carry (subjects), so PCR 7 reasons name the signer. */
  readonly certificates?: readonly string[];
}

/** The n-th event extended into a PCR, predicted vs logged; either side may be missing. */
export interface EventDifference {
  readonly position: number;
  readonly expected?: EventSummary;
  readonly actual?: EventSummary;
}

export interface Reason {
  readonly reason: VerdictReason;
  readonly message: string;
  readonly pcr?: number;
  readonly bank?: string;
  readonly expected?: string;
  readonly actual?: string;
  /** The log events involved (for a replay mismatch: those that make up the PCR). */
  readonly events?: readonly EventSummary[];
  /** For a PCR that differs from the reference: where the logged events depart from the predicted ones. */
  readonly differences?: readonly EventDifference[];
}

/** What the verifier derived from evidence it trusts. */
export interface Claims {
  /** The kernel command line measured into PCR 12 (only when PCR 12 replays). */
  readonly cmdline?: string;
  readonly composefsDigest?: string;
  /** The release whose root image has that digest. */
  readonly composefsRelease?: string;
}

export interface Verdict {
  readonly status: VerdictStatus;
  /** Reference releases every predicted PCR of which equals the quote (A/B: usually one). */
  readonly matchedReleases: readonly string[];
  /** The release with the fewest differing PCRs, which reasons compare against when none matches. */
  readonly nearestRelease?: string;
  readonly claims: Claims;
  readonly reasons: readonly Reason[];
  /** Every release's PCR comparison, for tooling. */
  readonly releaseComparisons: readonly VersionMatch[];
}

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
  readonly untrustedPcrs: readonly PcrBankValues[];
  readonly untrustedEventLog: Uint8Array;
}

export interface AppraisalInputs {
  /** The AK bound to the node's EK at enrollment (undefined: the node never completed enrollment). */
  readonly boundAk: structures.TPMT_PUBLIC | undefined;
  /** The nonce this attestation's challenge issued. */
  readonly nonce: Uint8Array;
  readonly selection: readonly PcrBankSelection[];
  readonly references: ReleaseCatalog;
}

/** `sha256` for TPM_ALG_SHA256: the bank names event logs and reference values use. */
/** PCR values per bank as hex, keyed by bank name ("sha256") and PCR number: how evidence is shown and stored. */
export function pcrValuesAsHex(
  banks: readonly { readonly hash: number; readonly values: ReadonlyMap<number, Uint8Array> }[],
): Record<string, Record<string, string>> {
  return Object.fromEntries(banks.map((b) => [algLabel(b.hash), Object.fromEntries([...b.values].map(([pcr, v]) => [String(pcr), toHex(v)]))]));
}

/**
 * Subjects of the X.509 certificates in a Secure Boot variable event (a signature database) or an
 * authority event (one EFI_SIGNATURE_DATA: owner GUID, then the certificate). For display only:
 * data that does not parse just shows no subjects — the digest comparison has already decided.
 */
function certificateSubjects(type: string, data: Uint8Array): string[] {
  if (type !== 'EV_EFI_VARIABLE_DRIVER_CONFIG' && type !== 'EV_EFI_VARIABLE_AUTHORITY') return [];
  try {
    const variable = parseUefiVariableData(data);
    const certificates =
      type === 'EV_EFI_VARIABLE_AUTHORITY'
        ? [variable.data.subarray(SIGNATURE_OWNER_BYTES)]
        : signatureEntries(parseSignatureDatabase(variable.data)).flatMap((e) => (e.type === 'x509' ? [e.certificate] : []));
    return certificates.map((der) => new X509Certificate(der).subject.replace(/\n/g, ', '));
  } catch {
    return [];
  }
}
/** EFI_SIGNATURE_DATA.SignatureOwner, the GUID before the certificate. */
const SIGNATURE_OWNER_BYTES = 16;

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
    const actual = logged[position] ? logEventSummary(logged[position]!, bank) : undefined;
    const expected = predicted[position] ? predictedSummary(predicted[position]!, bank) : undefined;
    if (actual?.digest === expected?.digest) continue;
    out.push({ position, ...(expected ? { expected } : {}), ...(actual ? { actual } : {}) });
  }
  return out;
}

function contraindicated(reasons: Reason[], rest: Partial<Verdict> = {}): Verdict {
  return { status: VerdictStatus.contraindicated, matchedReleases: [], claims: {}, releaseComparisons: [], ...rest, reasons };
}

/**
 * Appraises one attestation.
 *
 * @example
 *   const verdict = appraise(evidence, { boundAk: enrolled.akPublic, nonce, selection, references });
 *   if (verdict.status === 'affirming') releaseSecrets(node);
 *
 * Caller's duties: `nonce` is the one issued for this attestation and used once; `boundAk` comes
 * from the node's enrollment record, never from the evidence.
 */
export function appraise(evidence: AttestationEvidence, inputs: AppraisalInputs): Verdict {
  if (inputs.boundAk === undefined) {
    return contraindicated([
      { reason: VerdictReason.notEnrolled, message: 'no AK is bound to this node: enrollment did not complete, so no quote can be attributed to its TPM' },
    ]);
  }
  const quote = checkQuote({
    ak: inputs.boundAk,
    untrustedAttest: evidence.untrustedAttest,
    untrustedSignature: evidence.untrustedSignature,
    pcrs: evidence.untrustedPcrs,
    expectedExtraData: inputs.nonce,
    expectedSelection: inputs.selection,
  });
  if (!quote.verified) {
    // Without a valid quote nothing else is evidence of anything: stop here.
    return contraindicated([{ reason: VerdictReason.quoteInvalid, message: `${quote.code}: ${quote.reason}` }]);
  }

  const reasons: Reason[] = [];
  const quoted = pcrValuesAsHex(quote.quote.pcrs);
  const appraisedBank = Object.keys(quoted)[0]!;

  let log: EventLog | undefined;
  let comparison: PcrComparison | undefined;
  try {
    log = parseEventLog(evidence.untrustedEventLog);
    // A log that lacks the quoted bank cannot explain the quote (ERR_EVENTLOG_BANK_MISSING).
    comparison = compareWithQuote(replay(log), quoted);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    log = undefined;
    reasons.push({ reason: VerdictReason.eventLogMalformed, message: `${e.code}: ${e.message}` });
  }

  const replayingPcrs = new Set<number>();
  if (log && comparison) {
    for (const entry of comparison.entries) if (entry.status === 'match') replayingPcrs.add(entry.pcr);
    for (const m of comparison.mismatches) {
      reasons.push({
        reason: VerdictReason.logDoesNotReplay,
        message: `${m.bank} PCR ${m.pcr}: the event log replays to ${m.replayed}, the TPM quoted ${m.quoted}: the log was altered or is not this boot's`,
        pcr: m.pcr,
        bank: m.bank,
        expected: m.quoted,
        actual: m.replayed,
        events: log.events.filter((e) => m.events.includes(e.index)).map((e) => logEventSummary(e, m.bank)),
      });
    }
    for (const finding of checkEventDigests(log).findings) {
      if (finding.severity !== 'error') continue;
      const event = finding.event === undefined ? undefined : log.events[finding.event];
      reasons.push({
        reason: VerdictReason.eventDataForged,
        message: finding.message,
        ...(finding.pcr !== undefined ? { pcr: finding.pcr } : {}),
        ...(event ? { events: [logEventSummary(event, appraisedBank)] } : {}),
      });
    }
  }

  // Claims before PCR comparisons: what the node booted, in the terms of the release catalogue.
  const claims = claimsFrom(log, replayingPcrs, inputs.references);
  if (claims.composefsDigest !== undefined && claims.composefsRelease === undefined) {
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

  const match = matchPcrValues(inputs.references.values, quoted);
  let nearestRelease: string | undefined;
  if (match.matched.length === 0) {
    const nearest = [...match.versions].sort((a, b) => a.mismatches.length - b.mismatches.length)[0];
    const set = inputs.references.values.sets.find((s) => s.version === nearest?.version);
    nearestRelease = nearest?.version;
    for (const m of nearest?.mismatches ?? []) {
      const trusted = log !== undefined && replayingPcrs.has(m.pcr);
      const differences = trusted && set ? eventDifferences(log!, set, m.pcr, m.bank) : [];
      reasons.push({
        reason: VerdictReason.pcrNotInReference,
        message: `${m.bank} PCR ${m.pcr} is not what release ${nearest!.version} (the nearest) boots${trusted ? '' : ' (the log does not replay for this PCR: its events are not evidence)'}`,
        pcr: m.pcr,
        bank: m.bank,
        expected: m.expected,
        actual: m.actual ?? '(not quoted)',
        ...(differences.length ? { differences } : {}),
      });
    }
  }

  return {
    status: reasons.length === 0 && match.matched.length > 0 ? VerdictStatus.affirming : VerdictStatus.contraindicated,
    matchedReleases: match.matched,
    ...(nearestRelease ? { nearestRelease } : {}),
    claims,
    reasons,
    releaseComparisons: match.versions,
  };
}

/** systemd-stub measures the kernel command line it uses into PCR 12 (systemd docs TPM2_PCR_MEASUREMENTS). */
const KERNEL_PARAMETERS_PCR = 12;

function claimsFrom(log: EventLog | undefined, replayingPcrs: ReadonlySet<number>, references: ReleaseCatalog): Claims {
  // An unreplayed PCR 12 would let the node state any command line it likes.
  if (!log || !replayingPcrs.has(KERNEL_PARAMETERS_PCR)) return {};
  const event = log.events.find((e) => e.pcr === KERNEL_PARAMETERS_PCR && e.decoded.kind === 'ipl' && e.decoded.role === 'kernel-cmdline');
  if (!event || event.decoded.kind !== 'ipl') return {};
  const cmdline = event.decoded.value ?? event.decoded.text;
  const composefsDigest = composefsDigestOf(cmdline);
  const composefsRelease = Object.entries(references.composefsDigests).find(([, digest]) => digest === composefsDigest)?.[0];
  return { cmdline, ...(composefsDigest ? { composefsDigest } : {}), ...(composefsRelease ? { composefsRelease } : {}) };
}
