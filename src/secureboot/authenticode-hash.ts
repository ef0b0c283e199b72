// The Authenticode image hash exactly as UEFI firmware computes it (edk2
// DxeImageVerificationLib HashPeImage; "Windows Authenticode Portable Executable Signature
// Format" §"Calculating the PE Image Hash"). Firmware and Vouch must agree to the byte, since
// PCR 4 and db/dbx hash entries carry this value.
import { createHash, type Hash } from 'node:crypto';
import { SecureBootError } from './errors.ts';
import { parsePe, type PeImage } from './pe.ts';

/** Digests UEFI signature databases can hold image hashes in (EFI_CERT_SHA1/224/256/384/512). */
export const AuthenticodeHashAlgorithm = { sha1: 'sha1', sha224: 'sha224', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' } as const;
export type AuthenticodeHashAlgorithm = (typeof AuthenticodeHashAlgorithm)[keyof typeof AuthenticodeHashAlgorithm];

/**
 * Most bytes the hash may cover per byte of the file. Authenticode hashes every section's raw data
 * once per section header, so headers that point at the same bytes multiply the work (96 sections
 * over one 1 GiB region: 96 GiB hashed). Real images hash each byte at most once: measured 0.98
 * (Debian's signed shim, its certificate table excluded) to 1.000 (GRUB, the Debian kernel,
 * systemd-boot, systemd-stub, UKIs built from them). The one legitimate way past 1 is a section
 * that also covers the headers (hashed again, at most SizeOfHeaders more); 2 leaves room for that
 * and keeps any image at two passes over its bytes.
 */
export const MAX_HASHED_BYTES_PER_FILE_BYTE = 2;

/** The byte ranges [start, end) of the file that the hash covers, in hashing order. */
export function authenticodeRanges(pe: PeImage): Array<readonly [number, number]> {
  const ranges: Array<readonly [number, number]> = [];
  // 1. Headers up to SizeOfHeaders, minus the CheckSum field and the certificate directory entry
  //    (both change when a signature is attached).
  ranges.push([0, pe.checksumOffset]);
  if (pe.certificateDirectoryOffset === undefined) {
    ranges.push([pe.checksumOffset + 4, pe.sizeOfHeaders]);
  } else {
    ranges.push([pe.checksumOffset + 4, pe.certificateDirectoryOffset]);
    ranges.push([pe.certificateDirectoryOffset + 8, pe.sizeOfHeaders]);
  }
  // 2. Section raw data sorted by PointerToRawData (stable, as edk2's insertion sort), empty ones skipped.
  let sumOfBytesHashed = pe.sizeOfHeaders;
  const sorted = pe.sections.map((s, i) => ({ s, i })).sort((a, b) => a.s.pointerToRawData - b.s.pointerToRawData || a.i - b.i);
  for (const { s } of sorted) {
    if (s.sizeOfRawData === 0) continue;
    ranges.push([s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData]);
    sumOfBytesHashed += s.sizeOfRawData;
  }
  // 3. Trailing data: edk2 uses the running byte count as the start offset and assumes the
  //    certificate table ends the file, hashing [sum, fileSize - certSize).
  const fileSize = pe.bytes.length;
  if (fileSize > sumOfBytesHashed) {
    const certSize = pe.certificateTable?.size ?? 0;
    if (fileSize > certSize + sumOfBytesHashed) {
      ranges.push([sumOfBytesHashed, fileSize - certSize]);
    } else if (fileSize < certSize + sumOfBytesHashed) {
      throw new SecureBootError(
        'ERR_SECUREBOOT_PE_MALFORMED',
        `PE certificate table: size ${certSize} overlaps the ${sumOfBytesHashed} bytes of headers and sections in a ${fileSize}-byte file`,
        {
          field: 'certificate table',
        },
      );
    }
  }
  let hashed = 0;
  for (const [start, end] of ranges) {
    hashed += end - start;
    if (start > end || end > fileSize) {
      throw new SecureBootError('ERR_SECUREBOOT_PE_MALFORMED', `PE hash range [${start}, ${end}) is outside the ${fileSize}-byte file`, {
        field: 'layout',
        start,
        end,
      });
    }
  }
  if (hashed > MAX_HASHED_BYTES_PER_FILE_BYTE * fileSize) {
    throw new SecureBootError(
      'ERR_SECUREBOOT_PE_HASH_TOO_LARGE',
      `PE sections would have the Authenticode hash cover ${hashed} bytes of a ${fileSize}-byte file (at most ${MAX_HASHED_BYTES_PER_FILE_BYTE}× its size): section raw data overlaps or repeats`,
      { hashed, fileSize, max: MAX_HASHED_BYTES_PER_FILE_BYTE * fileSize },
    );
  }
  return ranges;
}

/**
 * Authenticode digest of a PE/COFF image (bytes or an already parsed image).
 *
 * @example authenticodeHash(await readFile('/usr/lib/shim/shimx64.efi.signed'), 'sha256')
 */
export function authenticodeHash(image: Uint8Array | PeImage, algorithm: AuthenticodeHashAlgorithm = 'sha256'): Uint8Array {
  const pe = image instanceof Uint8Array ? parsePe(image) : image;
  const hash: Hash = createHash(algorithm);
  for (const [start, end] of authenticodeRanges(pe)) hash.update(pe.bytes.subarray(start, end));
  return new Uint8Array(hash.digest());
}
