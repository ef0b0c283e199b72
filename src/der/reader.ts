// The one strict DER reader (X.690 §8 and §10) for everything Vouch parses: PKCS#7 and X.509 in
// Secure Boot signatures, EK certificates read from TPM NV, the software TPM's CA certificates.
// Navigation is lazy (a cursor per constructed value): nothing is decoded that the caller does not
// walk, and each value read is checked at once — its tag, its definite minimal length inside its
// parent, its nesting depth, and the canonical form DER fixes for BOOLEAN, INTEGER, BIT STRING,
// NULL, OBJECT IDENTIFIER and the two time types. Two encodings of one value would let a signed
// structure and what a verifier reads differ, which is why BER leniency is refused here.
import { DerError, type DerErrorCode } from './errors.ts';

export const DerTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  /** [n] constructed: EXPLICIT tagging, or IMPLICIT over a SEQUENCE/SET. */
  context0: 0xa0,
  context1: 0xa1,
  context2: 0xa2,
  context3: 0xa3,
  /** [n] primitive: IMPLICIT over a primitive type. */
  contextPrimitive0: 0x80,
  contextPrimitive1: 0x81,
  contextPrimitive2: 0x82,
} as const;

/** Largest value length accepted: an Authenticode signature with its chain is a few KiB, a CRL-sized bag well under this. */
export const MAX_DER_LENGTH = 16 * 1024 * 1024;
/** Deepest nesting read in one input: an X.509 extension sits at depth 6, inside PKCS#7 at depth 11. */
export const MAX_DER_DEPTH = 32;
/** Longest OBJECT IDENTIFIER content: real ones are under 30 bytes. */
export const MAX_OID_LENGTH = 64;

export interface DerValue {
  readonly tag: number;
  /** Offset of the tag byte in the outermost input. */
  readonly offset: number;
  /** Nesting depth: 0 for the outermost value of an input. */
  readonly depth: number;
  /** The whole TLV (a view). */
  readonly raw: Uint8Array;
  /** The content octets (a view). */
  readonly content: Uint8Array;
}

const hex = (tag: number): string => `0x${tag.toString(16).padStart(2, '0')}`;

function fail(message: string, where: string, offset: number, code: DerErrorCode = 'ERR_DER_MALFORMED', details: Record<string, unknown> = {}): never {
  throw new DerError(code, `DER ${where} at offset ${offset}: ${message}`, { where, offset, ...details });
}

/** Universal types that are always constructed: EXTERNAL, EMBEDDED PDV, SEQUENCE, SET, CHARACTER STRING. */
const CONSTRUCTED_UNIVERSAL_TYPES = new Set([8, 11, 16, 17, 29]);
const UTC_TIME = /^[0-9]{12}Z$/;
const GENERALIZED_TIME = /^[0-9]{14}Z$/;

/**
 * The checks DER adds to BER for one value (X.690 §10 and §11): a universal type is constructed
 * exactly when X.690 makes it so (SEQUENCE, SET and three rare ones; strings are primitive), and
 * types with a canonical form use it.
 */
function checkCanonical(tag: number, content: Uint8Array, where: string, at: number): void {
  if (tag >> 6 !== 0) return; // context, application and private tags: the schema decides
  const number = tag & 0x1f;
  const constructed = (tag & 0x20) !== 0;
  if (number === 0) fail('end-of-contents octets (BER indefinite form) are not DER', where, at);
  const mustBeConstructed = CONSTRUCTED_UNIVERSAL_TYPES.has(number);
  if (constructed !== mustBeConstructed) fail(`universal type ${number} must be ${mustBeConstructed ? 'constructed' : 'primitive'} in DER`, where, at);
  const first = content[0];
  switch (tag) {
    case DerTag.boolean:
      if (content.length !== 1 || (first !== 0x00 && first !== 0xff)) fail('BOOLEAN must be one byte, 0x00 or 0xff', where, at);
      break;
    case DerTag.integer:
      if (first === undefined) fail('INTEGER has no content', where, at);
      if (content.length > 1 && ((first === 0x00 && content[1]! < 0x80) || (first === 0xff && content[1]! >= 0x80)))
        fail('INTEGER is not in its shortest form (a redundant leading 0x00 or 0xff)', where, at);
      break;
    case DerTag.bitString: {
      if (first === undefined) fail('BIT STRING has no unused-bits octet', where, at);
      if (first > 7 || (content.length === 1 && first !== 0)) fail(`BIT STRING with ${first} unused bits in ${content.length - 1} bytes`, where, at);
      if ((content[content.length - 1]! & ((1 << first) - 1)) !== 0) fail('BIT STRING unused bits are not zero', where, at);
      break;
    }
    case DerTag.null:
      if (content.length !== 0) fail(`NULL with ${content.length} content bytes`, where, at);
      break;
    case DerTag.oid:
      checkOid(content, where, at);
      break;
    case DerTag.utcTime:
    case DerTag.generalizedTime: {
      const text = Buffer.from(content).toString('latin1');
      if (!(tag === DerTag.utcTime ? UTC_TIME : GENERALIZED_TIME).test(text))
        fail(`${tag === DerTag.utcTime ? 'UTCTime' : 'GeneralizedTime'} ${JSON.stringify(text)} is not in the DER form (seconds, then Z)`, where, at);
      break;
    }
  }
}

