// Findings visible from the event sequence alone (no hashing): unknown and reserved types, undecodable data,
// zero-length variables, separator anomalies, events measured into PCR 0-7 after their separator,
// a boot without ExitBootServices, events logged after ExitBootServices succeeded.
import { EfiActionString, EventType, SeparatorValue } from './constants.ts';
import { NoActionSignature } from './decode.ts';
import { FindingKind, type Finding } from './findings.ts';
import type { TcgEvent } from './types.ts';

const separatorValues: ReadonlySet<number> = new Set(Object.values(SeparatorValue));

/**
 * Events that legitimately follow the separator of PCR 0-7: the separator marks the end of
 * pre-boot configuration, but boot applications (PCR 4), the GPT and ExitBootServices (PCR 5)
 * and the db (devdb) entries that verify each later image (device) in PCR 7 are measured as the OS
 * loader runs.
 * Anything else after the separator was measured when the platform claims to be done configuring.
 */
const allowedAfterSeparator: Readonly<Record<number, ReadonlySet<number>>> = {
  4: new Set([EventType.EV_EFI_BOOT_SERVICES_APPLICATION, EventType.EV_EFI_BOOT_SERVICES_DRIVER, EventType.EV_EFI_ACTION]),
  5: new Set([EventType.EV_EFI_GPT_EVENT, EventType.EV_EFI_GPT_EVENT2, EventType.EV_EFI_ACTION]),
  7: new Set([EventType.EV_EFI_VARIABLE_AUTHORITY, EventType.EV_EFI_SPDM_DEVICE_AUTHORITY]),
};

const preOsPcrs = [0, 1, 2, 3, 4, 5, 6, 7] as const;

/** PFP Table 9: EV_PREBOOT_CERT is deprecated and EV_UNUSED reserved. */
const reservedEventTypes: ReadonlySet<number> = new Set([EventType.EV_PREBOOT_CERT, EventType.EV_UNUSED]);

