/**
 * The composefs dump format (composefs-dump(5)): one file per line, 11 space-separated fields
 * (PATH SIZE MODE NLINK UID GID RDEV MTIME PAYLOAD CONTENT DIGEST) then KEY=VALUE xattrs.
 * Parsing follows mkcomposefs' `--from-file` reader (tools/mkcomposefs.c), printing follows
 * `composefs-info dump` (tools/composefs-info.c) byte for byte, so print(parse(x)) = x for any
 * dump those tools wrote.
 */
import { ComposefsError } from './errors.ts';
import {
  type ByteString,
  type CfsInode,
  type CfsNode,
  ComposefsLimits,
  FileType,
  addChild,
  addHardlink,
  createInode,
  createRoot,
  fileTypeOf,
  lookupPath,
  nodePath,
  setXattr,
  validateInode,
  walkTree,
  byteStringFromBytes,
} from './tree.ts';
import { isVouchError } from '../errors/index.ts';

export interface ParseDumpOptions {
  /**
   * mkcomposefs' CFS_PARSE_STRICT: also require a trailing newline, rdev 0 on non-devices, and
   * symlink SIZE equal to the target length with no CONTENT. Off by default, like mkcomposefs.
   */
  readonly strict?: boolean;
}

/** mkcomposefs caps the xattr part of a line: each xattr is checked against all previous ones. */
const maxXattrFieldBytes = 0xffff;
const fixedFieldNames = ['PATH', 'SIZE', 'MODE', 'NLINK', 'UID', 'GID', 'RDEV', 'MTIME', 'PAYLOAD', 'CONTENT', 'DIGEST'] as const;
const u32Max = 0xffffffffn;
const u64Max = 0xffffffffffffffffn;
const timeMax = 2n ** 63n - 1n;
const timeMin = -(2n ** 63n);

class LineError extends Error {}

function fail(reason: string): never {
  throw new LineError(reason);
}

/** Undoes the dump escapes: \\ \n \r \t and \xHH; any other escape is an error. */
export function unescapeDumpField(field: ByteString): Uint8Array {
  if (!field.includes('\\')) return new Uint8Array(Buffer.from(field, 'latin1'));
  const out = new Uint8Array(field.length);
  let n = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c !== 0x5c) {
      out[n++] = c;
      continue;
    }
    if (++i >= field.length) fail('no character after escape \\');
    const e = field[i];
    if (e === '\\') out[n++] = 0x5c;
    else if (e === 'n') out[n++] = 0x0a;
    else if (e === 'r') out[n++] = 0x0d;
    else if (e === 't') out[n++] = 0x09;
    else if (e === 'x') {
      const hex = field.slice(i + 1, i + 3);
      if (hex.length < 2) fail('no hex characters after hex escape \\x');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail(`invalid hex characters after hex escape: \\x${hex}`);
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else fail(`unsupported escape \\${e}`);
  }
  return out.subarray(0, n);
}

function unescapeText(field: ByteString): ByteString {
  // Most fields have no escape: a ByteString is already the bytes.
  return field.includes('\\') ? byteStringFromBytes(unescapeDumpField(field)) : field;
}

/** '-' means absent; a literal '-' is written \x2d. */
function optional(field: ByteString): ByteString | null {
  return field === '-' ? null : field;
}

function parseUnsigned(field: ByteString, name: string, max: bigint, octal = false): bigint {
  const small = parseSmallUnsigned(field, max, octal);
  return small === undefined ? parseBigUnsigned(field, name, max, octal) : BigInt(small);
}

/**
 * The common case without BigInt: up to 15 digits (exact in a double) within `max`; anything
 * else is left to parseBigUnsigned, which also words the errors.
 */
function parseSmallUnsigned(field: ByteString, max: bigint, octal: boolean): number | undefined {
  const n = field.length;
  if (n === 0 || n > 15) return undefined;
  const base = octal ? 8 : 10;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = field.charCodeAt(i) - 0x30;
    if (d < 0 || d >= base) return undefined;
    v = v * base + d;
  }
  return v <= Number(max) ? v : undefined;
}

