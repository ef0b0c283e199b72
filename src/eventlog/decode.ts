// Decodes each event's data into a typed, JSON-able value by event type (PFP §10.4). Decoding never
// drops data: a structure that fails to parse becomes `undecodable` with its error code (and the
// parser records a finding), and an unknown type becomes `raw`.
import { ByteReader, ByteWriter, bytesEqual, toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { EventLogLimits, EventType, LinuxEventTag, SeparatorValue, SystemdEventTag } from './constants.ts';
import type {
  DecodedEvent,
  DecodedEventTag,
  DecodedGpt,
  DecodedGptPartition,
  DecodedHandoffTables,
  DecodedIpl,
  DecodedNoAction,
  DecodedVariable,
  DecodedVariableValue,
} from './decoded-types.ts';
import { devicePathToText, parseDevicePath } from './device-path.ts';
import { EventLogError } from './errors.ts';

import { parseSipaItems, sipaName } from './sipa.ts';
import type { BankName } from './types.ts';
import { decodeVariableValue, parseUefiVariableDataLenient, type SignatureListDecoder } from './uefi-variable.ts';
import { asciiText, isPrintableAscii, isPrintableUtf16, readGuid, utf16leText } from './wire.ts';
import { type HashAlgorithmName, hashBytes, isHashAlgorithmName } from '../hash/index.ts';

export interface DecodeOptions {
  /** Decoder for PK/KEK/db/dbx/MokList data (the Secure Boot module's ESL parser); hex when absent. */
  readonly decodeSignatureLists?: SignatureListDecoder;
}

export const NoActionSignature = {
  specId03: 'Spec ID Event03',
  startupLocality: 'StartupLocality',
  sp800155Event: 'SP800-155 Event',
  sp800155Event2: 'SP800-155 Event2',
  sp800155Event3: 'SP800-155 Event3',
} as const;

/** The NUL-terminated signature at the start of an EV_NO_ACTION event (16 bytes in every PFP form). */
export function noActionSignature(data: Uint8Array): string {
  return asciiText(data.subarray(0, Math.min(16, data.length)));
}

const startupLocalityEventBytes = 17;
const guidBytes = 16;

/**
 * Decodes one event's data. `digests` (the event's logged digests) matter only for EV_SEPARATOR:
 * an error separator is recognised by its digest, since its data may hold error information.
 */
export function decodeEvent(
  type: number,
  pcr: number,
  data: Uint8Array,
  options: DecodeOptions = {},
  digests: Readonly<Record<BankName, Uint8Array>> = {},
): DecodedEvent {
  try {
    return decodeByType(type, pcr, data, options, digests);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { kind: 'undecodable', code: translateCode(e.code), message: e.message, data: toHex(data) };
  }
}

function translateCode(code: string): string {
  if (code === 'ERR_BYTES_TRUNCATED') return 'ERR_EVENTLOG_TRUNCATED';
  if (code === 'ERR_BYTES_TOO_LARGE') return 'ERR_EVENTLOG_TOO_LARGE';
  if (code.startsWith('ERR_BYTES_')) return 'ERR_EVENTLOG_MALFORMED';
  return code;
}

function decodeByType(type: number, pcr: number, data: Uint8Array, options: DecodeOptions, digests: Readonly<Record<BankName, Uint8Array>>): DecodedEvent {
  switch (type) {
    case EventType.EV_NO_ACTION:
      return decodeNoAction(data);
    case EventType.EV_SEPARATOR:
      return decodeSeparator(data, digests);
    case EventType.EV_EFI_ACTION:
    case EventType.EV_ACTION:
    case EventType.EV_OMIT_BOOT_DEVICE_EVENTS:
    case EventType.EV_EFI_HCRTM_EVENT:
    case EventType.EV_COMPACT_HASH:
      return decodeText(data);
    case EventType.EV_S_CRTM_VERSION:
      // PFP §10.4.1: a UCS-2 version string (edk2) or a GUID naming the S-CRTM version (16 bytes).
      if (isPrintableUtf16(data)) return { kind: 'text', encoding: 'utf16le', text: utf16leText(data) };
      if (data.length === guidBytes && !isPrintableAscii(data)) return { kind: 'guid', guid: readGuid(new ByteReader(data), 'S-CRTM version GUID') };
      return decodeText(data);
    case EventType.EV_POST_CODE:
    case EventType.EV_S_CRTM_CONTENTS:
    case EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB:
      // PFP 1.05 §10.4.4: either an ASCII label ("ACPI DATA", "Embedded UEFI Driver") or a
      // UEFI_PLATFORM_FIRMWARE_BLOB (base, length).
      if (data.length === 16) {
        const r = new ByteReader(data);
        return { kind: 'firmware-blob', base: hex64(r.u64le()), length: hex64(r.u64le()) };
      }
      return decodeText(data);
    case EventType.EV_POST_CODE2:
    case EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB2: {
      // PFP 1.06: UEFI_PLATFORM_FIRMWARE_BLOB2, or for EV_POST_CODE2 a label as EV_POST_CODE has
      // (a blob's first byte is its description length, never a printable character in practice).
      if (isPrintableAscii(data)) return decodeText(data);
      const r = new ByteReader(data);
      const description = asciiText(r.bytesView(r.u8('BlobDescriptionSize'), 'BlobDescription'));
      const base = hex64(r.u64le('BlobBase'));
      const length = hex64(r.u64le('BlobLength'));
      r.expectEnd('UEFI_PLATFORM_FIRMWARE_BLOB2');
      return { kind: 'firmware-blob', description, base, length };
    }
    case EventType.EV_EFI_HANDOFF_TABLES:
    case EventType.EV_EFI_HANDOFF_TABLES2:
      return decodeHandoffTables(data, type === EventType.EV_EFI_HANDOFF_TABLES2);
    // PFP 1.06 §10.4.2: the SPDM device policy is the devdb variable (signature lists) and the
    // device authority the devdb entry that authenticated a device, both as UEFI_VARIABLE_DATA.
    case EventType.EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EventType.EV_EFI_VARIABLE_BOOT:
    case EventType.EV_EFI_VARIABLE_BOOT2:
    case EventType.EV_EFI_VARIABLE_AUTHORITY:
    case EventType.EV_EFI_SPDM_DEVICE_POLICY:
    case EventType.EV_EFI_SPDM_DEVICE_AUTHORITY:
      return decodeVariable(data, type === EventType.EV_EFI_VARIABLE_AUTHORITY || type === EventType.EV_EFI_SPDM_DEVICE_AUTHORITY, options);
    case EventType.EV_EFI_BOOT_SERVICES_APPLICATION:
    case EventType.EV_EFI_BOOT_SERVICES_DRIVER:
    case EventType.EV_EFI_RUNTIME_SERVICES_DRIVER: {
      const r = new ByteReader(data);
      const imageLocation = hex64(r.u64le('ImageLocationInMemory'));
      const imageLength = hex64(r.u64le('ImageLengthInMemory'));
      const linkTimeAddress = hex64(r.u64le('ImageLinkTimeAddress'));
      const pathLength = r.u64le('LengthOfDevicePath');
      if (pathLength > BigInt(r.remaining)) {
        throw new EventLogError('ERR_EVENTLOG_TRUNCATED', `UEFI_IMAGE_LOAD_EVENT.LengthOfDevicePath ${pathLength} exceeds the ${r.remaining} bytes left`, {
          length: String(pathLength),
        });
      }
      const pathBytes = r.bytesView(Number(pathLength));
      // Some firmware loads images from memory and logs no device path at all.
      const devicePath = pathBytes.length === 0 ? '' : devicePathToText(parseDevicePath(pathBytes));
      // shim logs sizeof(EFI_IMAGE_LOAD_EVENT)-style sizes, leaving padding after the path.
      const trailing = r.remaining > 0 ? { trailingBytes: r.remaining } : {};
      return { kind: 'image-load', imageLocation, imageLength, linkTimeAddress, devicePath, ...trailing };
    }
    case EventType.EV_EFI_GPT_EVENT:
    case EventType.EV_EFI_GPT_EVENT2:
      return decodeGpt(data);
    case EventType.EV_IPL:
      return decodeIpl(pcr, data);
    case EventType.EV_EVENT_TAG:
      return decodeEventTag(data);
    case EventType.EV_EFI_SPDM_FIRMWARE_BLOB:
    case EventType.EV_EFI_SPDM_FIRMWARE_CONFIG: {
      // TCG_DEVICE_SECURITY_EVENT_DATA(2) (PFP 1.06 §10.4.2.7): both header versions open with
      // Signature[16] ("SPDM Device Sec", "SPDM Device Sec2") and a u16 Version; the rest is kept.
      const r = new ByteReader(data);
      const signature = asciiText(r.bytesView(16, 'Signature'));
      const version = r.u16le('Version');
      return { kind: 'device-security', signature, version, data: toHex(data) };
    }
    case EventType.EV_PLATFORM_CONFIG_FLAGS:
    case EventType.EV_TABLE_OF_DEVICES:
    case EventType.EV_NONHOST_CODE:
    case EventType.EV_NONHOST_CONFIG:
    case EventType.EV_NONHOST_INFO:
    case EventType.EV_CPU_MICROCODE:
    case EventType.EV_IPL_PARTITION_DATA:
    case EventType.EV_PREBOOT_CERT:
      return isPrintableAscii(data) ? decodeText(data) : { kind: 'raw', data: toHex(data) };
  }
  return { kind: 'raw', data: toHex(data) };
}

const hex64 = (n: bigint): string => `0x${n.toString(16)}`;

const errorSeparatorBytes = new ByteWriter(4).u32le(SeparatorValue.error).finish();
const errorSeparatorDigests = new Map<HashAlgorithmName, Uint8Array>();

function errorSeparatorDigest(bank: HashAlgorithmName): Uint8Array {
  let digest = errorSeparatorDigests.get(bank);
  if (digest === undefined) errorSeparatorDigests.set(bank, (digest = hashBytes(bank, errorSeparatorBytes)));
  return digest;
}

/** True when every digest Vouch can compute is H(0x00000001): the firmware extended an error separator. */
function hasErrorSeparatorDigest(digests: Readonly<Record<BankName, Uint8Array>>): boolean {
  let checked = 0;
  for (const bank in digests) {
    if (!isHashAlgorithmName(bank)) continue;
    if (!bytesEqual(errorSeparatorDigest(bank), digests[bank]!)) return false;
    checked++;
  }
  return checked > 0;
}

/**
 * EV_SEPARATOR (PFP 1.05 §3.3.4.2 "Error Conditions", PC Client Implementation 1.21 §3.3.2.2): the
 * data is normally the measured 4-byte value, 0 (0xFFFFFFFF on TCG 1.1 BIOSes). On a pre-boot error
 * the firmware extends H(0x00000001) and may log information about the error as the event data
 * instead, so an error separator is recognised by its digest as well as by its data.
 */
function decodeSeparator(data: Uint8Array, digests: Readonly<Record<BankName, Uint8Array>>): DecodedEvent {
  if (hasErrorSeparatorDigest(digests)) {
    const isValueItself = bytesEqual(data, errorSeparatorBytes);
    return { kind: 'separator', value: SeparatorValue.error, isError: true, ...(isValueItself ? {} : { errorInformation: toHex(data) }) };
  }
  if (data.length !== 4) return { kind: 'raw', data: toHex(data) };
  const value = new ByteReader(data).u32le();
  return { kind: 'separator', value, isError: value === SeparatorValue.error };
}

function decodeText(data: Uint8Array): DecodedEvent {
  if (isPrintableAscii(data)) return { kind: 'text', encoding: 'ascii', text: asciiText(data) };
  if (isPrintableUtf16(data)) return { kind: 'text', encoding: 'utf16le', text: utf16leText(data) };
  return { kind: 'raw', data: toHex(data) };
}

function decodeNoAction(data: Uint8Array): DecodedEvent {
  const signature = noActionSignature(data);
  if (signature === NoActionSignature.startupLocality && data.length === startupLocalityEventBytes) {
    return { kind: 'startup-locality', locality: data[16]! };
  }
  const event: DecodedNoAction = { kind: 'no-action', signature, data: toHex(data) };
  if (signature === NoActionSignature.sp800155Event2 || signature === NoActionSignature.sp800155Event3) return decodeSp800155(data, event);
  if (signature === NoActionSignature.sp800155Event && data.length >= 36) {
    // TCG_Sp800_155_PlatformId_Event: Signature[16], VendorId u32, ReferenceManifestGuid, ...
    const r = new ByteReader(data, 16);
    return { ...event, platformManufacturerId: r.u32le(), referenceManifestGuid: readGuid(r, 'ReferenceManifestGuid') };
  }
  return event;
}

/**
 * TCG_Sp800_155_PlatformId_Event2/3 (PFP 1.06 §10.4.5.2): where to find the platform's reference
 * integrity manifest. Strings are u8-length-prefixed; Event3 adds RIM and platform certificate locators.
 */
function decodeSp800155(data: Uint8Array, event: DecodedNoAction): DecodedNoAction {
  const r = new ByteReader(data, 16);
  const shortString = (where: string): string => asciiText(r.bytesView(r.u8(`${where}Size`), where));
  const platformManufacturerId = r.u32le('PlatformManufacturerId');
  const referenceManifestGuid = readGuid(r, 'ReferenceManifestGuid');
  const platformManufacturer = shortString('PlatformManufacturerStr');
  const platformModel = shortString('PlatformModel');
  const platformVersion = shortString('PlatformVersion');
  const firmwareManufacturer = shortString('FirmwareManufacturerStr');
  const firmwareManufacturerId = r.u32le('FirmwareManufacturerId');
  const firmwareVersion = shortString('FirmwareVersion');
  const locators: { rimLocator?: string; platformCertLocator?: string } = {};
  if (event.signature === NoActionSignature.sp800155Event3) {
    r.u32le('RimLocatorType');
    locators.rimLocator = asciiText(r.bytesView(r.u32le('RimLocatorLength'), 'RimLocator'));
    r.u32le('PlatformCertLocatorType');
    locators.platformCertLocator = asciiText(r.bytesView(r.u32le('PlatformCertLocatorLength'), 'PlatformCertLocator'));
  }
  r.expectEnd(event.signature);
  return {
    ...event,
    platformManufacturerId,
    referenceManifestGuid,
    platform: { manufacturer: platformManufacturer, model: platformModel, version: platformVersion },
    firmware: { manufacturer: firmwareManufacturer, manufacturerId: firmwareManufacturerId, version: firmwareVersion },
    ...locators,
  };
}

/** Names of configuration tables firmware hands off (UEFI 2.10 §4.6, PI spec). */
const handoffTableNames: Readonly<Record<string, string>> = {
  'eb9d2d31-2d88-11d3-9a16-0090273fc14d': 'SMBIOS',
  'f2fd1544-9794-4a2c-992e-e5bbcf20e394': 'SMBIOS3',
  'eb9d2d30-2d88-11d3-9a16-0090273fc14d': 'ACPI 1.0',
  '8868e871-e4f1-11d3-bc22-0080c73c8881': 'ACPI 2.0',
};

function decodeHandoffTables(data: Uint8Array, withDescription: boolean): DecodedHandoffTables {
  const r = new ByteReader(data);
  const description = withDescription ? asciiText(r.bytesView(r.u8('TableDescriptionSize'), 'TableDescription')) : undefined;
  const count = r.u64le('NumberOfTables');
  if (count > BigInt(EventLogLimits.maxHandoffTables)) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `UEFI_HANDOFF_TABLE_POINTERS.NumberOfTables ${count} exceeds ${EventLogLimits.maxHandoffTables}`, {
      count: String(count),
    });
  }
  const tables: { vendorGuid: string; name?: string; address: string }[] = [];
  for (let i = 0; i < Number(count); i++) {
    const vendorGuid = readGuid(r, `TableEntry[${i}].VendorGuid`);
    const address = hex64(r.u64le(`TableEntry[${i}].VendorTable`));
    const name = handoffTableNames[vendorGuid];
    tables.push(name ? { vendorGuid, name, address } : { vendorGuid, address });
  }
  r.expectEnd('UEFI_HANDOFF_TABLE_POINTERS');
  return description !== undefined ? { kind: 'handoff-tables', description, tables } : { kind: 'handoff-tables', tables };
}

