/**
 * A declarative TPM 2.0 marshalling engine (in the spirit of go-tpm's tpm2/reflect.go).
 *
 * TPM structures are declared once as data (`struct`, `sized`, `list`, `union`, `bits`, ...) and
 * this one engine both encodes and decodes them, so there are no hand-written encoder/decoder
 * pairs to drift apart. `Infer<typeof X>` is the TypeScript type of a structure.
 *
 * Decoding treats its input as hostile: every read checks the bytes left first, every length or
 * count is checked against a named maximum before anything is allocated, union selectors and
 * algorithm ids are checked against the set the field allows, reserved attribute bits are
 * refused, and a sized field must be consumed exactly. The only thing decoding throws is a
 * `TpmError` (ERR_TPM_TRUNCATED, _TOO_LARGE, _BAD_SIZE, _BAD_TAG, _BAD_ALG, _BAD_VALUE, _TRAILING).
 *
 * Schemas are introspectable (`kind` and friends) so property tests can derive random values of
 * every structure from the declaration itself.
 *
 * Decoded byte fields are fresh Uint8Array copies, never views: input is often a Buffer (files,
 * sockets) whose slice() shares memory, and decoded values must not change when it is reused.
 */
import { ByteReader, ByteWriter } from '../../bytes/index.ts';
import { TpmError, type TpmErrorCodeName } from '../errors.ts';

/** The parent struct's fields decoded (or being encoded) so far: where a union finds its selector. */
type Siblings = Readonly<Record<string, unknown>>;

export interface SchemaBase<T> {
  readonly name: string;
  /** Appends v. Throws ERR_TPM_ENCODE when v does not fit (a caller bug, not hostile input). */
  write(w: ByteWriter, v: T, path: string, siblings?: Siblings): void;
  /** Reads one value; throws typed TpmErrors only. */
  read(r: ByteReader, path: string, siblings?: Siblings): T;
}

export type Schema<T> = SchemaBase<T> & SchemaNode;
/** Any schema, for constraints (methods are bivariant, so every Schema<T> fits). */
export type AnySchema = Schema<unknown>;
export type Infer<S> = S extends SchemaBase<infer T> ? T : never;

/** What a schema is, for introspection (random generation, docs). */
export type SchemaNode =
  | { readonly kind: 'uint'; readonly size: 1 | 2 | 4 }
  | { readonly kind: 'u64' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly size: 1 | 2 | 4; readonly values: readonly number[] }
  | { readonly kind: 'fixed'; readonly length: number }
  | { readonly kind: 'bytes'; readonly prefix: 1 | 2 | 4; readonly max: number }
  | { readonly kind: 'sized'; readonly inner: AnySchema; readonly max: number; readonly optional: boolean }
  | { readonly kind: 'list'; readonly element: AnySchema; readonly max: number }
  | { readonly kind: 'struct'; readonly fields: readonly (readonly [string, AnySchema])[] }
  | { readonly kind: 'union'; readonly selector: string; readonly cases: ReadonlyMap<number, AnySchema> }
  | { readonly kind: 'bits'; readonly size: 1 | 4; readonly flags: Readonly<Record<string, number>>; readonly fields: Readonly<Record<string, BitField>> }
  | { readonly kind: 'empty' };

export interface BitField {
  readonly shift: number;
  readonly width: number;
}

function fail(code: TpmErrorCodeName, path: string, message: string, details: Record<string, unknown> = {}): never {
  throw new TpmError(code, `${path}: ${message}`, { field: path, ...details });
}

function need(r: ByteReader, n: number, path: string): void {
  if (n > r.remaining)
    fail('ERR_TPM_TRUNCATED', path, `needs ${n} bytes at offset ${r.offset}, only ${r.remaining} left`, {
      offset: r.offset,
      needed: n,
      remaining: r.remaining,
    });
}

function badInput(path: string, message: string): never {
  fail('ERR_TPM_ENCODE', path, message);
}

