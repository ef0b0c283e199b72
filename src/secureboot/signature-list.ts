// EFI signature databases (UEFI 2.10 §32.4.1 "Signature Database"): PK, KEK, db, dbx, MokList are
// each a concatenation of EFI_SIGNATURE_LISTs. Read from efivarfs (4-byte attribute prefix), from
// `.esl` files, or from `.auth` files (EFI_VARIABLE_AUTHENTICATION_2 header, §8.2.2).
import { ByteReader, ByteWriter } from '../bytes/index.ts';
import { SecureBootError } from './errors.ts';
import { EfiGuid, guidFromString, guidToString } from './guid.ts';

/** Largest signature database accepted (real dbx updates are well under 64 KiB). */
export const MAX_SIGNATURE_DATABASE_SIZE = 16 * 1024 * 1024;

/** EFI_SIGNATURE_LIST.SignatureType GUIDs, by the names Vouch uses in JSON. */
export const SignatureType = {
  x509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  sha1: '826ca512-cf10-4ac9-b187-be01496631bd',
  sha224: '0b6e5233-a65c-44c9-9407-d9ab83bfc8bd',
  sha256: 'c1c41626-504c-4092-aca9-41f936934328',
  sha384: 'ff3e5307-9fd0-48c9-85f1-8ad56c701e01',
  sha512: '093e0fae-a6c4-4f50-9f1b-d41e2b89c19a',
  rsa2048: '3c5766e8-269c-4e34-aa14-ed776e85b3b6',
  rsa2048Sha256: 'e2b36190-879b-4a3d-ad8d-f2e7bba32784',
  rsa2048Sha1: '67f8444f-8743-48f1-a328-1eaab8736080',
  x509Sha256: '3bd2a492-96c0-4079-b420-fcf98ef103ed',
  x509Sha384: '7076876e-80c2-4ee6-aad2-28b349a6865b',
  x509Sha512: '446dbf63-2502-4cda-bcfa-2465d2b0fe9d',
} as const;
export type SignatureTypeName = keyof typeof SignatureType;

/** SignatureData size (after the 16-byte owner) fixed by the spec for each type; x509 varies. */
const FIXED_SIGNATURE_DATA_SIZE: Readonly<Record<SignatureTypeName, number | undefined>> = {
  x509: undefined,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  rsa2048: 256,
  rsa2048Sha256: 256,
  rsa2048Sha1: 256,
  x509Sha256: 32 + 16,
  x509Sha384: 48 + 16,
  x509Sha512: 64 + 16,
};

const typeNameByGuid = new Map<string, SignatureTypeName>(Object.entries(SignatureType).map(([k, v]) => [v, k as SignatureTypeName]));

export function signatureTypeName(guid: string): SignatureTypeName | undefined {
  return typeNameByGuid.get(guid);
}

export interface EfiSignatureData {
  /** SignatureOwner GUID (text form). */
  readonly owner: string;
  readonly data: Uint8Array;
}

export interface EfiSignatureList {
  /** SignatureType GUID (text form). */
  readonly typeGuid: string;
  /** The standard name, or 'unknown' for a GUID outside §32.4.1 (kept, never dropped). */
  readonly type: SignatureTypeName | 'unknown';
  readonly header: Uint8Array;
  readonly signatureSize: number;
  readonly signatures: readonly EfiSignatureData[];
}

const LIST_HEADER_SIZE = 28;
const OWNER_SIZE = 16;

function eslError(message: string, offset: number, details: Record<string, unknown> = {}): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_ESL_MALFORMED', `EFI_SIGNATURE_LIST at offset ${offset}: ${message}`, { offset, ...details });
}

/**
 * Parses a signature database: zero or more EFI_SIGNATURE_LISTs filling `bytes` exactly (an empty
 * variable is an empty database). Sizes are checked so that a list never reads past its
 * SignatureListSize and signatures tile the list with no remainder.
 */
