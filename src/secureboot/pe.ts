// PE/COFF image parsing as UEFI firmware reads it (PE Format spec, "Optional Header", "Section
// Table", "The Attribute Certificate Table"; edk2 MdePkg BasePeCoffLib + DxeImageVerificationLib).
// Every offset read from the image is untrusted: each is checked against the file size before use.
import { ByteReader } from '../bytes/index.ts';
import { SecureBootError } from './errors.ts';

/** Largest image accepted (UKIs with a big initrd reach a few hundred MiB). */
export const MAX_PE_IMAGE_SIZE = 1024 * 1024 * 1024;
/** Windows' loader limit; COFF allows 65535, which would let a header claim 2.6 MB of section table. */
export const MAX_PE_SECTIONS = 96;
/** IMAGE_NUMBEROF_DIRECTORY_ENTRIES: edk2 rejects images that declare more. */
export const MAX_DATA_DIRECTORIES = 16;

export const PeFormat = { pe32: 'PE32', pe32Plus: 'PE32+' } as const;
export type PeFormat = (typeof PeFormat)[keyof typeof PeFormat];

/** IMAGE_DIRECTORY_ENTRY_SECURITY: its "VirtualAddress" is a file offset, not an RVA. */
export const CERTIFICATE_DIRECTORY_INDEX = 4;

const OPTIONAL_HEADER_MAGIC: Readonly<Record<number, PeFormat>> = { 0x10b: PeFormat.pe32, 0x20b: PeFormat.pe32Plus };
/** Size of the optional header before its data directories (PE32: 96, PE32+: 112). */
const OPTIONAL_HEADER_FIXED_SIZE = { [PeFormat.pe32]: 96, [PeFormat.pe32Plus]: 112 } as const;
const COFF_HEADER_SIZE = 20;
export const SECTION_HEADER_SIZE = 40;

export interface PeSection {
  /** Name with trailing NULs removed, "/N" long names resolved through the COFF string table. */
  readonly name: string;
  /** The 8-byte Name field as stored (what firmware and systemd-stub compare). */
  readonly rawName: string;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: number;
  readonly characteristics: number;
  /** File offset of this section's 40-byte header. */
  readonly headerOffset: number;
}

export interface PeDataDirectory {
  readonly virtualAddress: number;
  readonly size: number;
}

export interface PeImage {
  readonly bytes: Uint8Array;
  readonly format: PeFormat;
  readonly machine: number;
  readonly characteristics: number;
  readonly timeDateStamp: number;
  /** File offset of the "PE\0\0" signature (e_lfanew). */
  readonly peHeaderOffset: number;
  readonly optionalHeaderOffset: number;
  readonly sizeOfOptionalHeader: number;
  readonly addressOfEntryPoint: number;
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly sizeOfImage: number;
  readonly sizeOfHeaders: number;
  readonly checksum: number;
  /** File offset of the 4-byte CheckSum field (excluded from the Authenticode hash). */
  readonly checksumOffset: number;
  readonly subsystem: number;
  readonly dllCharacteristics: number;
  readonly dataDirectoryOffset: number;
  readonly dataDirectories: readonly PeDataDirectory[];
  /** File offset of the 8-byte certificate directory entry, absent when NumberOfRvaAndSizes <= 4. */
  readonly certificateDirectoryOffset: number | undefined;
  /** The attribute certificate table (file offset and size), absent when its size is 0. */
  readonly certificateTable: { readonly offset: number; readonly size: number } | undefined;
  readonly sectionTableOffset: number;
  readonly sections: readonly PeSection[];
  /** Legal but unusual layout that changes what the hash covers (named so callers can report it). */
  readonly findings: readonly string[];
}

function malformed(field: string, message: string, details: Record<string, unknown> = {}): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_PE_MALFORMED', `PE ${field}: ${message}`, { field, ...details });
}

