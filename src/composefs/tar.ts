/**
 * A streaming reader for tar layer streams (POSIX ustar + pax, GNU long names): the format of
 * OCI image layers. Headers are parsed from untrusted bytes with every field checked; member
 * data is streamed to the caller, never held whole. References: POSIX.1-2017 pax(1) "ustar
 * Interchange Format" and "pax Extended Header"; GNU tar manual "Basic Tar Format".
 */
import { ComposefsError } from './errors.ts';
import { type ByteString, byteStringFromBytes } from './tree.ts';

export const TarType = {
  regular: '0',
  hardlink: '1',
  symlink: '2',
  charDevice: '3',
  blockDevice: '4',
  directory: '5',
  fifo: '6',
  contiguous: '7',
} as const;
export type TarType = (typeof TarType)[keyof typeof TarType];

export interface TarEntry {
  /** As written in the archive (pax `path` or GNU long name when present), bytes as a ByteString. */
  readonly path: ByteString;
  readonly type: TarType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeSec: bigint;
  readonly mtimeNsec: number;
  readonly linkname: ByteString;
  readonly devMajor: number;
  readonly devMinor: number;
  /** From pax SCHILY.xattr.* records, in archive order. */
  readonly xattrs: { readonly name: ByteString; readonly value: Uint8Array }[];
  /** The member's data; consume it before asking for the next entry, or it is skipped. */
  readonly data: AsyncIterable<Uint8Array>;
}

const blockSize = 512;
/** pax and GNU long-name headers are metadata: anything larger is an attack, not a file name. */
export const maxTarMetaHeader = 1 << 20;
/** Member sizes must be exact integers in JS numbers. */
const maxMemberSize = Number.MAX_SAFE_INTEGER;

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new ComposefsError('ERR_COMPOSEFS_TAR_INVALID', message, details);
}

/** Pulls exact byte counts out of an async chunk stream. */
class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffer: Uint8Array = new Uint8Array(0);
  private offset = 0;
  /** Bytes consumed so far, for error messages. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.offset >= this.buffer.length) {
      const next = await this.iterator.next();
      if (next.done) return false;
      this.buffer = next.value;
      this.offset = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at the end of the stream. */
  async some(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.buffer.length - this.offset);
    const out = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return out;
  }

  /** Exactly n bytes; null when the stream ends before the first byte; an error if it ends inside. */
  async exact(n: number, what: string): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const chunk = await this.some(n - got);
      if (!chunk) {
        if (got === 0) return null;
        bad(`${what} truncated at byte ${this.position}: ${got} of ${n} bytes`);
      }
      out.set(chunk, got);
      got += chunk.length;
    }
    return out;
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.some(left);
      if (!chunk) bad(`${what} truncated at byte ${this.position}: ${left} bytes missing`);
      left -= chunk.length;
    }
  }
}

function cString(field: Uint8Array): Uint8Array {
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

/** Octal ASCII (space/NUL padded) or GNU base-256 (high bit of the first byte set). */
function parseNumber(field: Uint8Array, what: string): number {
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) bad(`${what}: negative base-256 number`);
    let v = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    if (v > BigInt(maxMemberSize)) bad(`${what}: ${v} is too large`);
    return Number(v);
  }
  const text = Buffer.from(cString(field)).toString('latin1').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) bad(`${what}: not an octal number: ${JSON.stringify(text)}`);
  const v = parseInt(text, 8);
  if (v > maxMemberSize) bad(`${what}: ${text} is too large`);
  return v;
}

function verifyChecksum(header: Uint8Array, position: number): void {
  const stored = parseNumber(header.subarray(148, 156), 'header checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < blockSize; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  // Some historic writers summed signed chars; both readings are accepted, as GNU tar does.
  if (stored !== unsigned && stored !== signed) bad(`header at byte ${position}: checksum ${stored} does not match ${unsigned}`, { position });
}

interface PaxRecords {
  path?: ByteString;
  linkpath?: ByteString;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: { sec: bigint; nsec: number };
  xattrs: { name: ByteString; value: Uint8Array }[];
}

function parsePaxTime(value: string): { sec: bigint; nsec: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) bad(`pax mtime ${JSON.stringify(value)} is not a decimal time`);
  const sec = BigInt(m[2]!) * (m[1] ? -1n : 1n);
  const nsec = Number((m[3] ?? '').padEnd(9, '0').slice(0, 9));
  return { sec, nsec };
}

function paxInteger(value: string, key: string): number {
  if (!/^\d+$/.test(value) || Number(value) > maxMemberSize) bad(`pax ${key}=${JSON.stringify(value)} is not a valid size or id`);
  return Number(value);
}

