// Decoded event data: plain JSON values (bytes as lower-case hex, 64-bit numbers as "0x…" strings).
// `kind` says which PFP structure the data held; every event gets exactly one.

export interface DecodedSpecId {
  readonly kind: 'spec-id';
  readonly signature: string;
  readonly platformClass: number;
  readonly specVersion: string;
  readonly uintnSize: number;
  readonly algorithms: readonly { readonly name: string; readonly algorithmId: number; readonly digestSize: number }[];
  readonly vendorInfo: string;
}

/** EV_NO_ACTION "StartupLocality\0": the locality the TPM2_Startup came from (PFP §10.4.5.3). */
export interface DecodedStartupLocality {
  readonly kind: 'startup-locality';
  readonly locality: number;
}

/** Other EV_NO_ACTION events (SP800-155 reference manifests, NvIndexInstance, TCG 1.2 Spec ID). */
export interface DecodedNoAction {
  readonly kind: 'no-action';
  readonly signature: string;
  /** SP800-155 Event / Event2 / Event3: platform manufacturer id and reference manifest GUID. */
  readonly platformManufacturerId?: number;
  readonly referenceManifestGuid?: string;
  /** SP800-155 Event2/3: the platform and firmware the reference manifest describes. */
  readonly platform?: { readonly manufacturer: string; readonly model: string; readonly version: string };
  readonly firmware?: { readonly manufacturer: string; readonly manufacturerId: number; readonly version: string };
  /** SP800-155 Event3: where the reference integrity manifest and platform certificate are published. */
  readonly rimLocator?: string;
  readonly platformCertLocator?: string;
  readonly data: string;
}

export interface DecodedSeparator {
  readonly kind: 'separator';
  /**
   * The measured value: 0 normally (0xFFFFFFFF on TCG 1.1 BIOSes), 1 for an error (PFP §3.3.4.2).
   * For an error separator recognised by its digest H(0x00000001) this is 1 whatever the data holds.
   */
  readonly value: number;
  readonly isError: boolean;
  /** Error separators only: the event data when it is not the value 1 but firmware error information (hex). */
  readonly errorInformation?: string;
}

export interface DecodedText {
  readonly kind: 'text';
  readonly encoding: 'ascii' | 'utf16le';
  readonly text: string;
}

/** EV_S_CRTM_VERSION as a GUID (PFP §10.4.1) rather than a version string. */
export interface DecodedGuid {
  readonly kind: 'guid';
  readonly guid: string;
}

/** UEFI_PLATFORM_FIRMWARE_BLOB(2) (PFP §10.4.4); also EV_POST_CODE/EV_S_CRTM_CONTENTS in blob form. */
export interface DecodedFirmwareBlob {
  readonly kind: 'firmware-blob';
  readonly description?: string;
  readonly base: string;
  readonly length: string;
}

/** UEFI_HANDOFF_TABLE_POINTERS(2): configuration tables (SMBIOS, ACPI) handed to the OS. */
export interface DecodedHandoffTables {
  readonly kind: 'handoff-tables';
  readonly description?: string;
  readonly tables: readonly { readonly vendorGuid: string; readonly name?: string; readonly address: string }[];
}

export interface DecodedLoadOption {
  readonly attributes: number;
  readonly active: boolean;
  readonly description: string;
  /** Every device path of the FilePathList, as text (the first is the boot device). */
  readonly devicePaths: readonly string[];
  readonly optionalData: string;
  /** optionalData as text when it is printable UCS-2 or ASCII (a kernel command line, a label). */
  readonly optionalDataText?: string;
}

/** What the variable's data holds, by variable name. */
export type DecodedVariableValue =
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'boot-order'; readonly order: readonly string[] }
  | { readonly kind: 'load-option'; readonly option: DecodedLoadOption }
  /** PK/KEK/db/dbx/MokList…: decoded by the pluggable signature-list decoder, raw when none. */
  | { readonly kind: 'signature-lists'; readonly lists: unknown }
  /** EV_EFI_VARIABLE_AUTHORITY: the db entry (EFI_SIGNATURE_DATA) or certificate that verified an image. */
  | { readonly kind: 'authority'; readonly owner?: string; readonly certificate?: string; readonly hash?: string }
  | { readonly kind: 'sbat'; readonly text: string }
  | { readonly kind: 'empty' }
  | { readonly kind: 'raw' }
  | { readonly kind: 'undecodable'; readonly code: string; readonly message: string };

/** UEFI_VARIABLE_DATA (PFP §10.4.2.4): EFI variable events (PCR 1 and 7, shim's PCR 14). */
export interface DecodedVariable {
  readonly kind: 'efi-variable';
  readonly vendorGuid: string;
  readonly name: string;
  readonly dataLength: number;
  readonly data: string;
  readonly value: DecodedVariableValue;
  /** Bytes after the structure inside the event (shim < 15.3 padding); absent when none. */
  readonly trailingBytes?: number;
}