/** X.690 §8.19: each arc in base 128, shortest form (no leading 0x80), the last byte of an arc without bit 8. */
function checkOid(content: Uint8Array, where: string, at: number): void {
  if (content.length === 0) fail('OBJECT IDENTIFIER has no content', where, at);
  if (content.length > MAX_OID_LENGTH) fail(`OBJECT IDENTIFIER of ${content.length} bytes`, where, at, 'ERR_DER_LIMIT', { max: MAX_OID_LENGTH });
  let arcStart = true;
  for (const b of content) {
    if (arcStart && b === 0x80) fail('OBJECT IDENTIFIER arc is not in its shortest form', where, at);
    arcStart = (b & 0x80) === 0;
  }
  if (!arcStart) fail('OBJECT IDENTIFIER ends inside an arc', where, at);
}

/** Reads one TLV at `pos` within bytes[.., end). `base` is the absolute offset of bytes[0] for messages. */
function readTlv(bytes: Uint8Array, pos: number, end: number, where: string, base: number, depth: number): DerValue {
  const at = base + pos;
  if (depth > MAX_DER_DEPTH) fail(`nested more than ${MAX_DER_DEPTH} levels deep`, where, at, 'ERR_DER_LIMIT', { max: MAX_DER_DEPTH });
  if (pos + 2 > end) fail('truncated tag/length', where, at);
  const tag = bytes[pos]!;
  // High tag numbers (low bits 11111) occur in none of the structures read here.
  if ((tag & 0x1f) === 0x1f) fail(`multi-byte tag ${hex(tag)} is not supported`, where, at);
  const lengthByte = bytes[pos + 1]!;
  let headerLength = 2;
  let length = lengthByte;
  if (lengthByte >= 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0) fail('indefinite length (BER) is not DER', where, at);
    if (count > 4) fail(`length of ${count} bytes`, where, at, 'ERR_DER_LIMIT', { max: MAX_DER_LENGTH });
    if (pos + 2 + count > end) fail('truncated length', where, at);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos + 2 + i]!;
    headerLength += count;
    // X.690 §10.1: the shortest form; a long form must be needed and have no leading zero byte.
    if (bytes[pos + 2] === 0 || length < 0x80) fail('length is not in its shortest form', where, at);
  }
  if (length > MAX_DER_LENGTH) fail(`length ${length} exceeds the maximum ${MAX_DER_LENGTH}`, where, at, 'ERR_DER_LIMIT', { max: MAX_DER_LENGTH });
  if (pos + headerLength + length > end) fail(`length ${length} runs past the ${end - pos - headerLength} bytes that enclose it`, where, at);
  const content = bytes.subarray(pos + headerLength, pos + headerLength + length);
  checkCanonical(tag, content, where, at);
  return { tag, offset: at, depth, raw: bytes.subarray(pos, pos + headerLength + length), content };
}

function absoluteContentOffset(value: DerValue): number {
  return value.offset + (value.raw.length - value.content.length);
}

function expectTag(value: DerValue, tag: number | undefined, where: string): DerValue {
  if (tag !== undefined && value.tag !== tag) fail(`expected tag ${hex(tag)}, got ${hex(value.tag)}`, where, value.offset);
  return value;
}