/** "LEN KEY=VALUE\n" records, LEN counting the whole record (pax "Extended Header"). */
function parsePax(data: Uint8Array, into: PaxRecords): void {
  let o = 0;
  while (o < data.length) {
    if (data[o] === 0) break;
    const sp = data.indexOf(0x20, o);
    if (sp < 0) bad('pax record without a length');
    const lenText = Buffer.from(data.subarray(o, sp)).toString('latin1');
    if (!/^\d+$/.test(lenText)) bad(`pax record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (len <= sp - o + 1 || o + len > data.length || data[o + len - 1] !== 0x0a) bad('pax record length does not match its content');
    const record = data.subarray(sp + 1, o + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) bad('pax record without =');
    const key = Buffer.from(record.subarray(0, eq)).toString('utf8');
    const raw = record.subarray(eq + 1);
    const value = Buffer.from(raw).toString('utf8');
    if (key === 'path') into.path = byteStringFromBytes(raw);
    else if (key === 'linkpath') into.linkpath = byteStringFromBytes(raw);
    else if (key === 'size') into.size = paxInteger(value, key);
    else if (key === 'uid') into.uid = paxInteger(value, key);
    else if (key === 'gid') into.gid = paxInteger(value, key);
    else if (key === 'mtime') into.mtime = parsePaxTime(value);
    else if (key.startsWith('SCHILY.xattr.')) into.xattrs.push({ name: byteStringFromBytes(record.subarray(13, eq)), value: raw.slice() });
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      // libarchive URL-encodes the name and base64-encodes the value.
      into.xattrs.push({
        name: byteStringFromBytes(Buffer.from(decodeURIComponent(key.slice(17)), 'utf8')),
        value: new Uint8Array(Buffer.from(value, 'base64')),
      });
    }
    // Other keys (atime, ctime, uname, gname, comment, charset…) do not reach a composefs inode.
    o += len;
  }
}

/**
 * Reads a tar stream entry by entry. pax `x` headers apply to the next entry, `g` headers to
 * all later ones; GNU `L`/`K` give long names. Throws ERR_COMPOSEFS_TAR_INVALID on a bad
 * checksum, a truncated member, an oversized metadata header or an unknown entry type.
 */
export async function* readTar(stream: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const source = new ByteSource(stream);
  const global: PaxRecords = { xattrs: [] };
  let local: PaxRecords = { xattrs: [] };
  let longName: ByteString | undefined;
  let longLink: ByteString | undefined;
  for (;;) {
    const position = source.position;
    const header = await source.exact(blockSize, 'tar header');
    if (!header) return; // the end-of-archive blocks are optional in practice (truncated by some writers)
    if (header.every((b) => b === 0)) {
      // Read to the end (record padding): a stream that checks its own digest only can at its end.
      while (await source.some(1 << 20));
      return;
    }
    verifyChecksum(header, position);
    const typeflag = header[156] === 0 ? TarType.regular : String.fromCharCode(header[156]!);
    const headerSize = parseNumber(header.subarray(124, 136), 'size');
    const padded = Math.ceil(headerSize / blockSize) * blockSize;

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (headerSize > maxTarMetaHeader) bad(`${typeflag} header of ${headerSize} bytes exceeds ${maxTarMetaHeader}`, { position });
      const data = (await source.exact(padded, `${typeflag} header data`)) ?? bad('missing header data');
      const body = data.subarray(0, headerSize);
      if (typeflag === 'x') parsePax(body, local);
      else if (typeflag === 'g') parsePax(body, global);
      else if (typeflag === 'L') longName = byteStringFromBytes(cString(body));
      else longLink = byteStringFromBytes(cString(body));
      continue;
    }
    if (!(Object.values(TarType) as string[]).includes(typeflag))
      bad(`unsupported tar entry type ${JSON.stringify(typeflag)} at byte ${position}`, { position });

    const isUstar = Buffer.from(header.subarray(257, 263)).toString('latin1') === 'ustar\0';
    const prefix = isUstar ? cString(header.subarray(345, 500)) : new Uint8Array(0);
    const name = cString(header.subarray(0, 100));
    const headerPath = byteStringFromBytes(prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name);
    const merged = { ...global, ...local, xattrs: [...global.xattrs, ...local.xattrs] };
    const size = merged.size ?? headerSize;
    const mtime = merged.mtime ?? { sec: BigInt(parseNumber(header.subarray(136, 148), 'mtime')), nsec: 0 };
    const type = typeflag as TarType;
    const hasData = type === TarType.regular || type === TarType.contiguous;
    const entry: TarEntry = {
      path: local.path ?? longName ?? global.path ?? headerPath,
      type,
      mode: parseNumber(header.subarray(100, 108), 'mode') & 0o7777,
      uid: merged.uid ?? parseNumber(header.subarray(108, 116), 'uid'),
      gid: merged.gid ?? parseNumber(header.subarray(116, 124), 'gid'),
      size: hasData ? size : 0,
      mtimeSec: mtime.sec,
      mtimeNsec: mtime.nsec,
      linkname: local.linkpath ?? longLink ?? global.linkpath ?? byteStringFromBytes(cString(header.subarray(157, 257))),
      devMajor: isUstar || header[257] !== 0 ? parseNumber(header.subarray(329, 337), 'devmajor') : 0,
      devMinor: isUstar || header[257] !== 0 ? parseNumber(header.subarray(337, 345), 'devminor') : 0,
      xattrs: merged.xattrs,
      data: (async function* () {})(),
    };
    local = { xattrs: [] };
    longName = undefined;
    longLink = undefined;

    // Data follows the header for every type whose size field is non-zero (hardlinks may carry none).
    let left = size;
    const dataStream = async function* (): AsyncGenerator<Uint8Array> {
      while (left > 0) {
        const chunk = await source.some(left);
        if (!chunk) bad(`member ${JSON.stringify(entry.path)} truncated: ${left} bytes missing`);
        left -= chunk.length;
        yield chunk;
      }
    };
    yield { ...entry, data: hasData ? dataStream() : (async function* () {})() };
    await source.skip(left, `member ${JSON.stringify(entry.path)}`);
    await source.skip(Math.ceil(size / blockSize) * blockSize - size, 'member padding');
  }
}