export function parseSignatureDatabase(bytes: Uint8Array): EfiSignatureList[] {
  if (bytes.length > MAX_SIGNATURE_DATABASE_SIZE) {
    throw eslError(`database of ${bytes.length} bytes exceeds maximum ${MAX_SIGNATURE_DATABASE_SIZE}`, 0);
  }
  const r = new ByteReader(bytes);
  const lists: EfiSignatureList[] = [];
  while (r.remaining > 0) {
    const start = r.offset;
    if (r.remaining < LIST_HEADER_SIZE) throw eslError(`only ${r.remaining} bytes left, a list header needs ${LIST_HEADER_SIZE}`, start);
    const typeGuid = guidToString(r.bytesView(16, 'SignatureType'));
    const listSize = r.u32le('SignatureListSize');
    const headerSize = r.u32le('SignatureHeaderSize');
    const signatureSize = r.u32le('SignatureSize');
    if (listSize < LIST_HEADER_SIZE || listSize - LIST_HEADER_SIZE > r.remaining) {
      throw eslError(`SignatureListSize ${listSize} does not fit the ${r.remaining + LIST_HEADER_SIZE} bytes left`, start, { listSize });
    }
    const body = listSize - LIST_HEADER_SIZE;
    if (headerSize > body) throw eslError(`SignatureHeaderSize ${headerSize} exceeds the list body of ${body} bytes`, start);
    const type = signatureTypeName(typeGuid) ?? 'unknown';
    if (signatureSize < OWNER_SIZE) throw eslError(`SignatureSize ${signatureSize} is smaller than the 16-byte owner GUID`, start, { signatureSize });
    if ((body - headerSize) % signatureSize !== 0) {
      throw eslError(`${body - headerSize} bytes of signatures are not a multiple of SignatureSize ${signatureSize}`, start, { signatureSize });
    }
    if (type !== 'unknown') {
      const fixed = FIXED_SIGNATURE_DATA_SIZE[type];
      if (headerSize !== 0) throw eslError(`SignatureHeaderSize must be 0 for ${type}, got ${headerSize}`, start);
      if (fixed !== undefined && signatureSize !== OWNER_SIZE + fixed) {
        throw eslError(`SignatureSize for ${type} must be ${OWNER_SIZE + fixed}, got ${signatureSize}`, start, { type, signatureSize });
      }
      if (type === 'x509' && signatureSize === OWNER_SIZE) throw eslError('x509 signature with an empty certificate', start);
    }
    const header = r.bytesView(headerSize, 'SignatureHeader');
    const signatures: EfiSignatureData[] = [];
    for (let n = (body - headerSize) / signatureSize; n > 0; n--) {
      const owner = guidToString(r.bytesView(OWNER_SIZE, 'SignatureOwner'));
      signatures.push({ owner, data: r.bytesView(signatureSize - OWNER_SIZE, 'SignatureData') });
    }
    lists.push({ typeGuid, type, header, signatureSize, signatures });
  }
  return lists;
}

/** One list of same-sized signatures. */
export interface SignatureListInput {
  /** A SignatureTypeName, or the type's GUID for a type without a name. */
  readonly type: string;
  readonly signatures: readonly { readonly owner: string; readonly data: Uint8Array }[];
  readonly header?: Uint8Array;
}

/** Encodes lists into a signature database (inverse of parseSignatureDatabase). */
export function encodeSignatureDatabase(lists: readonly SignatureListInput[]): Uint8Array {
  const w = new ByteWriter();
  for (const list of lists) {
    const typeGuid = Object.hasOwn(SignatureType, list.type) ? SignatureType[list.type as SignatureTypeName] : list.type;
    const header = list.header ?? new Uint8Array(0);
    const first = list.signatures[0];
    if (first === undefined) throw eslError('cannot encode a list without signatures', w.length);
    const dataSize = first.data.length;
    for (const s of list.signatures) {
      if (s.data.length !== dataSize) throw eslError(`signatures of one list must have one size (${dataSize}), got ${s.data.length}`, w.length);
    }
    const signatureSize = OWNER_SIZE + dataSize;
    w.bytes(guidFromString(typeGuid));
    w.u32le(LIST_HEADER_SIZE + header.length + signatureSize * list.signatures.length);
    w.u32le(header.length);
    w.u32le(signatureSize);
    w.bytes(header);
    for (const s of list.signatures) w.bytes(guidFromString(s.owner)).bytes(s.data);
  }
  const out = w.finish();
  parseSignatureDatabase(out); // refuses sizes a firmware would reject (e.g. a 31-byte sha256)
  return out;
}

