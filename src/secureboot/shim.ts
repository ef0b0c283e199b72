// Sections shim and its peers add to PE images: `.sbat` (SBAT revocation metadata, shim
// SBAT.md) and shim's `.vendor_cert` (the distribution CA shim trusts besides db, shim cert.S).
import { ByteReader } from '../bytes/index.ts';
import { SecureBootError } from './errors.ts';
import { peSectionContent, type PeImage } from './pe.ts';

/** Lines in one .sbat section (real ones have 2–6). */
export const MAX_SBAT_ENTRIES = 256;

/** One SBAT CSV record: component,generation,vendor,package,version,url (only the first two are required). */
export interface SbatEntry {
  readonly component: string;
  readonly generation: number;
  readonly vendorName?: string;
  readonly vendorPackageName?: string;
  readonly vendorVersion?: string;
  readonly vendorUrl?: string;
}

/** Parses SBAT CSV; the section is NUL-padded to its aligned size, so trailing NULs end it. */
export function parseSbat(bytes: Uint8Array): SbatEntry[] {
  const nul = bytes.indexOf(0);
  const used = nul < 0 ? bytes : bytes.subarray(0, nul);
  if (nul >= 0 && bytes.subarray(nul).some((b) => b !== 0)) {
    throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', `SBAT: non-NUL bytes after the NUL terminator at offset ${nul}`, { offset: nul });
  }
  const text = Buffer.from(used).toString('utf8');
  if (text.includes('\uFFFD')) throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', 'SBAT: not UTF-8 text');
  const entries: SbatEntry[] = [];
  for (const [i, rawLine] of text.split('\n').entries()) {
    const line = rawLine.replace(/\r$/, '');
    if (line === '') continue;
    if (entries.length >= MAX_SBAT_ENTRIES) throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', `SBAT: more than ${MAX_SBAT_ENTRIES} entries`);
    const fields = line.split(',');
    const [component, generationText, vendorName, vendorPackageName, vendorVersion, vendorUrl] = fields;
    if (fields.length < 2 || fields.length > 6 || !component || !/^[0-9]+$/.test(generationText ?? '')) {
      throw new SecureBootError(
        'ERR_SECUREBOOT_SBAT_MALFORMED',
        `SBAT line ${i + 1}: expected "component,generation[,vendor,package,version,url]", got ${JSON.stringify(line.slice(0, 80))}`,
        { line: i + 1 },
      );
    }
    const generation = Number(generationText);
    if (!Number.isSafeInteger(generation) || generation < 1) {
      throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', `SBAT line ${i + 1}: generation ${generationText} must be a positive integer`, {
        line: i + 1,
      });
    }
    entries.push({
      component,
      generation,
      ...(vendorName !== undefined && { vendorName }),
      ...(vendorPackageName !== undefined && { vendorPackageName }),
      ...(vendorVersion !== undefined && { vendorVersion }),
      ...(vendorUrl !== undefined && { vendorUrl }),
    });
  }
  return entries;
}

/** The image's `.sbat` entries, or undefined when it has no `.sbat` section. */
export function peSbat(pe: PeImage): SbatEntry[] | undefined {
  const data = peSectionContent(pe, '.sbat');
  return data === undefined ? undefined : parseSbat(data);
}

export interface ShimVendorCertificates {
  /** vendor_authorized: a DER certificate (or an ESL when shim was built with VENDOR_DB_FILE). */
  readonly authorized: Uint8Array;
  /** vendor_deauthorized: an ESL of revoked hashes/certificates (shim's built-in dbx). */
  readonly deauthorized: Uint8Array;
}

/**
 * shim's `.vendor_cert` section: { u32 authorized_size, deauthorized_size, authorized_offset,
 * deauthorized_offset } with offsets relative to the section start.
 */