function readUint(r: ByteReader, size: 1 | 2 | 4, path: string): number {
  need(r, size, path);
  return size === 1 ? r.u8() : size === 2 ? r.u16() : r.u32();
}

function writeUint(w: ByteWriter, size: 1 | 2 | 4, v: number, path: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * size)) badInput(path, `${String(v)} is not a ${8 * size}-bit unsigned integer`);
  if (size === 1) w.u8(v);
  else if (size === 2) w.u16(v);
  else w.u32(v);
}

function uint(name: string, size: 1 | 2 | 4): Schema<number> {
  return {
    kind: 'uint',
    size,
    name,
    write: (w, v, path) => writeUint(w, size, v, path),
    read: (r, path) => readUint(r, size, path),
  };
}

export const u8 = uint('UINT8', 1);
export const u16 = uint('UINT16', 2);
export const u32 = uint('UINT32', 4);

export const u64: Schema<bigint> = {
  kind: 'u64',
  name: 'UINT64',
  write(w, v, path) {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) badInput(path, `${String(v)} is not a 64-bit unsigned bigint`);
    w.u64(v);
  },
  read(r, path) {
    need(r, 8, path);
    return r.u64();
  },
};

/** TPMI_YES_NO: one byte, 0 or 1; anything else is refused rather than read as truthy. */
export const bool: Schema<boolean> = {
  kind: 'bool',
  name: 'TPMI_YES_NO',
  write(w, v, path) {
    if (typeof v !== 'boolean') badInput(path, 'expected a boolean');
    w.u8(v ? 1 : 0);
  },
  read(r, path) {
    const b = readUint(r, 1, path);
    if (b > 1) fail('ERR_TPM_BAD_VALUE', path, `TPMI_YES_NO must be 0 or 1, got ${b}`, { value: b });
    return b === 1;
  },
};

/**
 * An enumerated value (TPMI_ALG_HASH, TPMI_ST_ATTEST, TPMI_ECC_CURVE, ...): only `values` are
 * accepted when decoding; anything else is `code` (ERR_TPM_BAD_ALG for algorithms).
 */
export function enumerated<const V extends number>(
  name: string,
  size: 1 | 2 | 4,
  values: readonly V[],
  code: TpmErrorCodeName = 'ERR_TPM_BAD_VALUE',
  describe: (v: number) => string = (v) => `0x${v.toString(16)}`,
): Schema<V> {
  const allowed = new Set<number>(values);
  return {
    kind: 'enum',
    size,
    values,
    name,
    write(w, v, path) {
      if (!allowed.has(v)) badInput(path, `${describe(v)} is not a valid ${name}`);
      writeUint(w, size, v, path);
    },
    read(r, path) {
      const v = readUint(r, size, path);
      if (!allowed.has(v)) fail(code, path, `${describe(v)} is not a valid ${name}`, { value: v });
      return v as V;
    },
  };
}

/** A fixed number of raw bytes (e.g. a TPMT_HA digest whose length its hashAlg fixes). */
export function fixed(name: string, length: number): Schema<Uint8Array> {
  return {
    kind: 'fixed',
    length,
    name,
    write(w, v, path) {
      if (!(v instanceof Uint8Array) || v.length !== length) badInput(path, `expected ${length} bytes`);
      w.bytes(v);
    },
    read(r, path) {
      need(r, length, path);
      return new Uint8Array(r.bytesView(length));
    },
  };
}

/**
 * A length-prefixed byte buffer: TPM2B_DIGEST, TPM2B_DATA, ... (u16 prefix), or a u8-counted
 * array such as TPMS_PCR_SELECT.pcrSelect. The length is checked against `max` before copying.
 */