/** EFI_TIME (UEFI 2.10 §8.3): all-zero means "no time" (for dbx: revoked since always). */
export interface EfiTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly nanosecond: number;
  /** Minutes from UTC, or 2047 (EFI_UNSPECIFIED_TIMEZONE). */
  readonly timeZone: number;
  readonly daylight: number;
}

export function parseEfiTime(bytes: Uint8Array): EfiTime | null {
  const r = new ByteReader(bytes);
  const year = r.u16le('EFI_TIME.Year');
  const month = r.u8('EFI_TIME.Month');
  const day = r.u8('EFI_TIME.Day');
  const hour = r.u8('EFI_TIME.Hour');
  const minute = r.u8('EFI_TIME.Minute');
  const second = r.u8('EFI_TIME.Second');
  r.skip(1, 'EFI_TIME.Pad1');
  const nanosecond = r.u32le('EFI_TIME.Nanosecond');
  const timeZone = new DataView(bytes.buffer, bytes.byteOffset + r.offset, 2).getInt16(0, true);
  r.skip(2, 'EFI_TIME.TimeZone');
  const daylight = r.u8('EFI_TIME.Daylight');
  r.skip(1, 'EFI_TIME.Pad2');
  r.expectEnd('EFI_TIME');
  if (bytes.every((b) => b === 0)) return null;
  return { year, month, day, hour, minute, second, nanosecond, timeZone, daylight };
}

