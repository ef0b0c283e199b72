// Findings: what is odd about a log without making it unusable. Real firmware does odd things
// (zero-length variables, padding, duplicated separators, missing ExitBootServices); Vouch
// tolerates them but never silently: each is a named finding with the event it concerns, and the
// verifier's policy decides which ones matter.

export const FindingKind = {
  unknownEventType: 'unknown-event-type',
  reservedEventType: 'reserved-event-type',
  undecodableEventData: 'undecodable-event-data',
  zeroLengthVariable: 'zero-length-variable',
  trailingPadding: 'trailing-padding',
  trailingEventData: 'trailing-event-data',
  duplicateSeparator: 'duplicate-separator',
  errorSeparator: 'error-separator',
  unusualSeparatorValue: 'unusual-separator-value',
  missingSeparator: 'missing-separator',
  missingExitBootServices: 'missing-exit-boot-services',
  eventAfterExitBootServices: 'event-after-exit-boot-services',
  eventAfterSeparator: 'event-after-separator',
  unreplayableBank: 'unreplayable-bank',
  noActionDigestNotZero: 'no-action-digest-not-zero',
  misplacedSpecIdEvent: 'misplaced-spec-id-event',
  duplicateStartupLocality: 'duplicate-startup-locality',
  digestMismatch: 'digest-mismatch',
  knownDigestQuirk: 'known-digest-quirk',
} as const;
export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

/**
 * `error`: the log contradicts itself (data not matching its digest: forged or corrupted data).
 * `warning`: unusual, possibly benign firmware behaviour a policy may reject.
 * `info`: known firmware behaviour, recorded for completeness.
 */
export type FindingSeverity = 'info' | 'warning' | 'error';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: FindingSeverity;
  readonly message: string;
  /** Event number (TcgEvent.index) the finding is about, when it is about one event. */
  readonly event?: number;
  readonly pcr?: number;
  readonly bank?: string;
}