export function findStructuralFindings(events: readonly TcgEvent[]): Finding[] {
  const findings: Finding[] = [];
  const separatorSeen = new Map<number, number>();
  let sawStartupLocality = false;
  let sawBootApplication = false;
  let sawExitBootServices = false;
  let exitBootServicesSucceeded: number | undefined;
  let sawEfiEvent = false;

  for (const event of events) {
    const at = { event: event.index, pcr: event.pcr };
    const { decoded } = event;
    if (event.typeName.startsWith('EV_UNKNOWN_')) {
      findings.push({
        kind: FindingKind.unknownEventType,
        severity: 'warning',
        ...at,
        message: `event #${event.index}: event type 0x${event.type.toString(16)} is not defined by the TCG PC Client PFP`,
      });
    }
    if (reservedEventTypes.has(event.type)) {
      findings.push({
        kind: FindingKind.reservedEventType,
        severity: 'warning',
        ...at,
        message: `event #${event.index}: ${event.typeName} is reserved or deprecated in the TCG PC Client PFP; conforming firmware does not log it`,
      });
    }
    if (decoded.kind === 'undecodable') {
      findings.push({
        kind: FindingKind.undecodableEventData,
        severity: 'warning',
        ...at,
        message: `event #${event.index} (${event.typeName}): data does not parse: ${decoded.code}: ${decoded.message}`,
      });
    }
    if (decoded.kind === 'efi-variable' && decoded.dataLength === 0) {
      findings.push({
        kind: FindingKind.zeroLengthVariable,
        severity: 'info',
        ...at,
        message: `event #${event.index}: variable ${decoded.name} was measured with zero-length data (firmware measured an absent variable)`,
      });
    }
    if (decoded.kind === 'efi-variable' && decoded.value.kind === 'undecodable') {
      findings.push({
        kind: FindingKind.undecodableEventData,
        severity: 'warning',
        ...at,
        message: `event #${event.index}: variable ${decoded.name} holds data that does not parse: ${decoded.value.code}: ${decoded.value.message}`,
      });
    }
    if ((decoded.kind === 'efi-variable' || decoded.kind === 'image-load') && decoded.trailingBytes !== undefined) {
      findings.push({
        kind: FindingKind.trailingEventData,
        severity: 'info',
        ...at,
        message: `event #${event.index} (${event.typeName}): ${decoded.trailingBytes} bytes after the structure inside the event data (shim-style struct padding)`,
      });
    }
    if (event.type >= 0x80000000) sawEfiEvent = true;

    if (event.type === EventType.EV_NO_ACTION) {
      checkNoAction(event, findings);
      if (decoded.kind === 'startup-locality') {
        if (sawStartupLocality)
          findings.push({
            kind: FindingKind.duplicateStartupLocality,
            severity: 'warning',
            ...at,
            message: `event #${event.index}: a second StartupLocality event; replay uses the first`,
          });
        sawStartupLocality = true;
      }
      continue;
    }
    if (exitBootServicesSucceeded !== undefined) {
      // Once ExitBootServices has succeeded the firmware's EFI_TCG2_PROTOCOL is gone with the other
      // boot services: nothing it logs can follow, so a later event was added by something else.
      findings.push({
        kind: FindingKind.eventAfterExitBootServices,
        severity: 'warning',
        ...at,
        message: `event #${event.index} (${event.typeName}, PCR ${event.pcr}) follows "${EfiActionString.exitBootServicesSucceeded}" (event #${exitBootServicesSucceeded}): firmware cannot log after boot services are gone`,
      });
    }
    if (event.type === EventType.EV_EFI_BOOT_SERVICES_APPLICATION) sawBootApplication = true;
    if (decoded.kind === 'text' && event.type === EventType.EV_EFI_ACTION) {
      if (decoded.text === EfiActionString.exitBootServicesInvocation) sawExitBootServices = true;
      if (decoded.text === EfiActionString.exitBootServicesSucceeded) exitBootServicesSucceeded ??= event.index;
    }

    const isPreOs = event.pcr <= 7;
    if (event.type === EventType.EV_SEPARATOR) {
      if (decoded.kind === 'separator') {
        if (decoded.isError) {
          const information = decoded.errorInformation !== undefined ? ` (error information: ${decoded.errorInformation.length / 2} bytes of event data)` : '';
          findings.push({
            kind: FindingKind.errorSeparator,
            severity: 'warning',
            ...at,
            message: `event #${event.index}: error separator in PCR ${event.pcr}${information}: firmware reports a pre-boot error, so PCR ${event.pcr} does not describe a normal boot`,
          });
        }
        if (!separatorValues.has(decoded.value))
          findings.push({
            kind: FindingKind.unusualSeparatorValue,
            severity: 'warning',
            ...at,
            message: `event #${event.index}: separator value 0x${decoded.value.toString(16)} is neither 0 nor an error value`,
          });
      } else {
        findings.push({
          kind: FindingKind.unusualSeparatorValue,
          severity: 'warning',
          ...at,
          message: `event #${event.index}: separator data is ${event.data.length} bytes, not the 4-byte value`,
        });
      }
      if (separatorSeen.has(event.pcr)) {
        findings.push({
          kind: FindingKind.duplicateSeparator,
          severity: 'warning',
          ...at,
          message: `event #${event.index}: second separator in PCR ${event.pcr} (first: event #${separatorSeen.get(event.pcr)})`,
        });
      } else {
        separatorSeen.set(event.pcr, event.index);
      }
      continue;
    }
    if (isPreOs && separatorSeen.has(event.pcr) && !allowedAfterSeparator[event.pcr]?.has(event.type)) {
      findings.push({
        kind: FindingKind.eventAfterSeparator,
        severity: 'warning',
        ...at,
        message: `event #${event.index} (${event.typeName}) was measured into PCR ${event.pcr} after its separator (event #${separatorSeen.get(event.pcr)})`,
      });
    }
  }

  if (sawEfiEvent) {
    for (const pcr of preOsPcrs) {
      if (!separatorSeen.has(pcr))
        findings.push({
          kind: FindingKind.missingSeparator,
          severity: 'warning',
          pcr,
          message: `no separator in PCR ${pcr}: the log does not show the end of pre-boot measurements`,
        });
    }
  }
  if (sawBootApplication && !sawExitBootServices) {
    findings.push({
      kind: FindingKind.missingExitBootServices,
      severity: 'info',
      pcr: 5,
      message: `no "${EfiActionString.exitBootServicesInvocation}" event: the log was read before ExitBootServices or the firmware does not log it`,
    });
  }
  return findings;
}

function checkNoAction(event: TcgEvent, findings: Finding[]): void {
  const at = { event: event.index, pcr: event.pcr };
  // EV_NO_ACTION is never extended (PFP §10.4.5): its digests must be zero, or a verifier that
  // skips it while a TPM did extend it would disagree about the PCR.
  for (const [bank, digest] of Object.entries(event.digests)) {
    if (digest.some((b) => b !== 0)) {
      findings.push({
        kind: FindingKind.noActionDigestNotZero,
        severity: 'warning',
        ...at,
        bank,
        message: `event #${event.index}: EV_NO_ACTION with a non-zero ${bank} digest (not extended by replay)`,
      });
    }
  }
  if (event.index > 0 && event.decoded.kind === 'no-action' && event.decoded.signature === NoActionSignature.specId03) {
    findings.push({
      kind: FindingKind.misplacedSpecIdEvent,
      severity: 'warning',
      ...at,
      message: `event #${event.index}: a Spec ID event that is not the first event is ignored`,
    });
  }
}