function decodeVariable(data: Uint8Array, isAuthority: boolean, options: DecodeOptions): DecodedVariable {
  const { variable, trailingBytes } = parseUefiVariableDataLenient(data);
  let value: DecodedVariableValue;
  try {
    value = decodeVariableValue(variable, isAuthority, options.decodeSignatureLists);
  } catch (e) {
    // The variable frame is fine; only its payload (a load option, a signature list) is not.
    if (!isVouchError(e)) throw e;
    value = { kind: 'undecodable', code: translateCode(e.code), message: e.message };
  }
  const trailing = trailingBytes > 0 ? { trailingBytes } : {};
  return {
    kind: 'efi-variable',
    vendorGuid: variable.vendorGuid,
    name: variable.name,
    dataLength: variable.data.length,
    data: toHex(variable.data),
    value,
    ...trailing,
  };
}

const gptHeaderBytes = 92;
const gptSignature = 'EFI PART';

function decodeGpt(data: Uint8Array): DecodedGpt {
  const r = new ByteReader(data);
  const header = r.sub(gptHeaderBytes, 'UEFI_GPT_DATA.UEFIPartitionHeader');
  const signature = Buffer.from(header.bytesView(8)).toString('latin1');
  if (signature !== gptSignature) {
    throw new EventLogError('ERR_EVENTLOG_MALFORMED', `GPT header signature is ${JSON.stringify(signature)}, expected "EFI PART"`);
  }
  header.skip(4 + 4 + 4 + 4 + 8 + 8 + 8 + 8); // Revision, HeaderSize, HeaderCRC32, Reserved, MyLBA, AlternateLBA, First/LastUsableLBA
  const diskGuid = readGuid(header, 'DiskGUID');
  header.skip(8 + 4); // PartitionEntryLBA, NumberOfPartitionEntries
  const entrySize = header.u32le('SizeOfPartitionEntry');
  const count = r.u64le('UEFI_GPT_DATA.NumberOfPartitions');
  if (count > BigInt(EventLogLimits.maxGptPartitions)) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `UEFI_GPT_DATA.NumberOfPartitions ${count} exceeds ${EventLogLimits.maxGptPartitions}`, {
      count: String(count),
    });
  }
  const minimumEntryBytes = 128;
  if (count > 0n && entrySize < minimumEntryBytes) {
    throw new EventLogError('ERR_EVENTLOG_MALFORMED', `GPT SizeOfPartitionEntry ${entrySize} is below the 128 bytes of EFI_PARTITION_ENTRY`, { entrySize });
  }
  const partitions: DecodedGptPartition[] = [];
  for (let i = 0; i < Number(count); i++) {
    const entry = r.sub(entrySize, `Partitions[${i}]`);
    const typeGuid = readGuid(entry, 'PartitionTypeGUID');
    const uniqueGuid = readGuid(entry, 'UniquePartitionGUID');
    const startingLba = hex64(entry.u64le());
    const endingLba = hex64(entry.u64le());
    const attributes = hex64(entry.u64le());
    const name = utf16leText(entry.bytesView(72));
    partitions.push({ index: i, typeGuid, uniqueGuid, startingLba, endingLba, attributes, name });
  }
  r.expectEnd('UEFI_GPT_DATA');
  return { kind: 'gpt', diskGuid, partitions };
}

