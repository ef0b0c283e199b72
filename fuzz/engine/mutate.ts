// libFuzzer's mutation set (FuzzerMutate.cpp): erase, insert, insert repeated, change byte/bit,
// shuffle, change an ASCII or binary integer, copy part, cross over, dictionary words; stacked 1–5
// deep per execution. Driven by a seeded generator so a run with the same seed repeats exactly.

/** sfc32: small, fast, and good enough to choose mutations; seeded so runs are reproducible. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
}

/** Values that sit on boundaries parsers get wrong (libFuzzer's and AFL's interesting values). */
const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 16, 32, 64, 100, 1000, 1024, 4096];

export interface MutatorOptions {
  readonly maxLen: number;
  readonly dictionary: readonly Uint8Array[];
}

type Mutation = (data: Uint8Array, size: number) => number;

export class Mutator {
  private readonly random: Random;
  private readonly maxLen: number;
  private readonly dictionary: readonly Uint8Array[];
  private readonly mutations: readonly Mutation[];
  /** Another corpus entry to cross over with; set by the fuzz loop before each mutate(). */
  crossWith: Uint8Array = new Uint8Array(0);

  constructor(random: Random, options: MutatorOptions) {
    this.random = random;
    this.maxLen = options.maxLen;
    this.dictionary = options.dictionary;
    this.mutations = [
      this.eraseBytes,
      this.insertByte,
      this.insertRepeatedBytes,
      this.changeByte,
      this.changeBit,
      this.shuffleBytes,
      this.changeAsciiInteger,
      this.changeBinaryInteger,
      this.changeBinaryInteger,
      this.copyPart,
      this.crossOver,
      ...(this.dictionary.length > 0 ? [this.addWordFromDictionary, this.addWordFromDictionary] : []),
    ];
  }