/** UEFI_IMAGE_LOAD_EVENT (PFP §10.4.2.2): a boot application or driver; digest = Authenticode hash. */
export interface DecodedImageLoad {
  readonly kind: 'image-load';
  readonly imageLocation: string;
  readonly imageLength: string;
  readonly linkTimeAddress: string;
  readonly devicePath: string;
  /** Bytes after the device path inside the event (shim's image events carry struct padding); absent when none. */
  readonly trailingBytes?: number;
}

export interface DecodedGptPartition {
  readonly index: number;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly startingLba: string;
  readonly endingLba: string;
  readonly attributes: string;
  readonly name: string;
}

/** UEFI_GPT_DATA (PFP §10.4.2.3): the partition table header and the used entries. */
export interface DecodedGpt {
  readonly kind: 'gpt';
  readonly diskGuid: string;
  readonly partitions: readonly DecodedGptPartition[];
}

/**
 * EV_IPL: bootloader strings. `role` names what wrote it, recognised from the text:
 * GRUB command (`grub_cmd: ` upstream, `grub_cmd ` RHEL), GRUB kernel command line, GRUB-measured
 * file (PCR 9), shim MOK variable (PCR 14), systemd-stub UKI section (PCR 11), systemd pcrphase.
 */
export interface DecodedIpl {
  readonly kind: 'ipl';
  readonly encoding: 'ascii' | 'utf16le' | 'binary';
  readonly text: string;
  readonly role: 'grub-command' | 'grub-kernel-cmdline' | 'file' | 'shim-mok' | 'uki-section' | 'pcrphase' | 'kernel-cmdline' | 'other';
  /** The command/command line/section name without the writer's prefix. */
  readonly value?: string;
  readonly prefixStyle?: 'upstream' | 'rhel';
}

/** TCG_PCClientTaggedEvent (PFP §10.4.2.1); Linux EFI stub and systemd use their own tag ids. */
export interface DecodedEventTag {
  readonly kind: 'event-tag';
  readonly tagId: number;
  readonly tagName?:
    | 'linux-initrd'
    | 'linux-load-options'
    | 'systemd-loader-conf'
    | 'systemd-devicetree-addon'
    | 'systemd-initrd-addon'
    | 'systemd-ucode-addon'
    | 'systemd-smbios-type1'
    | 'systemd-smbios-type2'
    | 'systemd-smbios-type11';
  readonly text?: string;
  /** Windows Boot Manager's WBCL items, when the data is a sequence of SIPA items (then `data` is all of it). */
  readonly sipa?: readonly DecodedSipaItem[];
  readonly data: string;
}

/** One SIPA item of a Windows EV_EVENT_TAG event (Windows SDK wbcl.h). */
export interface DecodedSipaItem {
  readonly type: number;
  /** The wbcl.h name (`SIPAEVENT_BOOTDEBUGGING`); absent for a type wbcl.h does not define. */
  readonly name?: string;
  readonly size: number;
  /** False for items flagged SIPAEVENTTYPE_NONMEASURED (logged, not extended). */
  readonly measured: boolean;
  /** An aggregation item's nested items. */
  readonly items?: readonly DecodedSipaItem[];
  /** A leaf item's value as hex, and as text when it is printable UTF-16 (file paths, publishers). */
  readonly data?: string;
  readonly text?: string;
}

/** EV_EFI_SPDM_FIRMWARE_BLOB/CONFIG: device firmware and configuration measured over SPDM (PFP 1.06). */
export interface DecodedDeviceSecurity {
  readonly kind: 'device-security';
  readonly signature: string;
  readonly version: number;
  readonly data: string;
}

/** Bytes with no structure of their own, or a type no spec defines. */
export interface DecodedRaw {
  readonly kind: 'raw';
  readonly data: string;
}

/** Data that should have held a structure but did not parse: the error code says why. */
export interface DecodedUndecodable {
  readonly kind: 'undecodable';
  readonly code: string;
  readonly message: string;
  readonly data: string;
}

export type DecodedEvent =
  | DecodedSpecId
  | DecodedStartupLocality
  | DecodedNoAction
  | DecodedSeparator
  | DecodedText
  | DecodedGuid
  | DecodedFirmwareBlob
  | DecodedHandoffTables
  | DecodedVariable
  | DecodedImageLoad
  | DecodedGpt
  | DecodedIpl
  | DecodedEventTag
  | DecodedDeviceSecurity
  | DecodedRaw
  | DecodedUndecodable;