/** PCR 11 section names systemd-stub measures (systemd src/fundamental/uki.h) and pcrphase words. */
const ukiSections = new Set([
  '.linux',
  '.osrel',
  '.cmdline',
  '.initrd',
  '.ucode',
  '.splash',
  '.dtb',
  '.uname',
  '.sbat',
  '.pcrsig',
  '.pcrpkey',
  '.profile',
  '.dtbauto',
  '.hwids',
  '.efifw',
]);
const pcrPhases = new Set(['enter-initrd', 'leave-initrd', 'sysinit', 'ready', 'shutdown', 'final']);
const shimMokVariables = new Set(['MokList', 'MokListX', 'MokListTrusted', 'MokSBState', 'SbatLevel']);
/** systemd-stub's generated cpio archives (PCR 12/13, docs/TPM2_PCR_MEASUREMENTS.md): digests cover the archive. */
const systemdStubInitrdDescriptions = new Set(['Credentials initrd', 'Global credentials initrd', 'System extension initrd']);

/**
 * EV_IPL text by who writes it. GRUB (grub-core/commands/tpm.c): upstream logs
 * `grub_cmd: <cmd>` / `kernel_cmdline: <cmdline>`; RHEL 8 logs `grub_cmd <cmd>` /
 * `grub_kernel_cmdline <cmdline>`; files (PCR 9) are logged by path. shim logs its MOK variables
 * (PCR 14) by name; systemd-stub logs UKI section names (PCR 11) and systemd-boot/stub the
 * kernel command line as UCS-2 (PCR 8 before systemd 251, PCR 12 since).
 */
