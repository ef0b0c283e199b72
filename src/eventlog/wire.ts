// Small readers shared by the event-log structures: GUIDs, UCS-2 strings, and the translation of
// low-level reader errors into event-log errors that say which event they came from.
import { BytesError, type ByteReader, toHex } from '../bytes/index.ts';
import { EventLogError, type EventLogErrorCode } from './errors.ts';

/**
 * EFI_GUID as UEFI stores it (UEFI 2.10 Appendix A): Data1 u32, Data2 u16, Data3 u16 little-endian,
 * then Data4's 8 bytes as they are; rendered lower-case 8-4-4-4-12.
 */
export function readGuid(reader: ByteReader, where: string): string {
  const b = reader.bytesView(16, where);
  const h = toHex(b);
  const swap = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  return `${swap(h.slice(0, 8))}-${swap(h.slice(8, 12))}-${swap(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The 16 wire bytes of a GUID in text form (inverse of readGuid). */
export function guidBytes(text: string): Uint8Array {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(text);
  if (!m) throw new EventLogError('ERR_EVENTLOG_MALFORMED', `not a GUID: ${JSON.stringify(text.slice(0, 40))}`);
  const bytes = (h: string): number[] => (h.match(/../g) ?? []).map((x) => parseInt(x, 16));
  return new Uint8Array([...bytes(m[1]!).reverse(), ...bytes(m[2]!).reverse(), ...bytes(m[3]!).reverse(), ...bytes(m[4]!), ...bytes(m[5]!)]);
}

/** UTF-16LE text of `bytes`, cut at the first NUL (firmware strings are NUL-terminated, some padded). */
export function utf16leText(bytes: Uint8Array): string {
  let end = 0;
  while (end + 1 < bytes.length && (bytes[end] !== 0 || bytes[end + 1] !== 0)) end += 2;
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf16le');
}

export function utf16leBytes(text: string, withNul: boolean): Uint8Array {
  return new Uint8Array(Buffer.from(withNul ? text + '\0' : text, 'utf16le'));
}

/** Latin-1 text of an ASCII event string, without trailing NULs. */
export function asciiText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
}

/** True when every byte is printable ASCII (or tab/newline), allowing trailing NULs. */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if ((c < 0x20 || c > 0x7e) && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

/** True when `bytes` is UTF-16LE text of printable ASCII characters, NUL-terminated or not. */
export function isPrintableUtf16(bytes: Uint8Array): boolean {
  // An odd length is accepted only with a lone trailing zero byte: systemd-boot < 251 logs its
  // command line with a size of 2·length+1, cutting the UCS-2 NUL in half.
  if (bytes.length % 2 !== 0) {
    if (bytes[bytes.length - 1] !== 0) return false;
    bytes = bytes.subarray(0, bytes.length - 1);
  }
  if (bytes.length < 2) return false;
  let chars = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const lo = bytes[i]!;
    const hi = bytes[i + 1]!;
    if (lo === 0 && hi === 0) return chars > 0 && bytes.subarray(i).every((b) => b === 0);
    if (hi !== 0 || lo < 0x20 || lo > 0x7e) return false;
    chars++;
  }
  return chars > 0;
}

/**
 * Runs a parse step and turns the byte reader's generic errors (truncated, too large, trailing)
 * into event-log errors carrying `where` (e.g. "event #12 (EV_EFI_VARIABLE_BOOT)"), so a caller
 * switching on codes sees ERR_EVENTLOG_* and the message says which event was bad.
 */
export function inContext<T>(where: string, details: Record<string, unknown>, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw inContextError(e, where, details);
  }
}

/** The error inContext throws for `e`: for loops that build `where` only when something failed. */
export function inContextError(e: unknown, where: string, details: Record<string, unknown>): unknown {
  if (e instanceof BytesError) {
    const code =
      e.code === 'ERR_BYTES_TRUNCATED' ? 'ERR_EVENTLOG_TRUNCATED' : e.code === 'ERR_BYTES_TOO_LARGE' ? 'ERR_EVENTLOG_TOO_LARGE' : 'ERR_EVENTLOG_MALFORMED';
    return new EventLogError(code, `${where}: ${e.message}`, { ...details, ...e.details });
  }
  if (e instanceof EventLogError && !e.message.startsWith(where)) {
    return new EventLogError(e.code as keyof typeof EventLogErrorCode, `${where}: ${e.message}`, { ...details, ...e.details });
  }
  return e;
}