/**
 * Parses the headers and section table of a PE32 or PE32+ image (no copy: views into `bytes`).
 * The checks are edk2's (PeCoffLoaderGetPeHeader, HashPeImage): SizeOfOptionalHeader must equal the
 * fixed part plus NumberOfRvaAndSizes directories, the section table must lie inside SizeOfHeaders,
 * SizeOfHeaders and every section's raw data inside the file.
 *
 * @example const pe = parsePe(await readFile('shimx64.efi.signed')); pe.sections.map((s) => s.name)
 */
export function parsePe(bytes: Uint8Array): PeImage {
  if (bytes.length > MAX_PE_IMAGE_SIZE) {
    throw new SecureBootError('ERR_SECUREBOOT_PE_TOO_LARGE', `PE image of ${bytes.length} bytes exceeds maximum ${MAX_PE_IMAGE_SIZE}`, {
      size: bytes.length,
      max: MAX_PE_IMAGE_SIZE,
    });
  }
  const r = new ByteReader(bytes);
  if (bytes.length < 0x40 || bytes[0] !== 0x4d || bytes[1] !== 0x5a) throw malformed('DOS header', 'missing "MZ" signature');
  r.offset = 0x3c;
  const peHeaderOffset = r.u32le('e_lfanew');
  if (peHeaderOffset > bytes.length - 4 - COFF_HEADER_SIZE)
    throw malformed('e_lfanew', `PE header offset ${peHeaderOffset} is beyond the ${bytes.length}-byte file`, { offset: peHeaderOffset });
  r.offset = peHeaderOffset;
  if (r.u32le('PE signature') !== 0x00004550) throw malformed('PE signature', `expected "PE\\0\\0" at offset ${peHeaderOffset}`);
  const machine = r.u16le('Machine');
  const numberOfSections = r.u16le('NumberOfSections');
  const timeDateStamp = r.u32le('TimeDateStamp');
  const pointerToSymbolTable = r.u32le('PointerToSymbolTable');
  const numberOfSymbols = r.u32le('NumberOfSymbols');
  const sizeOfOptionalHeader = r.u16le('SizeOfOptionalHeader');
  const characteristics = r.u16le('Characteristics');
  if (numberOfSections > MAX_PE_SECTIONS) {
    throw new SecureBootError('ERR_SECUREBOOT_PE_TOO_LARGE', `PE NumberOfSections ${numberOfSections} exceeds maximum ${MAX_PE_SECTIONS}`, {
      numberOfSections,
      max: MAX_PE_SECTIONS,
    });
  }

  const optionalHeaderOffset = r.offset;
  const opt = new ByteReader(bytes, optionalHeaderOffset, Math.min(bytes.length, optionalHeaderOffset + sizeOfOptionalHeader));
  const magic = opt.u16le('OptionalHeader.Magic');
  const format = OPTIONAL_HEADER_MAGIC[magic];
  if (format === undefined) throw malformed('OptionalHeader.Magic', `0x${magic.toString(16)} is neither PE32 (0x10b) nor PE32+ (0x20b)`);
  const fixedSize = OPTIONAL_HEADER_FIXED_SIZE[format];
  if (sizeOfOptionalHeader < fixedSize)
    throw malformed('SizeOfOptionalHeader', `${sizeOfOptionalHeader} is smaller than the ${fixedSize} bytes of a ${format} optional header`);
  opt.offset = optionalHeaderOffset + 16;
  const addressOfEntryPoint = opt.u32le('AddressOfEntryPoint');
  opt.offset = optionalHeaderOffset + (format === PeFormat.pe32 ? 28 : 24);
  const imageBase = format === PeFormat.pe32 ? BigInt(opt.u32le('ImageBase')) : opt.u64le('ImageBase');
  const sectionAlignment = opt.u32le('SectionAlignment');
  const fileAlignment = opt.u32le('FileAlignment');
  opt.offset = optionalHeaderOffset + 56;
  const sizeOfImage = opt.u32le('SizeOfImage');
  const sizeOfHeaders = opt.u32le('SizeOfHeaders');
  const checksumOffset = opt.offset;
  const checksum = opt.u32le('CheckSum');
  const subsystem = opt.u16le('Subsystem');
  const dllCharacteristics = opt.u16le('DllCharacteristics');
  opt.offset = optionalHeaderOffset + fixedSize - 4;
  const numberOfRvaAndSizes = opt.u32le('NumberOfRvaAndSizes');
  if (numberOfRvaAndSizes > MAX_DATA_DIRECTORIES) throw malformed('NumberOfRvaAndSizes', `${numberOfRvaAndSizes} exceeds ${MAX_DATA_DIRECTORIES}`);
  if (sizeOfOptionalHeader !== fixedSize + 8 * numberOfRvaAndSizes) {
    throw malformed('SizeOfOptionalHeader', `${sizeOfOptionalHeader} does not equal ${fixedSize} + 8 × NumberOfRvaAndSizes (${numberOfRvaAndSizes})`);
  }
  const dataDirectoryOffset = opt.offset;
  const dataDirectories: PeDataDirectory[] = [];
  for (let i = 0; i < numberOfRvaAndSizes; i++) {
    dataDirectories.push({ virtualAddress: opt.u32le(`DataDirectory[${i}].VirtualAddress`), size: opt.u32le(`DataDirectory[${i}].Size`) });
  }

  const sectionTableOffset = optionalHeaderOffset + sizeOfOptionalHeader;
  const sectionTableEnd = sectionTableOffset + numberOfSections * SECTION_HEADER_SIZE;
  if (sizeOfHeaders > bytes.length) throw malformed('SizeOfHeaders', `${sizeOfHeaders} exceeds the file size ${bytes.length}`);
  if (sectionTableEnd > sizeOfHeaders) throw malformed('SizeOfHeaders', `${sizeOfHeaders} does not cover the section table ending at ${sectionTableEnd}`);

  const findings: string[] = [];
  const sections: PeSection[] = [];
  const sr = new ByteReader(bytes, sectionTableOffset, sectionTableEnd);
  for (let i = 0; i < numberOfSections; i++) {
    const headerOffset = sr.offset;
    const nameBytes = sr.bytesView(8, `section[${i}].Name`);
    const nul = nameBytes.indexOf(0);
    const rawName = Buffer.from(nameBytes.subarray(0, nul < 0 ? 8 : nul)).toString('latin1');
    const name = longSectionName(bytes, rawName, pointerToSymbolTable, numberOfSymbols) ?? rawName;
    const virtualSize = sr.u32le(`section[${i}].VirtualSize`);
    const virtualAddress = sr.u32le(`section[${i}].VirtualAddress`);
    const sizeOfRawData = sr.u32le(`section[${i}].SizeOfRawData`);
    const pointerToRawData = sr.u32le(`section[${i}].PointerToRawData`);
    sr.skip(12, `section[${i}] relocations and line numbers`);
    const sectionCharacteristics = sr.u32le(`section[${i}].Characteristics`);
    if (sizeOfRawData !== 0 && pointerToRawData + sizeOfRawData > bytes.length) {
      throw malformed(`section[${i}] ${JSON.stringify(name)}`, `raw data [${pointerToRawData}, +${sizeOfRawData}) runs past the ${bytes.length}-byte file`, {
        section: name,
      });
    }
    sections.push({ name, rawName, virtualSize, virtualAddress, sizeOfRawData, pointerToRawData, characteristics: sectionCharacteristics, headerOffset });
  }

  let certificateDirectoryOffset: number | undefined;
  let certificateTable: PeImage['certificateTable'];
  if (numberOfRvaAndSizes > CERTIFICATE_DIRECTORY_INDEX) {
    certificateDirectoryOffset = dataDirectoryOffset + 8 * CERTIFICATE_DIRECTORY_INDEX;
    const dir = dataDirectories[CERTIFICATE_DIRECTORY_INDEX]!;
    if (dir.size !== 0) {
      if (dir.virtualAddress + dir.size > bytes.length) {
        throw malformed('certificate table', `[${dir.virtualAddress}, +${dir.size}) runs past the ${bytes.length}-byte file`);
      }
      if (dir.virtualAddress < sizeOfHeaders) throw malformed('certificate table', `offset ${dir.virtualAddress} lies inside the headers`);
      certificateTable = { offset: dir.virtualAddress, size: dir.size };
      // UEFI hashes trailing data as [sum of hashed bytes, fileSize - certSize): a table that
      // is not at the end makes firmware hash part of the table and skip the real trailer.
      if (dir.virtualAddress + dir.size !== bytes.length) findings.push('certificate-table-not-at-end');
    }
  }
  let lastEnd = -1;
  for (const s of sections) {
    if (s.sizeOfRawData === 0) continue;
    if (s.pointerToRawData < lastEnd) findings.push(`section-raw-data-out-of-order:${s.name}`);
    if (s.pointerToRawData < sizeOfHeaders) findings.push(`section-overlaps-headers:${s.name}`);
    lastEnd = Math.max(lastEnd, s.pointerToRawData + s.sizeOfRawData);
  }

  return {
    bytes,
    format,
    machine,
    characteristics,
    timeDateStamp,
    peHeaderOffset,
    optionalHeaderOffset,
    sizeOfOptionalHeader,
    addressOfEntryPoint,
    imageBase,
    sectionAlignment,
    fileAlignment,
    sizeOfImage,
    sizeOfHeaders,
    checksum,
    checksumOffset,
    subsystem,
    dllCharacteristics,
    dataDirectoryOffset,
    dataDirectories,
    certificateDirectoryOffset,
    certificateTable,
    sectionTableOffset,
    sections,
    findings,
  };
}

