// A small strict DER reader (X.690 §10) for the PKCS#7 and X.509 structures Secure Boot uses.
// Navigation is lazy (a cursor per constructed value) so depth is bounded by the code that walks
// the structure, never by the input; every length is checked against its parent before use.
import { SecureBootError } from './errors.ts';

export const DerTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
  /** [0] constructed (EXPLICIT, or IMPLICIT SET OF). */
  context0: 0xa0,
  context1: 0xa1,
  context2: 0xa2,
  /** [0] primitive (IMPLICIT). */
  contextPrimitive0: 0x80,
} as const;

/** Largest value length accepted: an Authenticode signature with its chain is a few KiB. */
export const MAX_DER_LENGTH = 16 * 1024 * 1024;

export interface DerValue {
  readonly tag: number;
  /** Offset of the tag byte in the outermost input. */
  readonly offset: number;
  /** The whole TLV (a view). */
  readonly raw: Uint8Array;
  /** The content octets (a view). */
  readonly content: Uint8Array;
}

function derError(message: string, where: string, offset: number): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_DER_MALFORMED', `DER ${where} at offset ${offset}: ${message}`, { where, offset });
}

/** Reads one TLV at `pos` within bytes[.., end). `base` is the absolute offset of bytes[0] for messages. */
function readTlv(bytes: Uint8Array, pos: number, end: number, where: string, base: number): DerValue {
  const at = base + pos;
  if (pos + 2 > end) throw derError('truncated tag/length', where, at);
  const tag = bytes[pos]!;
  // High tag numbers (low bits 11111) never occur in the structures read here.
  if ((tag & 0x1f) === 0x1f) throw derError(`multi-byte tag 0x${tag.toString(16)} not supported`, where, at);
  let lengthByte = bytes[pos + 1]!;
  let headerLength = 2;
  let length: number;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    const count = lengthByte & 0x7f;
    if (count === 0) throw derError('indefinite length (BER) is not DER', where, at);
    if (count > 4) throw derError(`length of ${count} bytes`, where, at);
    if (pos + 2 + count > end) throw derError('truncated length', where, at);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos + 2 + i]!;
    headerLength += count;
    lengthByte = bytes[pos + 2]!;
    // X.690 §10.1: the shortest form; a long form must be needed and have no leading zero byte.
    if (lengthByte === 0 || length < 0x80) throw derError('non-minimal length encoding', where, at);
  }
  if (length > MAX_DER_LENGTH) throw derError(`length ${length} exceeds maximum ${MAX_DER_LENGTH}`, where, at);
  if (pos + headerLength + length > end) throw derError(`length ${length} runs past the enclosing ${end - pos - headerLength} bytes`, where, at);
  return {
    tag,
    offset: at,
    raw: bytes.subarray(pos, pos + headerLength + length),
    content: bytes.subarray(pos + headerLength, pos + headerLength + length),
  };
}

function absoluteOffset(value: DerValue): number {
  return value.offset + (value.raw.length - value.content.length);
}

/** Parses exactly one DER value filling `bytes` (trailing bytes are an error). */
export function parseDer(bytes: Uint8Array, where = 'value', expectedTag?: number): DerValue {
  const v = readTlv(bytes, 0, bytes.length, where, 0);
  if (v.raw.length !== bytes.length) throw derError(`${bytes.length - v.raw.length} trailing bytes`, where, v.raw.length);
  if (expectedTag !== undefined && v.tag !== expectedTag) throw derError(`expected tag 0x${expectedTag.toString(16)}, got 0x${v.tag.toString(16)}`, where, 0);
  return v;
}

/**
 * Parses one DER value at the start of `bytes` followed by at most `maxPadding` zero bytes
 * (alignment padding some signers count in a length field); any other trailing byte is an error.
 */
export function parseDerPadded(bytes: Uint8Array, where: string, expectedTag: number, maxPadding: number): DerValue {
  const v = readTlv(bytes, 0, bytes.length, where, 0);
  const padding = bytes.subarray(v.raw.length);
  if (padding.length > maxPadding || padding.some((b) => b !== 0))
    throw derError(`${padding.length} trailing bytes that are not zero padding`, where, v.raw.length);
  if (v.tag !== expectedTag) throw derError(`expected tag 0x${expectedTag.toString(16)}, got 0x${v.tag.toString(16)}`, where, 0);
  return v;
}

/** Walks the children of a constructed value in order. */
export class DerCursor {
  private pos = 0;
  private readonly parent: DerValue;
  private readonly where: string;