export function bytes(name: string, max: number, prefix: 1 | 2 | 4 = 2): Schema<Uint8Array> {
  return {
    kind: 'bytes',
    prefix,
    max,
    name,
    write(w, v, path) {
      if (!(v instanceof Uint8Array)) badInput(path, 'expected bytes');
      if (v.length > max) badInput(path, `${v.length} bytes exceed the maximum ${max} of ${name}`);
      writeUint(w, prefix, v.length, path);
      w.bytes(v);
    },
    read(r, path) {
      const n = readUint(r, prefix, path);
      if (n > max) fail('ERR_TPM_TOO_LARGE', path, `${name} length ${n} exceeds maximum ${max}`, { length: n, max });
      need(r, n, path);
      return new Uint8Array(r.bytesView(n));
    },
  };
}

/**
 * A TPM2B that wraps a structure (TPM2B_PUBLIC, TPM2B_ATTEST, ...). The value keeps the exact
 * bytes (`bytes`) next to the parsed structure (`value`): signatures and names are computed over
 * the bytes received, never over a re-encoding (go-tpm tpm2b.go; go-attestation validateQuote).
 * Encoding writes `bytes` verbatim; build both with `wrap(schema, value)`.
 */
export interface Sized<T> {
  readonly bytes: Uint8Array;
  readonly value: T;
}

export function sized<T>(name: string, inner: Schema<T>, max: number): Schema<Sized<T>> & { wrap(value: T): Sized<T> } {
  return {
    kind: 'sized',
    inner: inner as AnySchema,
    max,
    optional: false,
    name,
    wrap: (value: T) => wrap(inner, value),
    // Struct fields reach write() as unknown (and callers in plain JavaScript pass anything): check, then use.
    write(w, v: unknown, path) {
      if (!isSizedValue(v)) badInput(path, `expected {bytes, value} (use ${name}.wrap())`);
      if (v.bytes.length === 0 || v.bytes.length > max) badInput(path, `${name} of ${v.bytes.length} bytes (must be 1..${max})`);
      w.u16(v.bytes.length);
      w.bytes(v.bytes);
    },
    read(r, path) {
      return readSized(r, path, name, inner, max) ?? fail('ERR_TPM_BAD_SIZE', path, `${name} is empty but a structure is required`);
    },
  };
}

/** Like `sized`, but size 0 means "absent" (null): TPM2B_SENSITIVE in LoadExternal, empty inSensitive. */
export function optionalSized<T>(name: string, inner: Schema<T>, max: number): Schema<Sized<T> | null> & { wrap(value: T): Sized<T> } {
  return {
    kind: 'sized',
    inner: inner as AnySchema,
    max,
    optional: true,
    name,
    wrap: (value: T) => wrap(inner, value),
    write(w, v, path) {
      if (v === null) {
        w.u16(0);
        return;
      }
      if (!(v.bytes instanceof Uint8Array) || v.bytes.length > max) badInput(path, `expected {bytes, value} of at most ${max} bytes`);
      w.u16(v.bytes.length);
      w.bytes(v.bytes);
    },
    read: (r, path) => readSized(r, path, name, inner, max),
  };
}

function readSized<T>(r: ByteReader, path: string, name: string, inner: Schema<T>, max: number): Sized<T> | null {
  const n = readUint(r, 2, path);
  if (n === 0) return null;
  if (n > max) fail('ERR_TPM_TOO_LARGE', path, `${name} size ${n} exceeds maximum ${max}`, { length: n, max });
  need(r, n, path);
  const raw = new Uint8Array(r.bytesView(n));
  const sub = new ByteReader(raw);
  const value = inner.read(sub, path);
  if (sub.remaining !== 0)
    fail('ERR_TPM_BAD_SIZE', path, `${name} declares ${n} bytes but its ${inner.name} uses ${sub.offset}`, { declared: n, used: sub.offset });
  return { bytes: raw, value };
}

function isSizedValue(v: unknown): v is Sized<unknown> {
  return typeof v === 'object' && v !== null && (v as { bytes?: unknown }).bytes instanceof Uint8Array;
}

export function wrap<T>(inner: Schema<T>, value: T): Sized<T> {
  return { bytes: encode(inner, value), value };
}

