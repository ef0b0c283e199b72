// The events a boot is predicted to log. Each says what is measured: bytes to hash (the digest is
// H(bytes) in each bank), or a PE image (its Authenticode hash in each bank, PC Client PFP
// §10.4.8: firmware measures EV_EFI_BOOT_SERVICES_APPLICATION as the PE image hash), or digests
// already known per bank (from a log, a vendor's published hashes); and the event data the log
// carries next to the digest, byte for byte as the component writes it (seen in the boot lab's
// real logs), so a simulated boot writes a real log and a real log can be diffed against it.
import { ByteWriter, concatBytes, utf8 } from '../bytes/index.ts';
import { DevicePathNodes, DevicePathType, encodeDevicePath, guidBytes, utf16leBytes, type DevicePathNode } from '../eventlog/index.ts';
import type { PcrBank } from './banks.ts';

/** The TCG event types prediction emits (PC Client PFP §10.4.1 and the EFI types). */
export const PredictedEventType = {
  EV_IPL: 'EV_IPL',
  EV_SEPARATOR: 'EV_SEPARATOR',
  EV_EVENT_TAG: 'EV_EVENT_TAG',
  EV_EFI_ACTION: 'EV_EFI_ACTION',
  EV_EFI_VARIABLE_DRIVER_CONFIG: 'EV_EFI_VARIABLE_DRIVER_CONFIG',
  EV_EFI_VARIABLE_AUTHORITY: 'EV_EFI_VARIABLE_AUTHORITY',
  EV_EFI_BOOT_SERVICES_APPLICATION: 'EV_EFI_BOOT_SERVICES_APPLICATION',
} as const;
export type PredictedEventType = (typeof PredictedEventType)[keyof typeof PredictedEventType];

export type Measured =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'pe-image'; readonly image: Uint8Array; readonly name: string }
  | { readonly kind: 'digests'; readonly digests: Readonly<Partial<Record<PcrBank, Uint8Array>>>; readonly name: string };

/** One measurement before digests are computed: what gets extended into which PCR, and why. */
export interface Measurement {
  readonly pcr: number;
  readonly type: PredictedEventType;
  /** Which stage of the boot chain logs it: firmware, shim, grub, linux, systemd-stub. */
  readonly by: string;
  /** A short human account: the action string, variable name, section name, file. */
  readonly description: string;
  readonly measured: Measured;
  /** The event data of the firmware event log; undefined for extends that log nothing there (systemd-pcrphase). */
  readonly eventData: Uint8Array | undefined;
}

/** An event of the predicted log, with its digest in every requested bank (hex). */
export interface PredictedEvent {
  readonly pcr: number;
  readonly type: PredictedEventType;
  readonly by: string;
  readonly description: string;
  readonly digests: Readonly<Partial<Record<PcrBank, string>>>;
  /**
   * The event data the firmware event log (binary_bios_measurements) carries, hex, as the
   * component writes it. Two fields of EV_EFI_BOOT_SERVICES_APPLICATION's UEFI_IMAGE_LOAD_EVENT
   * are only known at boot: ImageLocationInMemory (predicted 0) and the device path's hardware
   * part, which firmware puts before the stage's `path` (shim and LoadImage from memory log no more
   * than predicted). Absent for extends that are not in the firmware log: systemd-pcrphase's words.
   */
  readonly data?: string;
}

/** The event data is the measured bytes themselves (UEFI variables, EFI actions, separators, UTF-16 load options). */
export function dataIsMeasured(pcr: number, type: PredictedEventType, by: string, description: string, bytes: Uint8Array): Measurement {
  return { pcr, type, by, description, measured: { kind: 'bytes', bytes }, eventData: bytes };
}

/** EV_SEPARATOR's data is the UINT32 0 on a normal boot (PFP §10.4.4: 0xFFFFFFFF means an error). */
const SEPARATOR_DATA = new Uint8Array(4);

export function separator(pcr: number): Measurement {
  return dataIsMeasured(pcr, 'EV_SEPARATOR', 'firmware', 'separator', SEPARATOR_DATA);
}

/** EV_EFI_ACTION: the digest is over the ASCII action string without a NUL (PFP §10.4.4), which is also the data. */
export function efiAction(pcr: number, action: string, by = 'firmware'): Measurement {
  return dataIsMeasured(pcr, 'EV_EFI_ACTION', by, action, utf8(action));
}

/** ASCII text with its NUL: GRUB's commands and file names, shim's MOK variable names (grub-core/commands/tpm.c, shim tpm.c). */
export function asciiEventText(text: string): Uint8Array {
  return concatBytes(utf8(text), new Uint8Array(1));
}

/** UTF-16LE text with its NUL: systemd-stub's section names and load options (systemd src/boot/efi/measure.c). */
export function ucs2EventText(text: string): Uint8Array {
  return utf16leBytes(text, true);
}

/** TCG_PCClientTaggedEvent {taggedEventID, size, data}: the Linux EFI stub's data is its description with the NUL. */
export function taggedEventData(tagId: number, text: string): Uint8Array {
  const description = asciiEventText(text);
  return new ByteWriter(8 + description.length).u32le(tagId).u32le(description.length).bytes(description).finish();
}

/** The device path of a file on the ESP as shim logs it (firmware puts the boot device's nodes first). */
export function espFilePath(path: string | undefined): DevicePathNode[] {
  return path === undefined ? [] : [DevicePathNodes.filePath(path)];
}

/**
 * VenMedia(55c5d1f8-04cd-46b5-8a20-e56cbb3052d0): the device path systemd-stub gives the kernel
 * it starts from memory with LoadImage (systemd src/boot/efi/linux.c), seen in the boot lab's log.
 */
export const SYSTEMD_STUB_KERNEL_PATH: readonly DevicePathNode[] = [
  { type: DevicePathType.media, subType: 0x03, data: guidBytes('55c5d1f8-04cd-46b5-8a20-e56cbb3052d0') },
];

/**
 * UEFI_IMAGE_LOAD_EVENT (PFP §10.2.3): edk2's DxeTpm2MeasureBootLib and shim both log the file's
 * length and link-time address 0; the location is a run-time address (0 here). No device path
 * nodes: an image shim verified in a buffer, logged without even an end node.
 */
export function imageLoadEventData(imageLength: number, nodes: readonly DevicePathNode[]): Uint8Array {
  const devicePath = nodes.length === 0 ? new Uint8Array(0) : encodeDevicePath(nodes);
  return new ByteWriter(32 + devicePath.length).u64le(0n).u64le(BigInt(imageLength)).u64le(0n).u64le(BigInt(devicePath.length)).bytes(devicePath).finish();
}