  /** Mutates `data[0, size)` in place (capacity `maxLen`); returns the new size. */
  mutate(data: Uint8Array, size: number): number {
    const depth = 1 + this.random.below(5);
    let n = size;
    for (let i = 0; i < depth; i++) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const changed = this.mutations[this.random.below(this.mutations.length)]!(data, n);
        if (changed !== -1) {
          n = changed;
          break;
        }
      }
    }
    return n;
  }

  private readonly eraseBytes: Mutation = (data, size) => {
    if (size <= 1) return -1;
    const count = 1 + this.random.below(Math.min(size - 1, 1 + (this.random.chance(4) ? size >> 1 : 16)));
    const at = this.random.below(size - count + 1);
    data.copyWithin(at, at + count, size);
    return size - count;
  };

  private readonly insertByte: Mutation = (data, size) => {
    if (size >= this.maxLen) return -1;
    const at = this.random.below(size + 1);
    data.copyWithin(at + 1, at, size);
    data[at] = this.random.next() & 0xff;
    return size + 1;
  };

  private readonly insertRepeatedBytes: Mutation = (data, size) => {
    const room = this.maxLen - size;
    if (room < 3) return -1;
    const count = 3 + this.random.below(Math.min(room - 2, 128));
    const at = this.random.below(size + 1);
    data.copyWithin(at + count, at, size);
    data.fill(this.random.chance(2) ? this.random.next() & 0xff : this.random.chance(2) ? 0 : 0xff, at, at + count);
    return size + count;
  };

  private readonly changeByte: Mutation = (data, size) => {
    if (size === 0) return -1;
    data[this.random.below(size)] = this.random.next() & 0xff;
    return size;
  };

  private readonly changeBit: Mutation = (data, size) => {
    if (size === 0) return -1;
    const at = this.random.below(size);
    data[at] = data[at]! ^ (1 << this.random.below(8));
    return size;
  };

  private readonly shuffleBytes: Mutation = (data, size) => {
    if (size < 2) return -1;
    const count = 2 + this.random.below(Math.min(size - 1, 8));
    const at = this.random.below(size - count + 1);
    for (let i = count - 1; i > 0; i--) {
      const j = this.random.below(i + 1);
      const t = data[at + i]!;
      data[at + i] = data[at + j]!;
      data[at + j] = t;
    }
    return size;
  };

  /** Finds a run of ASCII digits and replaces its value (±1, ×2, /2, random, or an interesting one). */
  private readonly changeAsciiInteger: Mutation = (data, size) => {
    if (size === 0) return -1;
    let start = this.random.below(size);
    while (start < size && (data[start]! < 0x30 || data[start]! > 0x39)) start++;
    if (start === size) return -1;
    let end = start;
    while (end < size && end - start < 19 && data[end]! >= 0x30 && data[end]! <= 0x39) end++;
    const value = BigInt(new TextDecoder().decode(data.subarray(start, end)));
    const choices = [value + 1n, value - 1n, value * 2n, value / 2n, BigInt(this.random.next()), BigInt(INTERESTING[this.random.below(INTERESTING.length)]!)];
    const replaced = new TextEncoder().encode(choices[this.random.below(choices.length)]!.toString());
    return this.replaceRange(data, size, start, end, replaced);
  };

  /** Adds a small delta to, or stores an interesting value in, a 1/2/4/8-byte integer of either byte order. */
  private readonly changeBinaryInteger: Mutation = (data, size) => {
    const width = [1, 2, 4, 8][this.random.below(4)]!;
    if (size < width) return -1;
    const at = this.random.below(size - width + 1);
    const view = new DataView(data.buffer, data.byteOffset + at, width);
    const little = this.random.chance(2);
    if (width === 8) {
      const old = view.getBigUint64(0, little);
      const next = this.random.chance(2) ? old + BigInt(this.random.below(33)) - 16n : BigInt(INTERESTING[this.random.below(INTERESTING.length)]!);
      view.setBigUint64(0, BigInt.asUintN(64, next), little);
      return size;
    }
    const max = 2 ** (8 * width);
    const old = width === 1 ? view.getUint8(0) : width === 2 ? view.getUint16(0, little) : view.getUint32(0, little);
    const next = this.random.chance(2) ? old + this.random.below(33) - 16 : INTERESTING[this.random.below(INTERESTING.length)]!;
    const wrapped = ((next % max) + max) % max;
    if (width === 1) view.setUint8(0, wrapped);
    else if (width === 2) view.setUint16(0, wrapped, little);
    else view.setUint32(0, wrapped, little);
    return size;
  };

  /** Copies a part of the input over another place, or inserts it there. */
  private readonly copyPart: Mutation = (data, size) => {
    if (size < 2) return -1;
    const count = 1 + this.random.below(Math.min(size - 1, 256));
    const from = this.random.below(size - count + 1);
    const part = data.slice(from, from + count);
    if (this.random.chance(2)) {
      data.set(part, this.random.below(size - count + 1));
      return size;
    }
    return this.insertAt(data, size, this.random.below(size + 1), part);
  };

  /** Splices a part of another corpus entry in (libFuzzer's CrossOver, done as one splice). */
  private readonly crossOver: Mutation = (data, size) => {
    const other = this.crossWith;
    if (other.length === 0) return -1;
    const count = 1 + this.random.below(Math.min(other.length, 512));
    const from = this.random.below(other.length - count + 1);
    const part = other.subarray(from, from + count);
    if (this.random.chance(2) && size >= count) {
      data.set(part, this.random.below(size - count + 1));
      return size;
    }
    return this.insertAt(data, size, this.random.below(size + 1), part);
  };

  private readonly addWordFromDictionary: Mutation = (data, size) => {
    const word = this.dictionary[this.random.below(this.dictionary.length)]!;
    if (this.random.chance(2) && size >= word.length) {
      data.set(word, this.random.below(size - word.length + 1));
      return size;
    }
    return this.insertAt(data, size, this.random.below(size + 1), word);
  };

  private insertAt(data: Uint8Array, size: number, at: number, part: Uint8Array): number {
    if (size + part.length > this.maxLen) return -1;
    data.copyWithin(at + part.length, at, size);
    data.set(part, at);
    return size + part.length;
  }

  private replaceRange(data: Uint8Array, size: number, start: number, end: number, part: Uint8Array): number {
    const grown = size - (end - start) + part.length;
    if (grown > this.maxLen) return -1;
    data.copyWithin(start + part.length, end, size);
    data.set(part, start);
    return grown;
  }
}