  constructor(parent: DerValue, where: string) {
    if ((parent.tag & 0x20) === 0) throw derError(`tag 0x${parent.tag.toString(16)} is not constructed`, where, parent.offset);
    this.parent = parent;
    this.where = where;
  }

  get done(): boolean {
    return this.pos >= this.parent.content.length;
  }

  private peekTag(): number | undefined {
    return this.done ? undefined : this.parent.content[this.pos];
  }

  /** The next child; with `tag`, it must have that tag. */
  next(field: string, tag?: number): DerValue {
    const where = `${this.where}.${field}`;
    if (this.done) throw derError('missing', where, absoluteOffset(this.parent) + this.pos);
    const v = readTlv(this.parent.content, this.pos, this.parent.content.length, where, absoluteOffset(this.parent));
    if (tag !== undefined && v.tag !== tag) throw derError(`expected tag 0x${tag.toString(16)}, got 0x${v.tag.toString(16)}`, where, v.offset);
    this.pos += v.raw.length;
    return v;
  }

  /** The next child if it has this tag, else undefined (OPTIONAL fields). */
  optional(field: string, tag: number): DerValue | undefined {
    return this.peekTag() === tag ? this.next(field, tag) : undefined;
  }

  /** Every remaining child (at most `max`, a bound against hostile SET OFs). */
  rest(field: string, max: number): DerValue[] {
    const out: DerValue[] = [];
    while (!this.done) {
      if (out.length >= max) throw derError(`more than ${max} elements`, `${this.where}.${field}`, absoluteOffset(this.parent) + this.pos);
      out.push(this.next(`${field}[${out.length}]`));
    }
    return out;
  }

  end(): void {
    if (!this.done)
      throw derError(`${this.parent.content.length - this.pos} unexpected bytes after the last field`, this.where, absoluteOffset(this.parent) + this.pos);
  }
}

/** Dotted text of an OBJECT IDENTIFIER's content (X.690 §8.19). */
export function decodeOid(value: DerValue, where = 'OID'): string {
  if (value.tag !== DerTag.oid) throw derError(`expected OID, got tag 0x${value.tag.toString(16)}`, where, value.offset);
  const c = value.content;
  if (c.length === 0 || c.length > 64) throw derError(`OID of ${c.length} bytes`, where, value.offset);
  const arcs: number[] = [];
  let acc = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (acc === 0 && b === 0x80) throw derError('non-minimal OID arc', where, value.offset);
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw derError('OID arc too large', where, value.offset);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    } else if (i === c.length - 1) {
      throw derError('OID ends inside an arc', where, value.offset);
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** An INTEGER's content octets (two's complement, as compared byte-wise for serial numbers). */
export function derInteger(value: DerValue, where = 'INTEGER'): Uint8Array {
  if (value.tag !== DerTag.integer) throw derError(`expected INTEGER, got tag 0x${value.tag.toString(16)}`, where, value.offset);
  if (value.content.length === 0) throw derError('empty INTEGER', where, value.offset);
  return value.content;
}

/** A small non-negative INTEGER (versions). */
export function derSmallInteger(value: DerValue, where = 'INTEGER'): number {
  const c = derInteger(value, where);
  if (c.length > 4 || (c[0]! & 0x80) !== 0) throw derError('version out of range', where, value.offset);
  return c.reduce((n, b) => n * 256 + b, 0);
}

// ---- encoding (for Authenticode signing) ----

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

/** One TLV from a tag and content parts. */
export function derEncode(tag: number, ...content: readonly Uint8Array[]): Uint8Array {
  const length = content.reduce((n, c) => n + c.length, 0);
  const len = encodeLength(length);
  const out = new Uint8Array(1 + len.length + length);
  out[0] = tag;
  out.set(len, 1);
  let o = 1 + len.length;
  for (const c of content) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** A DER SET OF: elements sorted by their encodings (X.690 §11.6), as verifiers re-encode it. */
export function derSetOf(elements: readonly Uint8Array[], tag: number = DerTag.set): Uint8Array {
  return derEncode(tag, ...[...elements].sort((a, b) => Buffer.compare(a, b)));
}

export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number): void => {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return derEncode(DerTag.oid, new Uint8Array(out));
}

export const derNull = new Uint8Array([DerTag.null, 0]);

export function derSmallIntegerEncode(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) bytes.unshift(0);
  return derEncode(DerTag.integer, new Uint8Array(bytes));
}
