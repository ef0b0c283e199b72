// The verdict an appraisal returns: a status, every reason with expected vs actual and the events
// involved, the claims derived from trusted evidence, and how each quoted PCR was appraised.
import type { VersionMatch } from '../predict/index.ts';
import type { Claims } from './claims.ts';

/** EAR statuses (draft-ietf-rats-ear): affirming releases secrets; warning and contraindicated do not. */
export const VerdictStatus = { affirming: 'affirming', warning: 'warning', contraindicated: 'contraindicated' } as const;
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
  claimConflict: 'claim-conflict',
  policyFailed: 'policy-failed',
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
  /** For a policy failure: the rule's name. */
  readonly rule?: string;
  readonly expected?: string;
  readonly actual?: string;
  /** The log events involved (for a replay mismatch: those that make up the PCR). */
  readonly events?: readonly EventSummary[];
  /** For a PCR that differs from the reference: where the logged events depart from the predicted ones. */
  readonly differences?: readonly EventDifference[];
}

/** How one quoted PCR was appraised against the matched release (or the nearest, when none matched). */
export interface PcrAppraisal {
  readonly bank: string;
  readonly pcr: number;
  readonly value: string;
  readonly outcome: 'matches' | 'differs' | 'not-appraised' | 'no-rule';
  /** The rule in words: the expected value, "one of …", or why it is not appraised. */
  readonly rule: string;
}

/** What the quote says about the TPM's clock: resets and restarts since an earlier quote show reboots. */
export interface QuoteFacts {
  readonly clock: string;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: string;
}

export interface Verdict {
  readonly status: VerdictStatus;
  /** The injected clock at appraisal (ISO 8601). */
  readonly appraisedAt: string;
  /** Reference releases every rule of which holds for the quote (A/B: usually one). */
  readonly matchedReleases: readonly string[];
  /** The release with the fewest differing PCRs, which reasons compare against when none matches. */
  readonly nearestRelease?: string;
  /** The release whose root image the measured command line mounts. */
  readonly composefsRelease?: string;
  /** Derived from trusted evidence only; absent when the quote itself did not verify. */
  readonly claims?: Claims;
  /** Every reason the node is not trusted (empty when affirming). */
  readonly reasons: readonly Reason[];
  /** Failed policy rules whose action is `warn`: the status is then `warning`. */
  readonly warnings: readonly Reason[];
  /** Every quoted PCR and how it was appraised. */
  readonly pcrs: readonly PcrAppraisal[];
  /** Every release's comparison, for tooling. */
  readonly releaseComparisons: readonly VersionMatch[];
  readonly quote?: QuoteFacts;
}