function parseBigUnsigned(field: ByteString, name: string, max: bigint, octal: boolean): bigint {
  if (!(octal ? /^[0-7]+$/ : /^[0-9]+$/).test(field)) fail(`${name}: invalid ${octal ? 'octal ' : ''}integer ${JSON.stringify(field)}`);
  const v = BigInt(octal ? `0o${field}` : field);
  if (v > max) fail(`${name}: ${field} exceeds the maximum ${octal ? max.toString(8) : max}`);
  return v;
}

/** A u32 field (MODE, NLINK, UID, GID, RDEV, nanoseconds) as a number. */
function parseU32(field: ByteString, name: string, octal = false): number {
  return parseSmallUnsigned(field, u32Max, octal) ?? Number(parseBigUnsigned(field, name, u32Max, octal));
}

/**
 * SECONDS.NANOSECONDS, seconds a signed 64-bit time_t. mkcomposefs reads the seconds with
 * strtoull and stores them into time_t, so 2^63 and up silently become negative times; refused here.
 */
function parseMtime(field: ByteString): { sec: bigint; nsec: number } {
  const dot = field.indexOf('.');
  if (dot < 0) fail(`MTIME: ${JSON.stringify(field)} is not SECONDS.NANOSECONDS`);
  const secText = field.slice(0, dot);
  const negative = secText.startsWith('-');
  const magnitude = parseUnsigned(negative ? secText.slice(1) : secText, 'MTIME seconds', u64Max);
  const sec = negative ? -magnitude : magnitude;
  if (sec < timeMin || sec > timeMax) fail(`MTIME seconds: ${secText} is outside ${timeMin}..${timeMax} (a signed 64-bit time)`);
  const nsec = parseU32(field.slice(dot + 1), 'MTIME nanoseconds');
  return { sec, nsec };
}

function parseDigest(field: ByteString): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(field)) fail(`DIGEST: expected 64 hex digits (SHA-256 fs-verity), got ${JSON.stringify(field.slice(0, 80))}`);
  return new Uint8Array(Buffer.from(field, 'hex'));
}

/** Splits like mkcomposefs' split_at: a missing separator leaves the rest as the last part. */
function splitFields(line: ByteString): { fields: ByteString[]; rest: ByteString } {
  const fields: ByteString[] = [];
  let rest = line;
  for (let i = 0; i < fixedFieldNames.length; i++) {
    const sp = rest.indexOf(' ');
    if (sp < 0) {
      fields.push(rest);
      rest = '';
    } else {
      fields.push(rest.slice(0, sp));
      rest = rest.slice(sp + 1);
    }
  }
  return { fields, rest };
}

interface HardlinkFixup {
  readonly node: CfsNode;
  readonly targetPath: ByteString | null;
  readonly line: number;
}

interface ParseState {
  root: CfsNode | null;
  /** Every directory placed so far by its path: a line's parent is one lookup away. */
  readonly dirs: Map<ByteString, CfsNode>;
  readonly fixups: HardlinkFixup[];
  readonly strict: boolean;
}

