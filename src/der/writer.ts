// The one DER writer (X.690 §10) for everything Vouch emits: Authenticode SignedData, the software
// TPM's X.509 certificates, ECDSA-Sig-Value and PKCS#1 DigestInfo. Each function returns one
// complete TLV in its canonical form, so what is written reads back through ./reader.ts unchanged.
import { DerError } from './errors.ts';
import { DerTag, MAX_DER_LENGTH } from './reader.ts';

function encodeLength(n: number): number[] {
  if (n > MAX_DER_LENGTH) throw new DerError('ERR_DER_LIMIT', `DER value of ${n} bytes exceeds the maximum ${MAX_DER_LENGTH}`, { max: MAX_DER_LENGTH });
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** One TLV from a tag and the concatenation of `content`. */
export function encodeTlv(tag: number, ...content: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of content) length += c.length;
  const header = encodeLength(length);
  const out = new Uint8Array(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let o = 1 + header.length;
  for (const c of content) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export function encodeSequence(...content: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(DerTag.sequence, ...content);
}

/** A SET OF (or an IMPLICIT [n] SET OF, by `tag`): elements sorted by their encodings (X.690 §11.6), as verifiers re-encode it. */
export function encodeSetOf(elements: readonly Uint8Array[], tag: number = DerTag.set): Uint8Array {
  return encodeTlv(tag, ...[...elements].sort((a, b) => Buffer.compare(a, b)));
}

/** [n] EXPLICIT around `content` (constructed context tag). */
export function encodeExplicit(n: number, ...content: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(DerTag.context0 + n, ...content);
}

export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => (/^(0|[1-9][0-9]*)$/.test(a) ? Number(a) : NaN));
  const [first, second] = arcs;
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a)) || first! > 2 || (first! < 2 && second! >= 40) || second! > Number.MAX_SAFE_INTEGER - 80)
    throw new DerError('ERR_DER_MALFORMED', `${JSON.stringify(dotted)} is not an OBJECT IDENTIFIER in dotted form`, { oid: dotted });
  const out: number[] = [];
  for (const arc of [first! * 40 + second!, ...arcs.slice(2)]) {
    const chunk = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v % 128) | 0x80);
    out.push(...chunk);
  }
  return encodeTlv(DerTag.oid, new Uint8Array(out));
}

/** A non-negative INTEGER from its big-endian magnitude: leading zeros dropped, a 0x00 added when the top bit is set. */
export function encodeUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const v = magnitude.subarray(start);
  if (v.length === 0) return encodeTlv(DerTag.integer, new Uint8Array([0]));
  return v[0]! & 0x80 ? encodeTlv(DerTag.integer, new Uint8Array([0]), v) : encodeTlv(DerTag.integer, v);
}

/** A small non-negative INTEGER (versions). */
export function encodeSmallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new DerError('ERR_DER_MALFORMED', `${n} is not a non-negative integer`, { value: n });
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return encodeUnsignedInteger(new Uint8Array(bytes));
}

export function encodeBoolean(value: boolean): Uint8Array {
  return encodeTlv(DerTag.boolean, new Uint8Array([value ? 0xff : 0x00]));
}

export const DER_NULL: Uint8Array = encodeTlv(DerTag.null);

/** A BIT STRING whose last `unusedBits` bits are padding (they must be zero, as DER requires). */
export function encodeBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  const last = bytes[bytes.length - 1];
  if (unusedBits < 0 || unusedBits > 7 || (last === undefined ? unusedBits !== 0 : (last & ((1 << unusedBits) - 1)) !== 0))
    throw new DerError('ERR_DER_MALFORMED', `BIT STRING of ${bytes.length} bytes cannot have ${unusedBits} non-zero unused bits`, { unusedBits });
  return encodeTlv(DerTag.bitString, new Uint8Array([unusedBits]), bytes);
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(DerTag.octetString, bytes);
}

export function encodeUtf8String(text: string): Uint8Array {
  return encodeTlv(DerTag.utf8String, new TextEncoder().encode(text));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Z. */
export function encodeTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < 1950 || year > 9999)
    throw new DerError('ERR_DER_MALFORMED', `${String(date)} cannot be an X.509 time (years 1950-9999)`, {});
  const digits = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return year < 2050 ? encodeTlv(DerTag.utcTime, Buffer.from(digits.slice(2), 'latin1')) : encodeTlv(DerTag.generalizedTime, Buffer.from(digits, 'latin1'));
}
