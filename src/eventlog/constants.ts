/**
 * Event types of the TCG PC Client Platform Firmware Profile (PFP) 1.05 rev 23, §10.4.1
 * (Table 9, "Events"), including the EFI range at 0x80000000 and the SPDM events of 1.06.
 */
export const EventType = {
  EV_PREBOOT_CERT: 0x0,
  EV_POST_CODE: 0x1,
  EV_UNUSED: 0x2,
  EV_NO_ACTION: 0x3,
  EV_SEPARATOR: 0x4,
  EV_ACTION: 0x5,
  EV_EVENT_TAG: 0x6,
  EV_S_CRTM_CONTENTS: 0x7,
  EV_S_CRTM_VERSION: 0x8,
  EV_CPU_MICROCODE: 0x9,
  EV_PLATFORM_CONFIG_FLAGS: 0xa,
  EV_TABLE_OF_DEVICES: 0xb,
  EV_COMPACT_HASH: 0xc,
  EV_IPL: 0xd,
  EV_IPL_PARTITION_DATA: 0xe,
  EV_NONHOST_CODE: 0xf,
  EV_NONHOST_CONFIG: 0x10,
  EV_NONHOST_INFO: 0x11,
  EV_OMIT_BOOT_DEVICE_EVENTS: 0x12,
  EV_POST_CODE2: 0x13,
  EV_EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EV_EFI_VARIABLE_BOOT: 0x80000002,
  EV_EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EV_EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EV_EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EV_EFI_GPT_EVENT: 0x80000006,
  EV_EFI_ACTION: 0x80000007,
  EV_EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EV_EFI_HANDOFF_TABLES: 0x80000009,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EV_EFI_HANDOFF_TABLES2: 0x8000000b,
  EV_EFI_VARIABLE_BOOT2: 0x8000000c,
  EV_EFI_GPT_EVENT2: 0x8000000d,
  EV_EFI_HCRTM_EVENT: 0x80000010,
  EV_EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EV_EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EV_EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
  EV_EFI_SPDM_DEVICE_POLICY: 0x800000e3,
  EV_EFI_SPDM_DEVICE_AUTHORITY: 0x800000e4,
} as const;
export type EventTypeName = keyof typeof EventType;

const eventTypeNames = new Map<number, EventTypeName>(Object.entries(EventType).map(([name, value]) => [value, name as EventTypeName]));

/** The PFP name of an event type, or undefined when the log uses a value no spec defines. */
export function eventTypeName(type: number): EventTypeName | undefined {
  return eventTypeNames.get(type);
}

/**
 * Named maximums checked before anything is allocated, so a hostile log can neither exhaust
 * memory nor spin: real logs hold a few hundred events of at most a few hundred KiB (a dbx
 * variable, a GPT with 128 entries).
 */
export const EventLogLimits = {
  /** Whole log: the TCG ACPI table reserves at most a few MiB (Linux caps its copy similarly). */
  maxLogBytes: 16 * 1024 * 1024,
  maxEvents: 65536,
  /** One event's data: generous for a full dbx (a few hundred KiB) or an EV_EFI_HANDOFF_TABLES blob. */
  maxEventDataBytes: 4 * 1024 * 1024,
  /** Digests per TCG_PCR_EVENT2: there are only a handful of PCR banks. */
  maxDigestsPerEvent: 16,
  /** Algorithms in the Spec ID header. */
  maxSpecIdAlgorithms: 16,
  maxDigestBytes: 64,
  maxDevicePathNodes: 256,
  maxGptPartitions: 1024,
  maxHandoffTables: 1024,
  /** UCS-2 characters of a variable name. */
  maxVariableNameChars: 1024,
  /** Highest PCR index a TPM 2.0 PC Client TPM has (PTP §4.6: PCR 0-23). */
  maxPcrIndex: 23,
} as const;

/** Linux EFI stub tagged events (drivers/firmware/efi/libstub, `efistub_measure`). */
export const LinuxEventTag = {
  initrd: 0x8f3b22ec,
  loadOptions: 0x8f3b22ed,
} as const;

/** systemd-boot/stub tagged events (systemd docs/TPM2_PCR_MEASUREMENTS.md, systemd >= 255). */
export const SystemdEventTag = {
  loaderConf: 0xf5bc582a,
  devicetreeAddon: 0x6c46f751,
  initrdAddon: 0x49dffe0f,
  ucodeAddon: 0xdac08e1a,
  smbiosType1: 0xd5cb7cbc,
  smbiosType2: 0xe0d47bc8,
  smbiosType11: 0xc0b3bd23,
} as const;

/**
 * EV_SEPARATOR values (PFP 1.05 §3.3.4.2, §10.4.1): 0 ends pre-boot measurements normally, 1 marks a
 * pre-boot error; TCG 1.1 BIOSes used 0xFFFFFFFF as the normal value.
 */
export const SeparatorValue = {
  normal: 0,
  error: 1,
  legacyNormal: 0xffffffff,
  /** Windows Boot Manager separates its PCR 12-14 measurements with "WBCL" (wbcl.h SIPAHDRSIGNATURE). */
  windows: 0x4c434257,
} as const;

/** EV_EFI_ACTION strings of PFP §10.4.4 that later checks look for. */
export const EfiActionString = {
  callingEfiApplication: 'Calling EFI Application from Boot Option',
  returningFromEfiApplication: 'Returning from EFI Application from Boot Option',
  exitBootServicesInvocation: 'Exit Boot Services Invocation',
  exitBootServicesFailed: 'Exit Boot Services Returned with Failure',
  exitBootServicesSucceeded: 'Exit Boot Services Returned with Success',
} as const;

/** Well-known variable vendor GUIDs (UEFI 2.10 §3.3, §32.6; shim's SHIM_LOCK_GUID). */
export const VariableVendor = {
  efiGlobalVariable: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  imageSecurityDatabase: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  shimLock: '605dab50-e046-4300-abb6-3dd810dd8b23',
} as const;
