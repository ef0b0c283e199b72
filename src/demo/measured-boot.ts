// The node side of a simulated measured boot: what firmware and systemd-stub do when a node boots.
// Each predicted event is extended into the node's TPM and written to its event log with the event
// data real firmware logs (UEFI_IMAGE_LOAD_EVENT for the UKI, UTF-16 section names and command
// line from systemd-stub, TCG_PCClientTaggedEvent from the Linux EFI stub), so the log is a real
// binary_bios_measurements that tpm2_eventlog and `vouch eventlog replay` read like a machine's.
import { ByteWriter, fromHex } from '../bytes/index.ts';
import { DevicePathNodes, DevicePathType, EfiActionString, encodeDevicePath, EventType, hashBytes, utf16leBytes, type DevicePathNode, type EventToEncode, type HashAlgorithmName } from '../eventlog/index.ts';
import type { PredictedEvent, Prediction } from '../predict/index.ts';
import { TPM_ALG, type Tpm } from '../tpm/index.ts';
import { DEMO_BANKS } from './boot-chain.ts';
import { DemoError } from './errors.ts';

const TPM_BANK = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384 } as const;
/** Where OVMF loads an EFI application (the values only have to be plausible: the digest covers the image). */
const IMAGE_LOAD_ADDRESS = 0x7e2b_4000n;
/** Media device path, file path node (UEFI 2.10 §10.3.5.4): the UKI's path on the ESP. */
const MEDIA_FILE_PATH_SUBTYPE = 0x04;

function filePathNode(path: string): DevicePathNode {
  return { type: DevicePathType.media, subType: MEDIA_FILE_PATH_SUBTYPE, data: utf16leBytes(path, true) };
}

/** UEFI_IMAGE_LOAD_EVENT (PFP §10.2.3): location, length, link-time address, device path. */
function imageLoadEvent(espPath: string, imageLength: number): Uint8Array {
  const devicePath = encodeDevicePath([DevicePathNodes.pciRoot(0), DevicePathNodes.pci(4, 0), filePathNode(espPath)]);
  return new ByteWriter(32 + devicePath.length)
    .u64le(IMAGE_LOAD_ADDRESS)
    .u64le(BigInt(imageLength))
    .u64le(0n)
    .u64le(BigInt(devicePath.length))
    .bytes(devicePath)
    .finish();
}

/** TCG_PCClientTaggedEvent with the Linux EFI stub's description string (NUL-terminated, as `sizeof` gives it). */
function taggedEvent(tagId: number, text: string): Uint8Array {
  const description = new TextEncoder().encode(`${text}\0`);
  return new ByteWriter(8 + description.length).u32le(tagId).u32le(description.length).bytes(description).finish();
}

function unmodeled(event: PredictedEvent, index: number): never {
  throw new DemoError('ERR_DEMO_BOOT', `predicted event #${index} (${event.type} by ${event.by}, PCR ${event.pcr}: ${event.description}) has no simulated log form`, {
    event: index,
    type: event.type,
  });
}

/**
 * The event data a node logs for a predicted event. Prediction carries the data of events whose
 * data is what they hash; for the others the data is what the loader writes as a description.
 */
function eventData(event: PredictedEvent, index: number, espPath: string, imageLength: number): Uint8Array {
  if (event.data !== undefined) return fromHex(event.data);
  switch (event.type) {
    case 'EV_EFI_BOOT_SERVICES_APPLICATION':
      return imageLoadEvent(espPath, imageLength);
    case 'EV_IPL':
      if (event.by === 'systemd-stub' && event.pcr === 11) {
        // systemd-stub logs each section (name, then contents) under the section name, in UTF-16.
        const section = /^(\.[a-z0-9]+) /.exec(event.description)?.[1] ?? unmodeled(event, index);
        return utf16leBytes(section, true);
      }
      if (event.by === 'systemd-stub' && event.pcr === 12) {
        // The overriding load options, logged as the UTF-16 command line itself.
        const cmdline = /^load options: (.*)$/s.exec(event.description)?.[1] ?? unmodeled(event, index);
        return utf16leBytes(cmdline, true);
      }
      return unmodeled(event, index);
    case 'EV_EVENT_TAG': {
      const tag = /^(.*) \(0x([0-9a-f]+)\)$/.exec(event.description) ?? unmodeled(event, index);
      return taggedEvent(parseInt(tag[2]!, 16), tag[1]!);
    }
    default:
      return unmodeled(event, index);
  }
}

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
 * The log entries of a boot, in order: platform firmware, then every predicted event with the
 * digests prediction computed in each bank, then ExitBootServices.
 */
export function logEventsOf(prediction: Prediction, espPath: string, imageLength: number): EventToEncode[] {
  const predicted = prediction.events.map((event, index): EventToEncode => {
    const digests: Partial<Record<HashAlgorithmName, Uint8Array>> = {};
    for (const bank of DEMO_BANKS) digests[bank] = fromHex(event.digests[bank] ?? unmodeled(event, index));
    return { pcr: event.pcr, type: EventType[event.type], data: eventData(event, index, espPath, imageLength), digests };
  });
  return [...platformEvents(), ...predicted, ...exitBootServicesEvents()];
}

/** Extends every event into the TPM, in log order, in every bank the log carries. */
export async function extendEvents(tpm: Tpm, events: readonly EventToEncode[]): Promise<void> {
  for (const event of events) {
    await tpm.pcrExtend(
      event.pcr,
      DEMO_BANKS.map((bank) => ({ hashAlg: TPM_BANK[bank], digest: event.digests![bank]! })),
    );
  }
}