export function shimVendorCertificates(pe: PeImage): ShimVendorCertificates | undefined {
  const data = peSectionContent(pe, '.vendor_cert');
  if (data === undefined) return undefined;
  const r = new ByteReader(data);
  const authorizedSize = r.u32le('vendor_authorized_size');
  const deauthorizedSize = r.u32le('vendor_deauthorized_size');
  const authorizedOffset = r.u32le('vendor_authorized_offset');
  const deauthorizedOffset = r.u32le('vendor_deauthorized_offset');
  const slice = (offset: number, size: number, field: string): Uint8Array => {
    if (offset + size > data.length) {
      throw new SecureBootError('ERR_SECUREBOOT_PE_MALFORMED', `PE .vendor_cert: ${field} [${offset}, +${size}) runs past the ${data.length}-byte section`, {
        field,
      });
    }
    return data.subarray(offset, offset + size);
  };
  return {
    authorized: slice(authorizedOffset, authorizedSize, 'vendor_authorized'),
    deauthorized: slice(deauthorizedOffset, deauthorizedSize, 'vendor_deauthorized'),
  };
}

/** An SBAT revocation level (the SbatLevel variable, shim SBAT.md): minimum generation per component. */
export interface SbatLevel {
  /** Third field of the first record ("sbat,1,2025051000"): the level's datestamp. */
  readonly datestamp: string | undefined;
  readonly minimumGenerations: readonly { readonly component: string; readonly generation: number }[];
}

/** Parses SbatLevel text ("sbat,1,DATE\ncomponent,generation\n..."), NUL-terminated or not. */
export function parseSbatLevel(bytes: Uint8Array): SbatLevel {
  const entries = parseSbat(bytes);
  const first = entries[0];
  if (first === undefined || first.component !== 'sbat') {
    throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', 'SbatLevel must start with the "sbat,1,DATESTAMP" record');
  }
  return { datestamp: first.vendorName, minimumGenerations: entries.map(({ component, generation }) => ({ component, generation })) };
}

/** One level of shim's `.sbatlevel` section, parsed, with its text as shim writes it into SbatLevel (no NUL). */
export interface ShimSbatLevel extends SbatLevel {
  readonly text: Uint8Array;
}

/**
 * shim's `.sbatlevel` section: u32 format version 0, then a header of two u32 offsets (relative
 * to the header) to the NUL-terminated "previous" and "latest" levels shim may apply.
 */
export function shimSbatLevels(pe: PeImage): { readonly previous: ShimSbatLevel; readonly latest: ShimSbatLevel } | undefined {
  const data = peSectionContent(pe, '.sbatlevel');
  if (data === undefined) return undefined;
  const r = new ByteReader(data);
  const version = r.u32le('.sbatlevel version');
  if (version !== 0) throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', `.sbatlevel format version ${version}, expected 0`);
  const header = r.offset;
  const level = (offset: number, field: string): ShimSbatLevel => {
    const start = header + offset;
    const end = start < data.length ? data.indexOf(0, start) : -1;
    if (end < 0) throw new SecureBootError('ERR_SECUREBOOT_SBAT_MALFORMED', `.sbatlevel ${field} level at ${start} is not NUL-terminated inside the section`);
    const text = data.slice(start, end);
    return { ...parseSbatLevel(text), text };
  };
  const previousOffset = r.u32le('.sbatlevel previous offset');
  const latestOffset = r.u32le('.sbatlevel latest offset');
  return { previous: level(previousOffset, 'previous'), latest: level(latestOffset, 'latest') };
}

export interface SbatRevocation {
  readonly component: string;
  readonly generation: number;
  readonly minimumGeneration: number;
}

/**
 * The image's SBAT records that the level revokes: same component name, generation below the
 * level's minimum (shim verify_sbat). An empty result means shim would run the image.
 */
export function sbatRevocations(image: readonly SbatEntry[], level: SbatLevel): SbatRevocation[] {
  const out: SbatRevocation[] = [];
  for (const minimum of level.minimumGenerations) {
    for (const entry of image) {
      if (entry.component === minimum.component && entry.generation < minimum.generation) {
        out.push({ component: entry.component, generation: entry.generation, minimumGeneration: minimum.generation });
      }
    }
  }
  return out;
}
