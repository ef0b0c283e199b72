import { SecureBootError } from './errors.ts';

/**
 * EFI_GUID as UEFI stores it: Data1 (u32), Data2 (u16), Data3 (u16) little-endian, then 8 bytes
 * as they are (UEFI 2.10 Appendix A). Text form is the usual lower-case 8-4-4-4-12.
 */
export function guidToString(bytes: Uint8Array, offset = 0): string {
  if (offset + 16 > bytes.length) {
    throw new SecureBootError('ERR_SECUREBOOT_ESL_MALFORMED', `GUID at offset ${offset} needs 16 bytes, only ${bytes.length - offset} left`, { offset });
  }
  // One hex string, then sliced: a dbx holds hundreds of GUIDs, and per-byte strings dominated.
  const h = Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString('hex');
  const le = (from: number, to: number): string => {
    let out = '';
    for (let i = to - 2; i >= from; i -= 2) out += h.slice(i, i + 2);
    return out;
  };
  return `${le(0, 8)}-${le(8, 12)}-${le(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const guidPattern = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** The 16 wire bytes of a GUID given in text form. */
export function guidFromString(text: string): Uint8Array {
  const m = guidPattern.exec(text);
  if (!m) throw new SecureBootError('ERR_SECUREBOOT_ESL_MALFORMED', `not a GUID: ${JSON.stringify(text.slice(0, 40))}`);
  const le = (h: string): number[] => (h.match(/../g) ?? []).map((b) => parseInt(b, 16)).reverse();
  const be = (h: string): number[] => (h.match(/../g) ?? []).map((b) => parseInt(b, 16));
  return new Uint8Array([...le(m[1]!), ...le(m[2]!), ...le(m[3]!), ...be(m[4]!), ...be(m[5]!)]);
}

/** Well-known GUIDs of UEFI 2.10 §32.4.1 (signature types) and §3.3 (variable vendors). */
export const EfiGuid = {
  globalVariable: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  imageSecurityDatabase: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  shimLock: '605dab50-e046-4300-abb6-3dd810dd8b23',
  certTypePkcs7: '4aafd29d-68df-49ee-8aa9-347d375665a7',
} as const;
