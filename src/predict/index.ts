// PCR prediction from boot artifacts (reference value provider, docs/design.md "Roles").
export { PredictError, PredictErrorCode } from './errors.ts';
export { PcrBank, PCR_BANKS, isPcrBank } from './banks.ts';
export { PredictedEventType } from './events.ts';
export type { PredictedEvent } from './events.ts';
export { parseBootProfile, DEFAULT_STUB_VERSION, SECURE_BOOT_VARIABLES } from './profile.ts';
export type { BootProfile, BootStage, BootStageKind, FirmwareProfile, BlobSource, ImageSource, AuthoritySource } from './profile.ts';
export { predict, profileArtifacts } from './predict.ts';
export type { Prediction, ArtifactSet } from './predict.ts';
export { measuredSections } from './systemd-stub.ts';
export { parseVariableStore, MAX_VARSTORE_SIZE } from './varstore.ts';
export type { StoredVariable } from './varstore.ts';
export { referenceValues, matchPcrValues, matchEventLog } from './reference.ts';
export type { ReferenceValues, ReferenceSet, ReferenceMatch, VersionMatch, PcrMismatch, PcrNotAppraised, EventDifference, MatchOptions } from './reference.ts';
export { completePcrRules, defaultPcrRule, describePcrRule, ruleAccepts, PCR_COUNT } from './pcr-rules.ts';
export type { PcrRule, PcrRules } from './pcr-rules.ts';
export { buildUki } from './uki.ts';
export type { UkiParts } from './uki.ts';
export { expectedLogEvents, encodeExpectedEventLog } from './expected-log.ts';