/** A signature decoded according to its list's type, JSON-able (bytes render as hex). */
export type SignatureEntry =
  | { readonly type: 'x509'; readonly owner: string; readonly certificate: Uint8Array }
  | { readonly type: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'; readonly owner: string; readonly digest: Uint8Array }
  | { readonly type: 'rsa2048' | 'rsa2048Sha256' | 'rsa2048Sha1'; readonly owner: string; readonly data: Uint8Array }
  | {
      readonly type: 'x509Sha256' | 'x509Sha384' | 'x509Sha512';
      readonly owner: string;
      /** Hash of the certificate's DER TBSCertificate. */
      readonly tbsDigest: Uint8Array;
      /** null: revoked at all times. */
      readonly timeOfRevocation: EfiTime | null;
    }
  | { readonly type: 'unknown'; readonly typeGuid: string; readonly owner: string; readonly data: Uint8Array };

/** Flattens a database into decoded entries, in order. */
export function signatureEntries(lists: readonly EfiSignatureList[]): SignatureEntry[] {
  const out: SignatureEntry[] = [];
  for (const list of lists) {
    for (const { owner, data } of list.signatures) {
      switch (list.type) {
        case 'x509':
          out.push({ type: 'x509', owner, certificate: data });
          break;
        case 'sha1':
        case 'sha224':
        case 'sha256':
        case 'sha384':
        case 'sha512':
          out.push({ type: list.type, owner, digest: data });
          break;
        case 'rsa2048':
        case 'rsa2048Sha256':
        case 'rsa2048Sha1':
          out.push({ type: list.type, owner, data });
          break;
        case 'x509Sha256':
        case 'x509Sha384':
        case 'x509Sha512': {
          const digestSize = data.length - 16;
          out.push({ type: list.type, owner, tbsDigest: data.subarray(0, digestSize), timeOfRevocation: parseEfiTime(data.subarray(digestSize)) });
          break;
        }
        case 'unknown':
          out.push({ type: 'unknown', typeGuid: list.typeGuid, owner, data });
          break;
      }
    }
  }
  return out;
}

export const SignatureDatabaseFormat = { auto: 'auto', esl: 'esl', efivarfs: 'efivarfs', auth: 'auth' } as const;
export type SignatureDatabaseFormat = (typeof SignatureDatabaseFormat)[keyof typeof SignatureDatabaseFormat];

export interface SignatureDatabaseFile {
  readonly format: Exclude<SignatureDatabaseFormat, 'auto'>;
  /** EFI variable attributes (efivarfs only). */
  readonly attributes?: number;
  /** EFI_VARIABLE_AUTHENTICATION_2.TimeStamp (.auth only). */
  readonly timestamp?: EfiTime | null;
  /** The PKCS#7 authenticating the update (.auth only); not verified here. */
  readonly authentication?: Uint8Array;
  readonly lists: readonly EfiSignatureList[];
}

/** EFI_VARIABLE_* attribute bits of UEFI 2.10 §8.2 (NV, BS, RT, HW_ERROR, AUTH_WRITE, TIME_AUTH, APPEND). */
const KNOWN_VARIABLE_ATTRIBUTES = 0x7f;
const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
const WIN_CERT_REVISION = 0x0200;
/** EFI_TIME (16) + WIN_CERTIFICATE header (8) + CertType GUID (16). */
const AUTH2_MIN_SIZE = 40;

function looksLikeAuth2(bytes: Uint8Array): boolean {
  if (bytes.length < AUTH2_MIN_SIZE) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return v.getUint16(20, true) === WIN_CERT_REVISION && v.getUint16(22, true) === WIN_CERT_TYPE_EFI_GUID;
}

function looksLikeEfivarfs(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const attributes = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  // An ESL starts with a type GUID whose first u32 is never a small attribute mask.
  return attributes !== 0 && (attributes & ~KNOWN_VARIABLE_ATTRIBUTES) === 0;
}

/**
 * Reads PK/KEK/db/dbx/MokList content from any of its usual file forms. `auto` tells them apart by
 * the WIN_CERTIFICATE_UEFI_GUID header (.auth) or a small attribute mask (efivarfs), else `.esl`.
 */
export function parseSignatureDatabaseFile(bytes: Uint8Array, format: SignatureDatabaseFormat = 'auto'): SignatureDatabaseFile {
  const chosen = format !== 'auto' ? format : looksLikeAuth2(bytes) ? 'auth' : looksLikeEfivarfs(bytes) ? 'efivarfs' : 'esl';
  switch (chosen) {
    case 'esl':
      return { format: 'esl', lists: parseSignatureDatabase(bytes) };
    case 'efivarfs': {
      if (bytes.length < 4) {
        throw new SecureBootError('ERR_SECUREBOOT_AUTH_MALFORMED', `efivarfs file of ${bytes.length} bytes lacks the 4-byte attribute prefix`);
      }
      const attributes = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
      return { format: 'efivarfs', attributes, lists: parseSignatureDatabase(bytes.subarray(4)) };
    }
    case 'auth': {
      const r = new ByteReader(bytes);
      if (bytes.length < AUTH2_MIN_SIZE) {
        throw new SecureBootError(
          'ERR_SECUREBOOT_AUTH_MALFORMED',
          `.auth file of ${bytes.length} bytes is shorter than the ${AUTH2_MIN_SIZE}-byte EFI_VARIABLE_AUTHENTICATION_2 header`,
        );
      }
      const timestamp = parseEfiTime(r.bytesView(16, 'TimeStamp'));
      const certStart = r.offset;
      const dwLength = r.u32le('AuthInfo.Hdr.dwLength');
      const revision = r.u16le('AuthInfo.Hdr.wRevision');
      const certType = r.u16le('AuthInfo.Hdr.wCertificateType');
      const guid = guidToString(r.bytesView(16, 'AuthInfo.CertType'));
      if (revision !== WIN_CERT_REVISION || certType !== WIN_CERT_TYPE_EFI_GUID || guid !== EfiGuid.certTypePkcs7) {
        throw new SecureBootError(
          'ERR_SECUREBOOT_AUTH_MALFORMED',
          `.auth AuthInfo must be WIN_CERT_TYPE_EFI_GUID rev 0x0200 with EFI_CERT_TYPE_PKCS7_GUID, got type 0x${certType.toString(16)} rev 0x${revision.toString(16)} ${guid}`,
        );
      }
      // dwLength covers the WIN_CERTIFICATE header, the CertType GUID and the PKCS#7 (§8.2.2).
      if (dwLength < 24 || dwLength > bytes.length - certStart) {
        throw new SecureBootError(
          'ERR_SECUREBOOT_AUTH_MALFORMED',
          `.auth AuthInfo.Hdr.dwLength ${dwLength} does not fit the ${bytes.length - certStart} bytes after the timestamp`,
          { dwLength },
        );
      }
      const authentication = r.bytesView(dwLength - 24, 'AuthInfo.CertData');
      return { format: 'auth', timestamp, authentication, lists: parseSignatureDatabase(bytes.subarray(r.offset)) };
    }
  }
}