/** Places a new node at an absolute path whose parent must already exist. */
function attach(state: ParseState, path: ByteString, inode: CfsInode, hardlink: boolean): CfsNode {
  if (path === '/') {
    if (state.root) fail('there can be only one root');
    if (fileTypeOf(inode.mode) !== FileType.directory) fail('the root must be a directory');
    if (hardlink) fail('directories cannot be hardlinked');
    state.root = createRoot(inode);
    state.dirs.set('/', state.root);
    return state.root;
  }
  if (!state.root) fail('the root "/" must be the first entry');
  const slash = path.lastIndexOf('/');
  const known = state.dirs.get(slash === 0 ? '/' : path.slice(0, slash));
  const base = path.slice(slash + 1);
  if (known && base !== '' && base !== '.' && base !== '..' && !known.children!.has(base)) return placed(state, path, addChild(known, base, inode));
  // Anything else takes the component walk below, which names what is wrong.
  // Paths are absolute with single separators; the composefs-dump(5) PATH is "the full, absolute path".
  if (!path.startsWith('/')) fail(`path ${JSON.stringify(path)} is not absolute`);
  const parts = path.slice(1).split('/');
  const name = parts.pop()!;
  let parent = state.root;
  for (const part of parts) {
    if (part === '') fail(`empty component in path ${JSON.stringify(path)}`);
    const next = parent.children?.get(part);
    if (!next) fail(`parent directory missing for ${JSON.stringify(path)}`);
    parent = next;
  }
  if (parent.children === null) fail(`parent of ${JSON.stringify(path)} is not a directory`);
  if (name === '.' || name === '..') fail(`invalid . or .. in path ${JSON.stringify(path)}`);
  if (name === '') fail(`empty file name in path ${JSON.stringify(path)}`);
  if (parent.children.has(name)) fail(`path ${JSON.stringify(path)} already exists`);
  return placed(state, path, addChild(parent, name, inode));
}

function placed(state: ParseState, path: ByteString, node: CfsNode): CfsNode {
  if (node.children !== null) state.dirs.set(path, node);
  return node;
}

function parseLine(state: ParseState, line: ByteString, lineNumber: number): void {
  // An embedded NUL makes the line ambiguous to every C consumer (mkcomposefs rejects it too).
  const nul = line.indexOf('\0');
  if (nul >= 0) fail(`embedded NUL character at position ${nul}`);
  const { fields, rest } = splitFields(line);
  const [pathF, sizeF, modeF, nlinkF, uidF, gidF, rdevF, mtimeF, payloadF, contentF, digestF] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const path = unescapeText(pathF);
  if (path === '') fail('empty PATH');
  if (path.includes('\0')) fail('PATH contains NUL');

  const isHardlink = modeF.startsWith('@');
  const mode = parseU32(isHardlink ? modeF.slice(1) : modeF, 'MODE', true);
  const type = fileTypeOf(mode);

  if (isHardlink) {
    // Only PAYLOAD (the target path) counts; the other fields repeat the target's for readers.
    if (type === FileType.directory) fail('directories cannot be hardlinked');
    const node = attach(state, path, createInode({ mode }), true);
    const target = optional(payloadF);
    state.fixups.push({ node, targetPath: target === null ? null : unescapeText(target), line: lineNumber });
    return;
  }

  const size = parseUnsigned(sizeF, 'SIZE', u64Max);
  const nlink = parseU32(nlinkF, 'NLINK');
  const uid = parseU32(uidF, 'UID');
  const gid = parseU32(gidF, 'GID');
  const rdev = parseU32(rdevF, 'RDEV');
  const mtime = parseMtime(mtimeF);
  const payloadField = optional(payloadF);
  const payload = payloadField === null ? null : unescapeText(payloadField);
  const contentField = optional(contentF);
  const content = contentField === null ? null : unescapeDumpField(contentField);
  if (content !== null && BigInt(content.length) !== size) fail(`CONTENT has ${content.length} bytes, SIZE says ${size}`);
  // A line cut short leaves DIGEST empty. mkcomposefs then pins whatever its digest buffer held
  // (digest_to_raw writes nothing into it), which matters only where a digest is used: for an
  // external file that is refused; elsewhere, as there, it is no digest.
  const external = fileTypeOf(mode) === FileType.regular && size > 0n && content === null;
  if (digestF === '' && external) fail('DIGEST is empty for an external file (use - for none, or the 64-hex-digit fs-verity digest)');
  const digestField = digestF === '' ? null : optional(digestF);
  const fsverityDigest = digestField === null ? null : parseDigest(unescapeText(digestField));

  const isDevice = type === FileType.charDevice || type === FileType.blockDevice;
  if (state.strict && !isDevice && rdev !== 0) fail('non-zero RDEV on a non-device');
  if (payload !== null && payload.length > ComposefsLimits.maxPayloadLength) {
    fail(`PAYLOAD of ${payload.length} bytes exceeds ${ComposefsLimits.maxPayloadLength} (PATH_MAX)`);
  }
  let inodeSize = size;
  if (type === FileType.symlink) {
    if (payload === null || payload === '') fail('symlink without a target (empty PAYLOAD)');
    if (state.strict && BigInt(payload.length) !== size) fail(`symlink target has ${payload.length} bytes, SIZE says ${size}`);
    if (state.strict && content !== null && content.length > 0) fail('symlink cannot have CONTENT');
    // As libcomposefs: a symlink's size is its target's length, whatever SIZE said.
    inodeSize = BigInt(payload.length);
  } else if (content !== null && content.length > ComposefsLimits.maxInlineContent) {
    fail(`inline CONTENT of ${content.length} bytes exceeds the maximum ${ComposefsLimits.maxInlineContent}`);
  }

  const inode = createInode({
    mode,
    nlink,
    uid,
    gid,
    // As libcomposefs: only devices keep RDEV.
    rdev: isDevice ? rdev : 0,
    size: inodeSize,
    mtimeSec: mtime.sec,
    mtimeNsec: mtime.nsec,
    payload,
    content: type === FileType.symlink || content === null || content.length === 0 ? null : content,
    fsverityDigest,
  });

  if (rest.length > maxXattrFieldBytes) fail(`xattrs take ${rest.length} bytes, more than ${maxXattrFieldBytes}`);
  let xattrs = rest;
  while (xattrs.length > 0) {
    const sp = xattrs.indexOf(' ');
    const item = sp < 0 ? xattrs : xattrs.slice(0, sp);
    xattrs = sp < 0 ? '' : xattrs.slice(sp + 1);
    const eq = item.indexOf('=');
    if (eq < 0) fail(`xattr ${JSON.stringify(item.slice(0, 80))} has no '='`);
    const name = unescapeText(item.slice(0, eq));
    if (name === '') fail('empty xattr name');
    setXattr(inode, name, unescapeDumpField(item.slice(eq + 1)));
  }
  validateInode(inode, path);
  attach(state, path, inode, false);
}

