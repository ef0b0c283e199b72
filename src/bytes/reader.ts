import { BytesError } from './errors.ts';

/**
 * A bounds-checked big/little-endian cursor over untrusted bytes. Every read checks the bytes
 * left before touching memory, and length-prefixed reads check a named maximum before any
 * allocation, so a hostile length field can neither crash nor balloon memory.
 *
 * `where` labels the structure in error messages ("TPMS_ATTEST.extraData", "event #12").
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset: number;
  private readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, where: string): void {
    if (n > this.remaining) {
      throw new BytesError('ERR_BYTES_TRUNCATED', `${where}: needs ${n} bytes at offset ${this.offset}, only ${this.remaining} left`, {
        where,
        offset: this.offset,
        needed: n,
        remaining: this.remaining,
      });
    }
  }

  u8(where = 'u8'): number {
    this.need(1, where);
    return this.view.getUint8(this.offset++);
  }
  u16(where = 'u16'): number {
    this.need(2, where);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }
  u32(where = 'u32'): number {
    this.need(4, where);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  u64(where = 'u64'): bigint {
    this.need(8, where);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }
  u16le(where = 'u16'): number {
    this.need(2, where);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32le(where = 'u32'): number {
    this.need(4, where);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64le(where = 'u64'): bigint {
    this.need(8, where);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }

  /** A view (no copy) of the next n bytes. */
  bytesView(n: number, where = 'bytes'): Uint8Array {
    this.need(n, where);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A copy of the next n bytes, n checked against max first. */
  take(n: number, max: number, where = 'bytes'): Uint8Array {
    if (n > max) {
      throw new BytesError('ERR_BYTES_TOO_LARGE', `${where}: length ${n} exceeds maximum ${max}`, { where, offset: this.offset, length: n, max });
    }
    return this.bytesView(n, where).slice();
  }

  /** A sub-reader over the next n bytes; the parent skips them. */
  sub(n: number, where = 'sub'): ByteReader {
    this.need(n, where);
    const r = new ByteReader(this.bytes, this.offset, this.offset + n);
    this.offset += n;
    return r;
  }

  skip(n: number, where = 'skip'): void {
    this.need(n, where);
    this.offset += n;
  }

  /** Throws ERR_BYTES_TRAILING unless every byte was consumed. */
  expectEnd(where = 'structure'): void {
    if (this.remaining !== 0) {
      throw new BytesError('ERR_BYTES_TRAILING', `${where}: ${this.remaining} unexpected trailing bytes at offset ${this.offset}`, {
        where,
        offset: this.offset,
        trailing: this.remaining,
      });
    }
  }
}
