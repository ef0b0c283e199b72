// UEFI_VARIABLE_DATA (PFP §10.4.2.4) and the variable payloads firmware and shim measure:
// EFI_LOAD_OPTION (UEFI 2.10 §3.1.3), BootOrder, SecureBoot-style booleans, signature lists and
// the db entries of EV_EFI_VARIABLE_AUTHORITY.
import { ByteReader, ByteWriter, toHex } from '../bytes/index.ts';
import { EventLogLimits } from './constants.ts';
import type { DecodedLoadOption, DecodedVariableValue } from './decoded-types.ts';
import { devicePathToText, encodeDevicePath, parseDevicePaths, type DevicePathNode } from './device-path.ts';
import { EventLogError } from './errors.ts';
import { guidBytes, isPrintableAscii, isPrintableUtf16, readGuid, utf16leBytes, utf16leText } from './wire.ts';

export interface UefiVariableData {
  readonly vendorGuid: string;
  readonly name: string;
  /** Offset of VariableData inside the event data (edk2 hashes only this part for Boot#### events). */
  readonly dataOffset: number;
  readonly data: Uint8Array;
}

/**
 * Parses UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength (u64, characters),
 * VariableDataLength (u64), UnicodeName, VariableData. The structure must fill the event exactly.
 */
export function parseUefiVariableData(bytes: Uint8Array): UefiVariableData {
  const { variable, trailingBytes } = parseUefiVariableDataLenient(bytes);
  if (trailingBytes > 0) {
    throw new EventLogError(
      'ERR_EVENTLOG_MALFORMED',
      `UEFI_VARIABLE_DATA: ${trailingBytes} unexpected trailing bytes at offset ${bytes.length - trailingBytes}`,
      { trailing: trailingBytes },
    );
  }
  return variable;
}

/**
 * Like parseUefiVariableData but returns the number of bytes after the structure instead of
 * rejecting them: shim before 15.3 logged its authority events with a few bytes of struct
 * padding after VariableData, and the decoder reports that as a finding rather than losing the event.
 */
export function parseUefiVariableDataLenient(bytes: Uint8Array): { variable: UefiVariableData; trailingBytes: number } {
  const r = new ByteReader(bytes);
  const vendorGuid = readGuid(r, 'UEFI_VARIABLE_DATA.VariableName');
  const nameChars = r.u64le('UEFI_VARIABLE_DATA.UnicodeNameLength');
  const dataLength = r.u64le('UEFI_VARIABLE_DATA.VariableDataLength');
  if (nameChars > BigInt(EventLogLimits.maxVariableNameChars)) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `UEFI_VARIABLE_DATA.UnicodeNameLength ${nameChars} exceeds ${EventLogLimits.maxVariableNameChars}`, {
      length: String(nameChars),
    });
  }
  if (dataLength > BigInt(EventLogLimits.maxEventDataBytes)) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `UEFI_VARIABLE_DATA.VariableDataLength ${dataLength} exceeds ${EventLogLimits.maxEventDataBytes}`, {
      length: String(dataLength),
    });
  }
  const name = utf16leText(r.bytesView(Number(nameChars) * 2, 'UEFI_VARIABLE_DATA.UnicodeName'));
  const dataOffset = r.offset;
  const data = r.bytesView(Number(dataLength), 'UEFI_VARIABLE_DATA.VariableData');
  return { variable: { vendorGuid, name, dataOffset, data }, trailingBytes: r.remaining };
}

/** Builds UEFI_VARIABLE_DATA as firmware measures it (name without NUL, length in characters). */
export function encodeUefiVariableData(vendorGuid: string, name: string, data: Uint8Array): Uint8Array {
  return new ByteWriter(32 + name.length * 2 + data.length)
    .bytes(guidBytes(vendorGuid))
    .u64le(BigInt(name.length))
    .u64le(BigInt(data.length))
    .bytes(utf16leBytes(name, false))
    .bytes(data)
    .finish();
}

const loadOptionActive = 0x00000001;

/** Parses EFI_LOAD_OPTION: Attributes, FilePathListLength, Description (UCS-2, NUL), FilePathList, OptionalData. */
export function parseLoadOption(bytes: Uint8Array): DecodedLoadOption {
  const r = new ByteReader(bytes);
  const attributes = r.u32le('EFI_LOAD_OPTION.Attributes');
  const filePathListLength = r.u16le('EFI_LOAD_OPTION.FilePathListLength');
  const descriptionStart = r.offset;
  while (r.u16le('EFI_LOAD_OPTION.Description') !== 0);
  const description = utf16leText(bytes.subarray(descriptionStart, r.offset));
  const paths = parseDevicePaths(r.bytesView(filePathListLength, 'EFI_LOAD_OPTION.FilePathList'));
  const optional = r.bytesView(r.remaining);
  const optionalDataText = isPrintableUtf16(optional)
    ? utf16leText(optional)
    : isPrintableAscii(optional)
      ? Buffer.from(optional).toString('latin1').replace(/\0+$/, '')
      : undefined;
  return {
    attributes,
    active: (attributes & loadOptionActive) !== 0,
    description,
    devicePaths: paths.map(devicePathToText),
    optionalData: toHex(optional),
    ...(optionalDataText !== undefined ? { optionalDataText } : {}),
  };
}