/** Longest long section name read from the COFF string table. */
const MAX_LONG_SECTION_NAME = 256;
const COFF_SYMBOL_SIZE = 18;

/**
 * GNU ld writes names longer than 8 bytes (".vendor_cert") as "/N": offset N into the COFF string
 * table that follows the symbol table. Unresolvable names stay as stored.
 */
function longSectionName(bytes: Uint8Array, rawName: string, pointerToSymbolTable: number, numberOfSymbols: number): string | undefined {
  const m = /^\/([0-9]{1,7})$/.exec(rawName);
  if (!m || pointerToSymbolTable === 0) return undefined;
  const start = pointerToSymbolTable + numberOfSymbols * COFF_SYMBOL_SIZE + Number(m[1]);
  if (start >= bytes.length) return undefined;
  const window = bytes.subarray(start, Math.min(bytes.length, start + MAX_LONG_SECTION_NAME));
  const nul = window.indexOf(0);
  return nul <= 0 ? undefined : Buffer.from(window.subarray(0, nul)).toString('latin1');
}

/** The file bytes of the first section with this name (a view, raw size: may include alignment padding). */
export function peSectionData(pe: PeImage, name: string): Uint8Array | undefined {
  const s = pe.sections.find((x) => x.name === name);
  return s === undefined ? undefined : pe.bytes.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData);
}