function decodeIpl(pcr: number, data: Uint8Array): DecodedIpl {
  const encoding = isPrintableAscii(data) ? 'ascii' : isPrintableUtf16(data) ? 'utf16le' : 'binary';
  if (encoding === 'binary') return { kind: 'ipl', encoding, text: '', role: 'other' };
  const text = encoding === 'ascii' ? asciiText(data) : utf16leText(data);
  const prefixed = (role: DecodedIpl['role'], prefix: string, prefixStyle: 'upstream' | 'rhel'): DecodedIpl | undefined =>
    text.startsWith(prefix) ? { kind: 'ipl', encoding, text, role, value: text.slice(prefix.length), prefixStyle } : undefined;
  const grub =
    prefixed('grub-command', 'grub_cmd: ', 'upstream') ??
    prefixed('grub-kernel-cmdline', 'kernel_cmdline: ', 'upstream') ??
    prefixed('grub-command', 'grub_cmd ', 'rhel') ??
    prefixed('grub-kernel-cmdline', 'grub_kernel_cmdline ', 'rhel');
  if (grub) return grub;
  if (pcr === 14 && shimMokVariables.has(text)) return { kind: 'ipl', encoding, text, role: 'shim-mok', value: text };
  if (pcr === 11 && ukiSections.has(text)) return { kind: 'ipl', encoding, text, role: 'uki-section', value: text };
  if (pcr === 11 && pcrPhases.has(text)) return { kind: 'ipl', encoding, text, role: 'pcrphase', value: text };
  if (pcr === 9 && (text.startsWith('/') || text.startsWith('(') || text.startsWith('\\'))) return { kind: 'ipl', encoding, text, role: 'file', value: text };
  if ((pcr === 8 || pcr === 12) && encoding === 'utf16le' && !systemdStubInitrdDescriptions.has(text))
    return { kind: 'ipl', encoding, text, role: 'kernel-cmdline', value: text };
  return { kind: 'ipl', encoding, text, role: 'other' };
}