/** Resolves hardlinks once every line is in, as mkcomposefs does (a link may precede its target). */
function resolveHardlinks(state: ParseState): void {
  const root = state.root!;
  const pending = new Map<CfsNode, HardlinkFixup>(state.fixups.map((f) => [f.node, f]));
  const resolved = new Map<CfsNode, CfsNode>();
  const resolve = (fixup: HardlinkFixup, chain: Set<CfsNode>): CfsNode => {
    const done = resolved.get(fixup.node);
    if (done) return done;
    const where = (reason: string): never => {
      throw new ComposefsError('ERR_COMPOSEFS_DUMP_PARSE', `line ${fixup.line}: ${reason}`, { line: fixup.line, reason });
    };
    if (fixup.targetPath === null) where(`hardlink ${nodePath(fixup.node)} has no target path`);
    const target = lookupPath(root, fixup.targetPath!);
    if (!target) where(`no target at ${JSON.stringify(fixup.targetPath)} for hardlink ${nodePath(fixup.node)}`);
    if (target === fixup.node) where(`self-referential hardlink ${JSON.stringify(fixup.targetPath)}`);
    if (chain.has(target!)) where(`hardlink cycle through ${JSON.stringify(fixup.targetPath)}`);
    const next = pending.get(target!);
    const real = next ? resolve(next, new Set([...chain, fixup.node])) : target!;
    if (real.children !== null) where(`hardlink ${nodePath(fixup.node)} points at directory ${JSON.stringify(fixup.targetPath)}`);
    resolved.set(fixup.node, real);
    return real;
  };
  // Placeholders are replaced only after every target is known: a replaced node is a new object.
  const targets = state.fixups.map((f) => [f, resolve(f, new Set())] as const);
  for (const [fixup, real] of targets) {
    const parent = fixup.node.parent!;
    parent.children!.delete(fixup.node.name);
    addHardlink(parent, fixup.node.name, real);
  }
}