/**
 * The section as the loader maps it: VirtualSize bytes, zero-filled past SizeOfRawData (raw data is
 * padded to FileAlignment; VirtualSize is the real length). This is what systemd-stub measures.
 */
export function peSectionContent(pe: PeImage, name: string): Uint8Array | undefined {
  const s = pe.sections.find((x) => x.name === name);
  if (s === undefined) return undefined;
  const raw = pe.bytes.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData);
  if (s.virtualSize <= raw.length) return raw.subarray(0, s.virtualSize);
  if (s.virtualSize > MAX_PE_IMAGE_SIZE) throw malformed(`section ${JSON.stringify(name)}`, `VirtualSize ${s.virtualSize} exceeds ${MAX_PE_IMAGE_SIZE}`);
  // The loader maps SizeOfImage bytes and no more; a section said to reach past them would make a
  // 3 KiB file cost a zero-filled allocation of its VirtualSize.
  if (s.virtualAddress + s.virtualSize > pe.sizeOfImage) {
    throw malformed(
      `section ${JSON.stringify(name)}`,
      `[VirtualAddress ${s.virtualAddress}, +VirtualSize ${s.virtualSize}) runs past SizeOfImage ${pe.sizeOfImage}`,
      {
        section: name,
      },
    );
  }
  const mapped = new Uint8Array(s.virtualSize);
  mapped.set(raw);
  return mapped;
}