/** Builds an EFI_LOAD_OPTION (e.g. to predict a Boot#### measurement). */
export function encodeLoadOption(option: {
  attributes: number;
  description: string;
  devicePath: readonly DevicePathNode[];
  optionalData?: Uint8Array;
}): Uint8Array {
  const path = encodeDevicePath(option.devicePath);
  return new ByteWriter()
    .u32le(option.attributes)
    .u16le(path.length)
    .bytes(utf16leBytes(option.description, true))
    .bytes(path)
    .bytes(option.optionalData ?? new Uint8Array(0))
    .finish();
}

/** Decodes signature-list variables (PK, KEK, db, dbx, MokList…); supplied by the Secure Boot module. */
export type SignatureListDecoder = (data: Uint8Array) => unknown;

const booleanVariables = new Set(['SecureBoot', 'SetupMode', 'AuditMode', 'DeployedMode', 'MokSBState', 'MokListTrusted']);
/** Secure Boot databases, shim's MOK lists, and the SPDM device database (devdb, PFP 1.06). */
const signatureListVariables = new Set(['PK', 'KEK', 'db', 'dbx', 'dbt', 'dbr', 'MokList', 'MokListX', 'MokListRT', 'MokListXRT', 'devdb']);
const loadOptionName = /^(Boot|Driver|SysPrep|PlatformRecovery)[0-9A-Fa-f]{4}$/;
const derSequenceTag = 0x30;
const ownerGuidBytes = 16;

/** What a measured variable holds, by its name; authority events hold the entry that verified an image. */
export function decodeVariableValue(
  variable: UefiVariableData,
  isAuthority: boolean,
  decodeSignatureLists: SignatureListDecoder | undefined,
): DecodedVariableValue {
  const { name, data } = variable;
  if (data.length === 0) return { kind: 'empty' };
  // shim measures SbatLevel into PCR 7 as an authority event; its data is the SBAT CSV text.
  if (name === 'SbatLevel' && isPrintableAscii(data)) return { kind: 'sbat', text: Buffer.from(data).toString('latin1').replace(/\0+$/, '') };
  // shim also measures MokListTrusted (one byte) into PCR 7 as an authority event.
  if (booleanVariables.has(name) && data.length === 1) return { kind: 'boolean', value: data[0] !== 0 };
  if (isAuthority) return decodeAuthority(variable);
  if ((name === 'BootOrder' || name === 'BootNext' || name === 'DriverOrder') && data.length % 2 === 0) {
    const r = new ByteReader(data);
    const order: string[] = [];
    while (r.remaining > 0) order.push(`Boot${r.u16le().toString(16).toUpperCase().padStart(4, '0')}`);
    return { kind: 'boot-order', order };
  }
  if (loadOptionName.test(name)) return { kind: 'load-option', option: parseLoadOption(data) };
  if (signatureListVariables.has(name)) return { kind: 'signature-lists', lists: decodeSignatureLists ? decodeSignatureLists(data) : toHex(data) };
  return { kind: 'raw' };
}

/**
 * EV_EFI_VARIABLE_AUTHORITY data: firmware logs the db entry (EFI_SIGNATURE_DATA: owner GUID then a
 * certificate or hash, PFP §10.4.2.4); shim logs its vendor certificate ("Shim") or a MOK entry
 * bare, without the owner GUID. Told apart by where the DER SEQUENCE starts.
 */
function decodeAuthority(variable: UefiVariableData): DecodedVariableValue {
  const { data } = variable;
  if (isWholeDerSequence(data)) return { kind: 'authority', certificate: toHex(data) };
  if (data.length > ownerGuidBytes) {
    const owner = readGuid(new ByteReader(data), 'EFI_SIGNATURE_DATA.SignatureOwner');
    const rest = data.subarray(ownerGuidBytes);
    return isWholeDerSequence(rest) ? { kind: 'authority', owner, certificate: toHex(rest) } : { kind: 'authority', owner, hash: toHex(rest) };
  }
  return { kind: 'raw' };
}

/** True when `bytes` is exactly one DER SEQUENCE with a long-form length (any certificate is). */
function isWholeDerSequence(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== derSequenceTag) return false;
  const lengthBytes = bytes[1]! - 0x80;
  if (lengthBytes < 1 || lengthBytes > 3 || bytes.length < 2 + lengthBytes) return false;
  let length = 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + bytes[2 + i]!;
  return 2 + lengthBytes + length === bytes.length;
}