/**
 * Parses a dump into a tree. Throws ERR_COMPOSEFS_DUMP_PARSE naming the 1-based line and the
 * reason. A string is taken as UTF-8 text; bytes are taken as they are.
 */
export function parseDump(input: string | Uint8Array, options: ParseDumpOptions = {}): CfsNode {
  const bytes = typeof input === 'string' ? new Uint8Array(Buffer.from(input, 'utf8')) : input;
  const text = byteStringFromBytes(bytes);
  const state: ParseState = { root: null, dirs: new Map(), fixups: [], strict: options.strict ?? false };
  const lines = text.split('\n');
  const last = lines.pop()!;
  if (last !== '') {
    if (state.strict) {
      throw new ComposefsError('ERR_COMPOSEFS_DUMP_PARSE', `line ${lines.length + 1}: missing trailing newline`, {
        line: lines.length + 1,
        reason: 'missing trailing newline',
      });
    }
    lines.push(last);
  }
  for (let i = 0; i < lines.length; i++) {
    try {
      parseLine(state, lines[i]!, i + 1);
    } catch (e) {
      if (e instanceof LineError || (isVouchError(e) && e.code === 'ERR_COMPOSEFS_TREE_INVALID')) {
        const reason = e.message;
        throw new ComposefsError('ERR_COMPOSEFS_DUMP_PARSE', `line ${i + 1}: ${reason}`, { line: i + 1, reason }, { cause: e });
      }
      throw e;
    }
  }
  if (!state.root) throw new ComposefsError('ERR_COMPOSEFS_DUMP_PARSE', 'line 1: empty dump: no root "/" entry', { line: 1, reason: 'no root' });
  resolveHardlinks(state);
  return state.root;
}

const Escape = { standard: 0, noEscapeSpace: 1, equal: 2, loneDash: 4 } as const;

/** composefs-info's print_escaped: C-locale isgraph/isprint decide what stays literal. */
function escape(bytes: ByteString | Uint8Array, flags: number): string {
  const len = bytes.length;
  const at = typeof bytes === 'string' ? (i: number) => bytes.charCodeAt(i) : (i: number) => bytes[i]!;
  if (flags & Escape.loneDash && len === 1 && at(0) === 0x2d) return '\\x2d';
  let out = '';
  for (let i = 0; i < len; i++) {
    const c = at(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x3d ? flags & Escape.equal : flags & Escape.noEscapeSpace ? c < 0x20 || c > 0x7e : c < 0x21 || c > 0x7e) {
      out += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
    } else out += String.fromCharCode(c);
  }
  return out;
}

/** A path or name escaped as in a dump's PATH field: printable ASCII stays, everything else is escaped. */
export function escapeDumpPath(path: ByteString): string {
  return escape(path, Escape.standard);
}

/** One dump line (with its newline) for a node. */
export function printDumpLine(node: CfsNode): string {
  const i = node.inode;
  const link = node.hardlinkTarget;
  const payload = link ? nodePath(link) : i.payload;
  let line =
    `${escape(nodePath(node), Escape.standard)} ${i.size} ${link ? '@' : ''}${i.mode.toString(8)} ${i.nlink} ${i.uid} ${i.gid} ${i.rdev} ` +
    `${i.mtimeSec}.${i.mtimeNsec} ${payload === null ? '-' : escape(payload, Escape.loneDash)} ` +
    `${i.content === null ? '-' : escape(i.content, Escape.loneDash)} ` +
    (i.fsverityDigest ? Buffer.from(i.fsverityDigest).toString('hex') : '-');
  for (const x of i.xattrs) line += ` ${escape(x.name, Escape.equal)}=${escape(x.value, Escape.equal)}`;
  return line + '\n';
}

/** Prints a tree as `composefs-info dump` does: parents first, siblings in byte order. */
export function printDump(root: CfsNode): string {
  const lines: string[] = [];
  for (const node of walkTree(root)) lines.push(printDumpLine(node));
  return lines.join('');
}
