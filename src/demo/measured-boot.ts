// The node side of a simulated measured boot: what firmware and systemd-stub do when a node boots.
// Each predicted event is extended into the node's TPM and written to its event log with the event
// data src/predict gives it — the data real firmware, systemd-stub and the Linux EFI stub log
// (UEFI_IMAGE_LOAD_EVENT, UTF-16 section names and command line, TCG_PCClientTaggedEvent) — so the
// log is a real binary_bios_measurements that tpm2_eventlog and `vouch eventlog replay` read like a
// machine's.
import { EfiActionString, EventType, utf16leBytes, type EventToEncode } from '../eventlog/index.ts';
import { expectedLogEvents, type Prediction } from '../predict/index.ts';
import type { Tpm } from '../tpm/index.ts';
import { DEMO_BANKS } from './boot-chain.ts';
import { DemoError } from './errors.ts';
import { HashAlgorithm, hashBytes } from '../hash/index.ts';

function measuredBytes(pcr: number, type: number, data: Uint8Array): EventToEncode {
  return { pcr, type, data, digests: Object.fromEntries(DEMO_BANKS.map((bank) => [bank, hashBytes(bank, data)])) };
}

/** The platform firmware's version string in PCR 0 (EV_S_CRTM_VERSION, UTF-16 with NUL as edk2 logs it). */
const FIRMWARE_VERSION = 'Vouch demo firmware 1.0';
/** PCRs whose pre-boot measurements src/predict does not model (PFP §3.3.4: code, config, option ROMs, GPT, host platform). */
const PLATFORM_PCRS = [0, 1, 2, 3, 5, 6] as const;
const SEPARATOR = new Uint8Array(4);

/**
 * What the platform firmware logs outside the predicted PCRs: its version, then the separator of
 * each pre-boot PCR at ReadyToBoot. Reference sets do not cover these PCRs, but a real log has the
 * separators (a verifier flags a log without them as cut short).
 */
function platformEvents(): EventToEncode[] {
  return [
    measuredBytes(0, EventType.EV_S_CRTM_VERSION, utf16leBytes(FIRMWARE_VERSION, true)),
    ...PLATFORM_PCRS.map((pcr) => measuredBytes(pcr, EventType.EV_SEPARATOR, SEPARATOR)),
  ];
}

/** The kernel's EFI stub calls ExitBootServices; firmware logs both actions into PCR 5. */
function exitBootServicesEvents(): EventToEncode[] {
  const action = (text: string): EventToEncode => measuredBytes(5, EventType.EV_EFI_ACTION, new TextEncoder().encode(text));
  return [action(EfiActionString.exitBootServicesInvocation), action(EfiActionString.exitBootServicesSucceeded)];
}

/**
 * The log entries of a boot, in order: platform firmware, then every predicted event the firmware
 * log carries (data and digests from the prediction), then ExitBootServices.
 */
export function logEventsOf(prediction: Prediction): EventToEncode[] {
  const missing = DEMO_BANKS.filter((bank) => prediction.banks[bank] === undefined);
  if (missing.length > 0) {
    throw new DemoError(
      'ERR_DEMO_BOOT',
      `the prediction lacks the ${missing.join(', ')} bank(s) the demo firmware extends (it has ${Object.keys(prediction.banks).join(', ') || 'none'})`,
      { banks: missing },
    );
  }
  return [...platformEvents(), ...expectedLogEvents(prediction), ...exitBootServicesEvents()];
}

/** Extends every event into the TPM, in log order, in every bank the log carries. */
export async function extendEvents(tpm: Tpm, events: readonly EventToEncode[]): Promise<void> {
  for (const event of events) {
    await tpm.pcrExtend(
      event.pcr,
      DEMO_BANKS.map((bank) => ({ hashAlg: HashAlgorithm[bank].id, digest: event.digests![bank]! })),
    );
  }
}
