// TCG event logs: parse (TCG 1.2 and crypto-agile), decode every PFP event type, replay per bank,
// compare with quoted PCRs, check which events' data is bound to their digests.
export { parseEventLog, parseSpecIdEvent } from './parse.ts';
export type { ParseOptions } from './parse.ts';
export { encodeEventLog, encodeSpecIdEvent, encodeStartupLocalityEvent } from './encode.ts';
export type { EventLogToEncode, EventToEncode } from './encode.ts';
export { decodeEvent, noActionSignature, NoActionSignature } from './decode.ts';
export type { DecodeOptions } from './decode.ts';
export { replay, extendPcr, initialPcrValue, startupLocalityOf } from './replay.ts';
export type { Replay, ReplayedBank, ReplayedPcr } from './replay.ts';
export { compareWithQuote } from './compare.ts';
export type { PcrComparison, PcrComparisonEntry, QuotedPcrs } from './compare.ts';
export { checkEventDigests, digestRuleFor } from './digest-rules.ts';
export type { DigestRule, DigestCandidate, DigestCheckResult, EventDigestCheck } from './digest-rules.ts';
export { parseDevicePath, parseDevicePaths, encodeDevicePath, devicePathToText, nodeToText, DevicePathNodes, DevicePathType } from './device-path.ts';
export type { DevicePathNode } from './device-path.ts';
export { parseUefiVariableData, encodeUefiVariableData, parseLoadOption, encodeLoadOption, decodeVariableValue } from './uefi-variable.ts';
export type { UefiVariableData, SignatureListDecoder } from './uefi-variable.ts';
export { EventType, eventTypeName, EventLogLimits, LinuxEventTag, SystemdEventTag, EfiActionString, SeparatorValue, VariableVendor } from './constants.ts';
export type { EventTypeName } from './constants.ts';
export { describeDecodedEvent } from './describe.ts';
export { escapeControlCharacters } from './printable.ts';
export { FindingKind } from './findings.ts';
export type { Finding, FindingSeverity } from './findings.ts';
export { guidBytes, utf16leBytes } from './wire.ts';
export { EventLogError, EventLogErrorCode } from './errors.ts';
export type { BankName, EventLog, EventLogFormat, SpecIdAlgorithm, SpecIdEvent, TcgEvent } from './types.ts';
export type * from './decoded-types.ts';