/** A TPML_*: u32 count checked against `max` before the array is built. */
export function list<T>(name: string, element: Schema<T>, max: number): Schema<T[]> {
  return {
    kind: 'list',
    element: element as AnySchema,
    max,
    name,
    write(w, v, path) {
      if (!Array.isArray(v)) badInput(path, 'expected an array');
      if (v.length > max) badInput(path, `${v.length} entries exceed the maximum ${max} of ${name}`);
      w.u32(v.length);
      for (let i = 0; i < v.length; i++) element.write(w, v[i] as T, `${path}[${i}]`);
    },
    read(r, path) {
      const n = readUint(r, 4, path);
      if (n > max) fail('ERR_TPM_TOO_LARGE', path, `${name} count ${n} exceeds maximum ${max}`, { count: n, max });
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(element.read(r, `${path}[${i}]`));
      return out;
    },
  };
}

type Fields = Readonly<Record<string, AnySchema>>;
export type StructValue<F> = { [K in keyof F]: Infer<F[K]> };

/** A TPMS_/TPMT_ structure: fields in declaration order. */
export function struct<const F extends Fields>(name: string, fields: F): Schema<StructValue<F>> {
  const entries = Object.entries<AnySchema>(fields);
  return {
    kind: 'struct',
    fields: entries,
    name,
    write(w, v: unknown, path) {
      if (v === null || typeof v !== 'object') badInput(path, `expected a ${name} object`);
      const rec = v as Record<string, unknown>;
      for (const [k, s] of entries) {
        if (!(k in rec)) badInput(`${path}.${k}`, `missing field of ${name}`);
        s.write(w, rec[k], `${path}.${k}`, rec);
      }
    },
    read(r, path) {
      const out: Record<string, unknown> = {};
      for (const [k, s] of entries) out[k] = s.read(r, `${path}.${k}`, out);
      return out as StructValue<F>;
    },
  };
}

/**
 * A TPMU_ union whose member is chosen by an earlier field of the enclosing struct (`selector`),
 * e.g. TPMT_PUBLIC.parameters by `type`. A selector with no case is `code` (ERR_TPM_BAD_ALG for
 * algorithm selectors, ERR_TPM_BAD_TAG for structure tags).
 */
export function union<const C extends Readonly<Record<number, AnySchema>>>(
  name: string,
  selector: string,
  cases: C,
  code: TpmErrorCodeName = 'ERR_TPM_BAD_ALG',
): Schema<Infer<C[keyof C]>> {
  const map = new Map<number, AnySchema>(Object.entries(cases).map(([k, s]) => [Number(k), s]));
  const pick = (siblings: Siblings | undefined, path: string, onMissing: (p: string, m: string) => never): AnySchema => {
    const sel = siblings?.[selector];
    const s = typeof sel === 'number' ? map.get(sel) : undefined;
    return s ?? onMissing(path, `${name} has no member for ${selector}=${typeof sel === 'number' ? '0x' + sel.toString(16) : String(sel)}`);
  };
  return {
    kind: 'union',
    selector,
    cases: map,
    name,
    write(w, v, path, siblings) {
      pick(siblings, path, badInput).write(w, v, path, siblings);
    },
    read(r, path, siblings) {
      return pick(siblings, path, (p, m) => fail(code, p, m, { selector, value: siblings?.[selector] })).read(r, path, siblings) as Infer<C[keyof C]>;
    },
  };
}

/** A union member with no bytes (TPM_ALG_NULL schemes, empty TPMU_SYM_KEY_BITS). */
export const empty: Schema<null> = {
  kind: 'empty',
  name: 'empty',
  write(_w, v: unknown, path) {
    if (v !== null) badInput(path, 'expected null for an empty union member');
  },
  read: () => null,
};

export type BitsValue<Flags, Fs> = { [K in keyof Flags]: boolean } & { [K in keyof Fs]: number };