/** Parses exactly one DER value filling `bytes` (trailing bytes are an error); with `tag`, it must have that tag. */
export function parseDer(bytes: Uint8Array, where = 'value', tag?: number): DerValue {
  const value = readTlv(bytes, 0, bytes.length, where, 0, 0);
  if (value.raw.length !== bytes.length) fail(`${bytes.length - value.raw.length} trailing bytes`, where, value.raw.length);
  return expectTag(value, tag, where);
}

/**
 * Parses one DER value at the start of `bytes` followed by at most `maxPadding` zero bytes
 * (alignment padding some signers count in a length field); any other trailing byte is an error.
 */
export function parseDerPadded(bytes: Uint8Array, where: string, tag: number, maxPadding: number): DerValue {
  const value = readTlv(bytes, 0, bytes.length, where, 0, 0);
  const padding = bytes.subarray(value.raw.length);
  if (padding.length > maxPadding || padding.some((b) => b !== 0))
    fail(`${padding.length} trailing bytes that are not zero padding of at most ${maxPadding}`, where, value.raw.length);
  return expectTag(value, tag, where);
}

/**
 * Parses the DER value at the start of a fixed-size container whose unused tail is unspecified
 * (a TPM NV index sized for any certificate): the value's own length says where it ends.
 */
export function parseDerPrefix(bytes: Uint8Array, where: string, tag: number): DerValue {
  return expectTag(readTlv(bytes, 0, bytes.length, where, 0, 0), tag, where);
}

/** Walks the children of a constructed value in order. */
export class DerCursor {
  private pos = 0;
  private readonly parent: DerValue;
  private readonly where: string;

  constructor(parent: DerValue, where: string) {
    if ((parent.tag & 0x20) === 0) fail(`tag ${hex(parent.tag)} is not constructed`, where, parent.offset);
    this.parent = parent;
    this.where = where;
  }

  get done(): boolean {
    return this.pos >= this.parent.content.length;
  }

  /** The next child; with `tag`, it must have that tag. */
  next(field: string, tag?: number): DerValue {
    const where = `${this.where}.${field}`;
    if (this.done) fail('missing', where, absoluteContentOffset(this.parent) + this.pos);
    const value = readTlv(this.parent.content, this.pos, this.parent.content.length, where, absoluteContentOffset(this.parent), this.parent.depth + 1);
    expectTag(value, tag, where);
    this.pos += value.raw.length;
    return value;
  }

  /** The next child if it has this tag, else undefined (OPTIONAL and DEFAULT fields). */
  optional(field: string, tag: number): DerValue | undefined {
    return !this.done && this.parent.content[this.pos] === tag ? this.next(field, tag) : undefined;
  }

  /** Every remaining child (at most `max`, a bound against hostile SET OFs). */
  rest(field: string, max: number): DerValue[] {
    const out: DerValue[] = [];
    while (!this.done) {
      if (out.length >= max)
        fail(`more than ${max} elements`, `${this.where}.${field}`, absoluteContentOffset(this.parent) + this.pos, 'ERR_DER_LIMIT', { max });
      out.push(this.next(`${field}[${out.length}]`));
    }
    return out;
  }

  /** Asserts every child was read: an unknown trailing field is refused, not skipped. */
  end(): void {
    if (!this.done)
      fail(`${this.parent.content.length - this.pos} unexpected bytes after the last field`, this.where, absoluteContentOffset(this.parent) + this.pos);
  }
}

/** Dotted text of an OBJECT IDENTIFIER (X.690 §8.19; its form was checked when it was read). */
export function decodeOid(value: DerValue, where = 'OID'): string {
  expectTag(value, DerTag.oid, where);
  const arcs: number[] = [];
  let acc = 0;
  for (const b of value.content) {
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) fail('OBJECT IDENTIFIER arc too large', where, value.offset, 'ERR_DER_LIMIT');
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** An INTEGER's content octets (two's complement, minimal: compared byte-wise as serial numbers are). */
export function decodeInteger(value: DerValue, where = 'INTEGER'): Uint8Array {
  return expectTag(value, DerTag.integer, where).content;
}

/** A small non-negative INTEGER (versions). */
export function decodeSmallInteger(value: DerValue, where = 'INTEGER'): number {
  const c = decodeInteger(value, where);
  if (c.length > 4 || (c[0]! & 0x80) !== 0) fail('expected a small non-negative INTEGER', where, value.offset);
  return c.reduce((n, b) => n * 256 + b, 0);
}