const tagNames: ReadonlyMap<number, NonNullable<DecodedEventTag['tagName']>> = new Map([
  [LinuxEventTag.initrd, 'linux-initrd'],
  [LinuxEventTag.loadOptions, 'linux-load-options'],
  [SystemdEventTag.loaderConf, 'systemd-loader-conf'],
  [SystemdEventTag.devicetreeAddon, 'systemd-devicetree-addon'],
  [SystemdEventTag.initrdAddon, 'systemd-initrd-addon'],
  [SystemdEventTag.ucodeAddon, 'systemd-ucode-addon'],
  [SystemdEventTag.smbiosType1, 'systemd-smbios-type1'],
  [SystemdEventTag.smbiosType2, 'systemd-smbios-type2'],
  [SystemdEventTag.smbiosType11, 'systemd-smbios-type11'],
] as const);

/** TCG_PCClientTaggedEvent: taggedEventID u32, taggedEventDataSize u32, taggedEventData. */
function decodeEventTag(data: Uint8Array): DecodedEventTag {
  const r = new ByteReader(data);
  const tagId = r.u32le('taggedEventID');
  // Windows logs several SIPA items (each shaped like a TCG_PCClientTaggedEvent) in one event.
  if (sipaName(tagId) !== undefined) return { kind: 'event-tag', tagId, sipa: parseSipaItems(data), data: toHex(data) };
  const size = r.u32le('taggedEventDataSize');
  const tagData = r.bytesView(size, 'taggedEventData');
  r.expectEnd('TCG_PCClientTaggedEvent');
  const tagName = tagNames.get(tagId);
  const text = isPrintableAscii(tagData) ? asciiText(tagData) : isPrintableUtf16(tagData) ? utf16leText(tagData) : undefined;
  return { kind: 'event-tag', tagId, ...(tagName ? { tagName } : {}), ...(text !== undefined ? { text } : {}), data: toHex(tagData) };
}