/**
 * An attribute word (TPMA_OBJECT, TPMA_SESSION, TPMA_NV): named one-bit flags (bit positions)
 * and multi-bit fields (TPMA_NV.TPM_NT). Bits the schema does not name are reserved: decoding
 * refuses them (ERR_TPM_BAD_VALUE) rather than dropping them silently.
 */
// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- without multi-bit fields the record of them is empty on purpose
export function bits<const Flags extends Readonly<Record<string, number>>, const Fs extends Readonly<Record<string, BitField>> = Record<never, BitField>>(
  name: string,
  size: 1 | 4,
  flags: Flags,
  fields?: Fs,
): Schema<BitsValue<Flags, Fs>> & { make(set: Partial<BitsValue<Flags, Fs>>): BitsValue<Flags, Fs>; toWord(v: BitsValue<Flags, Fs>): number } {
  const fieldTable = (fields ?? {}) as Fs;
  let known = 0;
  for (const b of Object.values(flags)) known |= 1 << b;
  for (const f of Object.values(fieldTable)) known |= ((2 ** f.width - 1) << f.shift) >>> 0;
  known >>>= 0;
  const toWord = (v: BitsValue<Flags, Fs>, path = name): number => {
    let word = 0;
    const rec = v as Record<string, boolean | number>;
    for (const [k, b] of Object.entries(flags)) if (rec[k] === true) word |= 1 << b;
    for (const [k, f] of Object.entries(fieldTable)) {
      const x = rec[k] ?? 0;
      if (typeof x !== 'number' || x < 0 || x >= 2 ** f.width) badInput(`${path}.${k}`, `must fit ${f.width} bits`);
      word |= x << f.shift;
    }
    return word >>> 0;
  };
  const fromWord = (word: number): BitsValue<Flags, Fs> => {
    const out: Record<string, boolean | number> = {};
    for (const [k, b] of Object.entries(flags)) out[k] = ((word >>> b) & 1) === 1;
    for (const [k, f] of Object.entries(fieldTable)) out[k] = (word >>> f.shift) & (2 ** f.width - 1);
    return out as BitsValue<Flags, Fs>;
  };
  return {
    kind: 'bits',
    size,
    flags,
    fields: fieldTable,
    name,
    make: (set) => fromWord(toWord(set as BitsValue<Flags, Fs>)),
    toWord: (v) => toWord(v),
    write(w, v: unknown, path) {
      if (v === null || typeof v !== 'object') badInput(path, `expected ${name} flags`);
      writeUint(w, size, toWord(v as BitsValue<Flags, Fs>, path), path);
    },
    read(r, path) {
      const word = readUint(r, size, path);
      const reserved = (word & ~known) >>> 0;
      if (reserved !== 0) fail('ERR_TPM_BAD_VALUE', path, `${name} has reserved bits 0x${reserved.toString(16)} set`, { value: word, reserved });
      return fromWord(word);
    },
  };
}

/** Encodes a value of a schema. */
export function encode<T>(schema: Schema<T> | SchemaBase<T>, value: T): Uint8Array {
  const w = new ByteWriter(128);
  schema.write(w, value, schema.name);
  return w.finish();
}

/** Decodes exactly one value from `input`; trailing bytes are ERR_TPM_TRAILING. */
export function decode<T>(schema: Schema<T> | SchemaBase<T>, input: Uint8Array, where: string = schema.name): T {
  const r = new ByteReader(input);
  const v = schema.read(r, where);
  if (r.remaining !== 0)
    fail('ERR_TPM_TRAILING', where, `${r.remaining} unexpected trailing bytes at offset ${r.offset}`, { offset: r.offset, trailing: r.remaining });
  return v;
}

/** Decodes one value from the reader's position, leaving the rest (for sequences). */
export function decodeFrom<T>(schema: Schema<T> | SchemaBase<T>, r: ByteReader, where: string = schema.name): T {
  return schema.read(r, where);
}
