// Editing PE images: the checksum, removing signatures, and appending sections (how a UKI is
// built from a stub: `.osrel`, `.cmdline`, `.initrd`, `.linux`... added after the stub's own
// sections, as systemd's ukify and objcopy --add-section do).
import { SecureBootError } from './errors.ts';
import { parsePe, SECTION_HEADER_SIZE } from './pe.ts';

/** IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ: read-only data, as ukify adds sections. */
export const SECTION_READ_ONLY_DATA = 0x40000040;
const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040;

function alignUp(n: number, alignment: number): number {
  return alignment <= 1 ? n : Math.ceil(n / alignment) * alignment;
}

function unsupported(message: string, details: Record<string, unknown> = {}): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_PE_UNSUPPORTED', `PE edit: ${message}`, details);
}

/**
 * The PE checksum (IMAGEHLP CheckSumMappedFile): 16-bit one's-complement-style sum of the file
 * with the CheckSum field taken as zero, plus the file length. Firmware ignores it; Windows
 * tools and `sbverify` print it, and a stale one is the mark of a sloppy edit.
 */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) {
    if (i === checksumOffset || i === checksumOffset + 2) continue;
    sum += view.getUint16(i, true);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (bytes.length & 1) {
    sum += bytes[bytes.length - 1]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ((sum & 0xffff) + bytes.length) >>> 0;
}

/** Writes a fresh checksum into `bytes` (in place) and returns it. */
export function updateChecksum(bytes: Uint8Array): Uint8Array {
  const pe = parsePe(bytes);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(pe.checksumOffset, peChecksum(bytes, pe.checksumOffset), true);
  return bytes;
}

/** A copy without its attribute certificate table (and its directory entry zeroed). */
export function stripSignatures(image: Uint8Array): Uint8Array {
  const pe = parsePe(image);
  if (pe.certificateTable === undefined) return image.slice();
  if (pe.certificateTable.offset + pe.certificateTable.size !== image.length) {
    throw unsupported('the certificate table is not at the end of the file, so removing it would shift data it does not own');
  }
  const out = image.slice(0, pe.certificateTable.offset);
  new DataView(out.buffer).setBigUint64(pe.certificateDirectoryOffset!, 0n, true);
  return updateChecksum(out);
}

export interface NewSection {
  /** At most 8 bytes (systemd-stub and firmware compare the 8-byte Name field). */
  readonly name: string;
  readonly data: Uint8Array;
  /** Default SECTION_READ_ONLY_DATA. */
  readonly characteristics?: number;
  /** Default: the next SectionAlignment boundary after the previous section. Must be aligned and above it. */
  readonly virtualAddress?: number;
}

/**
 * Returns a copy of an unsigned image with sections appended: headers go into the free space
 * after the section table (which must be zero and inside SizeOfHeaders), raw data at the
 * FileAlignment boundary after the current end, SizeOfImage/SizeOfInitializedData/CheckSum fixed.
 *
 * @example appendSections(stub, [{ name: '.osrel', data: osrel }, { name: '.linux', data: kernel }])
 */
export function appendSections(image: Uint8Array, sections: readonly NewSection[]): Uint8Array {
  const pe = parsePe(image);
  if (pe.certificateTable !== undefined) throw unsupported('the image is signed: strip the signature first (a signature would not cover the new sections)');
  const lastRawEnd = Math.max(pe.sizeOfHeaders, ...pe.sections.map((s) => (s.sizeOfRawData === 0 ? 0 : s.pointerToRawData + s.sizeOfRawData)));
  // GNU ld leaves the COFF symbol and string tables after the last section; the loader never
  // maps them, so they are dropped (as `objcopy` does when it rewrites), and their pointer cleared.
  const view0 = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const pointerToSymbolTable = view0.getUint32(pe.peHeaderOffset + 12, true);
  const dropsSymbolTable = pointerToSymbolTable !== 0 && pointerToSymbolTable >= lastRawEnd;
  const trailerStart = dropsSymbolTable ? pointerToSymbolTable : image.length;
  if (image.subarray(lastRawEnd, trailerStart).some((b) => b !== 0)) {
    throw unsupported(`${trailerStart - lastRawEnd} bytes of trailing data after the last section would end up between sections`);
  }
  const tableEnd = pe.sectionTableOffset + pe.sections.length * SECTION_HEADER_SIZE;
  const newTableEnd = tableEnd + sections.length * SECTION_HEADER_SIZE;
  const firstRaw = Math.min(pe.sizeOfHeaders, ...pe.sections.filter((s) => s.sizeOfRawData !== 0).map((s) => s.pointerToRawData));
  if (newTableEnd > firstRaw || image.subarray(tableEnd, newTableEnd).some((b) => b !== 0)) {
    throw unsupported(`no free room for ${sections.length} more section headers before offset ${firstRaw}`, { needed: newTableEnd - tableEnd });
  }
  let nextVa = alignUp(Math.max(pe.sizeOfHeaders, ...pe.sections.map((s) => s.virtualAddress + Math.max(s.virtualSize, s.sizeOfRawData))), pe.sectionAlignment);
  let nextRaw = alignUp(lastRawEnd, pe.fileAlignment);
  const placed: Array<{ section: NewSection; va: number; raw: number; rawSize: number }> = [];
  for (const section of sections) {
    const nameBytes = Buffer.from(section.name, 'latin1');
    if (nameBytes.length === 0 || nameBytes.length > 8) throw unsupported(`section name ${JSON.stringify(section.name)} must be 1–8 bytes`);
    const va = section.virtualAddress ?? nextVa;
    if (va < nextVa || va % pe.sectionAlignment !== 0) {
      throw unsupported(
        `section ${section.name}: virtual address 0x${va.toString(16)} must be SectionAlignment-aligned and at or above 0x${nextVa.toString(16)}`,
      );
    }
    const rawSize = alignUp(section.data.length, pe.fileAlignment);
    placed.push({ section, va, raw: nextRaw, rawSize });
    nextVa = alignUp(va + Math.max(section.data.length, 1), pe.sectionAlignment);
    nextRaw += rawSize;
  }
  const out = new Uint8Array(nextRaw);
  out.set(image.subarray(0, lastRawEnd));
  const view = new DataView(out.buffer);
  let initializedData = 0;
  for (const [i, p] of placed.entries()) {
    const h = tableEnd + i * SECTION_HEADER_SIZE;
    out.set(Buffer.from(p.section.name, 'latin1'), h);
    const characteristics = p.section.characteristics ?? SECTION_READ_ONLY_DATA;
    view.setUint32(h + 8, p.section.data.length, true);
    view.setUint32(h + 12, p.va, true);
    view.setUint32(h + 16, p.rawSize, true);
    view.setUint32(h + 20, p.rawSize === 0 ? 0 : p.raw, true);
    view.setUint32(h + 36, characteristics, true);
    out.set(p.section.data, p.raw);
    if (characteristics & IMAGE_SCN_CNT_INITIALIZED_DATA) initializedData += p.rawSize;
  }
  view.setUint16(pe.peHeaderOffset + 6, pe.sections.length + sections.length, true);
  if (dropsSymbolTable) view.setBigUint64(pe.peHeaderOffset + 12, 0n, true); // PointerToSymbolTable, NumberOfSymbols
  view.setUint32(pe.optionalHeaderOffset + 56, nextVa, true); // SizeOfImage
  const sizeOfInitializedDataOffset = pe.optionalHeaderOffset + 8;
  view.setUint32(sizeOfInitializedDataOffset, (view.getUint32(sizeOfInitializedDataOffset, true) + initializedData) >>> 0, true);
  return updateChecksum(out);
}
