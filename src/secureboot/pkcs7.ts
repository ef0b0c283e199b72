// Authenticode signatures: the PE attribute certificate table (WIN_CERTIFICATE entries) and the
// PKCS#7 SignedData (RFC 2315 §9) carrying an SpcIndirectDataContent ("Windows Authenticode
// Portable Executable Signature Format" §"Authenticode-Specific Structures").
import { ByteReader } from '../bytes/index.ts';
import {
  DerCursor,
  DerTag,
  decodeInteger,
  decodeOid,
  decodeSmallInteger,
  DerError,
  parseCertificateFields,
  parseDerPadded,
  type CertificateFields,
  type DerValue,
} from '../der/index.ts';
import { SecureBootError, problemOf, type Problem } from './errors.ts';
import { EfiGuid, guidToString } from './guid.ts';
import type { PeImage } from './pe.ts';
import type { AuthenticodeHashAlgorithm } from './authenticode-hash.ts';

/** Entries in one certificate table (real images carry 1–2; dual-signed shim has 2). */
export const MAX_WIN_CERTIFICATES = 16;
/** Certificates in one SignedData bag. */
export const MAX_PKCS7_CERTIFICATES = 32;
/** Nested signatures (SPC_NESTED_SIGNATURE) followed, depth and count. */
export const MAX_NESTED_SIGNATURES = 8;

export const WinCertificateType = { pkcsSignedData: 0x0002, efiPkcs115: 0x0ef0, efiGuid: 0x0ef1 } as const;
export const WIN_CERT_REVISION_2_0 = 0x0200;

export const Oid = {
  signedData: '1.2.840.113549.1.7.2',
  spcIndirectData: '1.3.6.1.4.1.311.2.1.4',
  spcPeImageData: '1.3.6.1.4.1.311.2.1.15',
  spcSpOpusInfo: '1.3.6.1.4.1.311.2.1.12',
  spcNestedSignature: '1.3.6.1.4.1.311.2.4.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
} as const;

const digestByOid = new Map<string, AuthenticodeHashAlgorithm>([
  [Oid.sha1, 'sha1'],
  [Oid.sha224, 'sha224'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);
export function digestAlgorithmOid(alg: AuthenticodeHashAlgorithm): string {
  return Oid[alg];
}

export interface WinCertificate {
  /** File offset of the entry. */
  readonly offset: number;
  readonly length: number;
  readonly revision: number;
  readonly certificateType: number;
  /** bCertificate: the PKCS#7 for WIN_CERT_TYPE_PKCS_SIGNED_DATA (and for EFI_GUID with the PKCS7 GUID, after the GUID). */
  readonly data: Uint8Array;
  /** True when firmware treats this entry as an Authenticode PKCS#7 signature. */
  readonly isPkcs7: boolean;
}

function winCertError(message: string, offset: number): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_WIN_CERT_MALFORMED', `WIN_CERTIFICATE at offset ${offset}: ${message}`, { offset });
}

/**
 * The entries of the attribute certificate table, walked as edk2 does: each dwLength covers its
 * 8-byte header, the next entry starts at the 8-byte aligned end, and the entries must end exactly
 * at the table end (firmware rejects the image otherwise, so we do too).
 */
export function parseCertificateTable(pe: PeImage): WinCertificate[] {
  const table = pe.certificateTable;
  if (table === undefined) return [];
  const end = table.offset + table.size;
  const out: WinCertificate[] = [];
  let offset = table.offset;
  while (offset < end) {
    if (out.length >= MAX_WIN_CERTIFICATES) {
      throw new SecureBootError('ERR_SECUREBOOT_PE_TOO_LARGE', `certificate table holds more than ${MAX_WIN_CERTIFICATES} entries`, {
        max: MAX_WIN_CERTIFICATES,
      });
    }
    if (end - offset <= 8) throw winCertError(`only ${end - offset} bytes left for an 8-byte header and data`, offset);
    const r = new ByteReader(pe.bytes, offset, end);
    const length = r.u32le('dwLength');
    const revision = r.u16le('wRevision');
    const certificateType = r.u16le('wCertificateType');
    if (length <= 8 || length > end - offset) throw winCertError(`dwLength ${length} does not fit the ${end - offset} bytes left in the table`, offset);
    let data = pe.bytes.subarray(offset + 8, offset + length);
    let isPkcs7 = revision === WIN_CERT_REVISION_2_0 && certificateType === WinCertificateType.pkcsSignedData;
    if (
      revision === WIN_CERT_REVISION_2_0 &&
      certificateType === WinCertificateType.efiGuid &&
      data.length >= 16 &&
      guidToString(data) === EfiGuid.certTypePkcs7
    ) {
      data = data.subarray(16);
      isPkcs7 = true;
    }
    out.push({ offset, length, revision, certificateType, data, isPkcs7 });
    offset += (length + 7) & ~7;
  }
  if (offset !== end) throw winCertError(`entries end at ${offset}, past the table end ${end}`, offset);
  return out;
}

/** One certificate of a signature's bag: its fields, or why it is not a strict DER X.509 certificate. */
export type SignatureCertificate =
  | { readonly der: Uint8Array; readonly fields: CertificateFields; readonly problem: undefined }
  | { readonly der: Uint8Array; readonly fields: undefined; readonly problem: Problem };

export interface SignerInfo {
  readonly version: number;
  readonly issuer: Uint8Array;
  readonly serialNumber: Uint8Array;
  readonly digestAlgorithm: AuthenticodeHashAlgorithm;
  /** DER of the authenticated attributes as a SET (tag 0x31): what the signature covers. */
  readonly signedAttributes: Uint8Array | undefined;
  /** messageDigest attribute: hash of the SpcIndirectDataContent body. */
  readonly messageDigest: Uint8Array | undefined;
  readonly contentType: string | undefined;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

export interface AuthenticodeSignature {
  /** The ContentInfo DER. */
  readonly der: Uint8Array;
  /** Algorithm of the image digest inside SpcIndirectDataContent. */
  readonly digestAlgorithm: AuthenticodeHashAlgorithm;
  /** The image's Authenticode digest as the signer computed it. */
  readonly imageDigest: Uint8Array;
  /** SpcIndirectDataContent content octets (without its SEQUENCE header): what messageDigest hashes. */
  readonly signedContent: Uint8Array;
  /** The certificate bag in order; a certificate that does not parse carries its own problem, the rest still parse. */
  readonly certificates: readonly SignatureCertificate[];
  readonly signer: SignerInfo;
  /** Signatures nested in the unauthenticated SPC_NESTED_SIGNATURE attribute (Windows dual signing). */
  readonly nested: readonly AuthenticodeSignature[];
}

function pkcs7Error(message: string, details: Record<string, unknown> = {}): SecureBootError {
  return new SecureBootError('ERR_SECUREBOOT_PKCS7_MALFORMED', `Authenticode PKCS#7: ${message}`, details);
}

function digestAlgorithmOf(algId: DerValue, where: string): AuthenticodeHashAlgorithm {
  const c = new DerCursor(algId, where);
  const oid = decodeOid(c.next('algorithm', DerTag.oid), `${where}.algorithm`);
  c.optional('parameters', DerTag.null);
  c.end();
  const alg = digestByOid.get(oid);
  if (alg === undefined) throw pkcs7Error(`${where}: unsupported digest algorithm ${oid}`, { oid });
  return alg;
}

/**
 * Parses an Authenticode ContentInfo. Trailing zero bytes after the DER are accepted (signers pad
 * bCertificate to 8 bytes and some count the padding in dwLength); anything else trailing is not.
 */
export function parseAuthenticodeSignature(bytes: Uint8Array, depth = 0): AuthenticodeSignature {
  const contentInfoValue = parseDerPadded(bytes, 'ContentInfo', DerTag.sequence, 7);
  const der = contentInfoValue.raw;
  const contentInfo = new DerCursor(contentInfoValue, 'ContentInfo');
  const contentType = decodeOid(contentInfo.next('contentType', DerTag.oid));
  if (contentType !== Oid.signedData) throw pkcs7Error(`contentType ${contentType} is not signedData`);
  const explicit = contentInfo.next('content', DerTag.context0);
  contentInfo.end();
  const explicitCursor = new DerCursor(explicit, 'ContentInfo.content');
  const signedDataValue = explicitCursor.next('SignedData', DerTag.sequence);
  explicitCursor.end();
  const sd = new DerCursor(signedDataValue, 'SignedData');
  const version = decodeSmallInteger(sd.next('version', DerTag.integer), 'SignedData.version');
  if (version !== 1) throw pkcs7Error(`SignedData.version ${version}, Authenticode requires 1`);
  sd.next('digestAlgorithms', DerTag.set);

  const encap = new DerCursor(sd.next('contentInfo', DerTag.sequence), 'SignedData.contentInfo');
  const encapType = decodeOid(encap.next('contentType', DerTag.oid));
  if (encapType !== Oid.spcIndirectData) throw pkcs7Error(`content type ${encapType} is not SPC_INDIRECT_DATA_OBJID`);
  const spcExplicit = new DerCursor(encap.next('content', DerTag.context0), 'SignedData.contentInfo.content');
  const spc = spcExplicit.next('SpcIndirectDataContent', DerTag.sequence);
  spcExplicit.end();
  encap.end();
  const spcCursor = new DerCursor(spc, 'SpcIndirectDataContent');
  const data = new DerCursor(spcCursor.next('data', DerTag.sequence), 'SpcIndirectDataContent.data');
  const dataType = decodeOid(data.next('type', DerTag.oid));
  if (dataType !== Oid.spcPeImageData) throw pkcs7Error(`SpcAttributeTypeAndOptionalValue.type ${dataType} is not SPC_PE_IMAGE_DATAOBJ`);
  const digestInfo = new DerCursor(spcCursor.next('messageDigest', DerTag.sequence), 'SpcIndirectDataContent.messageDigest');
  spcCursor.end();
  const digestAlgorithm = digestAlgorithmOf(digestInfo.next('digestAlgorithm', DerTag.sequence), 'DigestInfo.digestAlgorithm');
  const imageDigest = digestInfo.next('digest', DerTag.octetString).content;
  digestInfo.end();

  const certificates: SignatureCertificate[] = [];
  const certSet = sd.optional('certificates', DerTag.context0);
  if (certSet !== undefined) {
    for (const cert of new DerCursor(certSet, 'SignedData.certificates').rest('certificate', MAX_PKCS7_CERTIFICATES)) {
      if (cert.tag !== DerTag.sequence) throw pkcs7Error(`certificates contains a non-certificate (tag 0x${cert.tag.toString(16)})`);
      certificates.push(bagCertificate(cert.raw, certificates.length));
    }
  }
  sd.optional('crls', DerTag.context1);
  const signerInfos = new DerCursor(sd.next('signerInfos', DerTag.set), 'SignedData.signerInfos').rest('signerInfo', 2);
  sd.end();
  // Authenticode §"SignedData": exactly one SignerInfo.
  if (signerInfos.length !== 1) throw pkcs7Error(`${signerInfos.length} SignerInfos, Authenticode requires exactly 1`);
  const { signer, nested } = parseSignerInfo(signerInfos[0]!, depth);
  return { der, digestAlgorithm, imageDigest, signedContent: spc.content, certificates, signer, nested };
}

/** A bag certificate's fields; its DER errors stay with it (firmware then rejects the signature, a report still shows the rest). */
function bagCertificate(der: Uint8Array, index: number): SignatureCertificate {
  try {
    return { der, fields: parseCertificateFields(der), problem: undefined };
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    return { der, fields: undefined, problem: problemOf(e, `certificate #${index}: `) };
  }
}

function parseSignerInfo(value: DerValue, depth: number): { signer: SignerInfo; nested: AuthenticodeSignature[] } {
  const s = new DerCursor(value, 'SignerInfo');
  const version = decodeSmallInteger(s.next('version', DerTag.integer), 'SignerInfo.version');
  const ias = new DerCursor(s.next('issuerAndSerialNumber', DerTag.sequence), 'SignerInfo.issuerAndSerialNumber');
  const issuer = ias.next('issuer', DerTag.sequence).raw;
  const serialNumber = decodeInteger(ias.next('serialNumber', DerTag.integer));
  ias.end();
  const digestAlgorithm = digestAlgorithmOf(s.next('digestAlgorithm', DerTag.sequence), 'SignerInfo.digestAlgorithm');
  const attrs = s.optional('authenticatedAttributes', DerTag.context0);
  let signedAttributes: Uint8Array | undefined;
  let messageDigest: Uint8Array | undefined;
  let contentType: string | undefined;
  if (attrs !== undefined) {
    // The signature covers the attributes re-tagged as a SET OF (RFC 2315 §9.3).
    signedAttributes = new Uint8Array(attrs.raw);
    signedAttributes[0] = DerTag.set;
    for (const attr of new DerCursor(attrs, 'authenticatedAttributes').rest('attribute', 32)) {
      const { type, values } = parseAttribute(attr, 'authenticatedAttribute');
      if (type === Oid.messageDigest) {
        if (messageDigest !== undefined || values.length !== 1 || values[0]!.tag !== DerTag.octetString)
          throw pkcs7Error('messageDigest attribute must be one OCTET STRING, once');
        messageDigest = values[0]!.content;
      } else if (type === Oid.contentType) {
        if (contentType !== undefined || values.length !== 1) throw pkcs7Error('contentType attribute must have one value, once');
        contentType = decodeOid(values[0]!, 'contentType attribute');
      }
    }
    if (messageDigest === undefined) throw pkcs7Error('authenticatedAttributes lack messageDigest');
  }
  const algId = new DerCursor(s.next('digestEncryptionAlgorithm', DerTag.sequence), 'SignerInfo.digestEncryptionAlgorithm');
  const signatureAlgorithm = decodeOid(algId.next('algorithm', DerTag.oid));
  const signature = s.next('encryptedDigest', DerTag.octetString).content;
  const nested: AuthenticodeSignature[] = [];
  const unauth = s.optional('unauthenticatedAttributes', DerTag.context1);
  s.end();
  if (unauth !== undefined) {
    for (const attr of new DerCursor(unauth, 'unauthenticatedAttributes').rest('attribute', 32)) {
      const { type, values } = parseAttribute(attr, 'unauthenticatedAttribute');
      if (type !== Oid.spcNestedSignature) continue; // countersignatures/timestamps: not evaluated by UEFI either
      if (depth + 1 > MAX_NESTED_SIGNATURES || nested.length + values.length > MAX_NESTED_SIGNATURES) {
        throw pkcs7Error(`more than ${MAX_NESTED_SIGNATURES} nested signatures`);
      }
      for (const v of values) nested.push(parseAuthenticodeSignature(v.raw, depth + 1));
    }
  }
  return { signer: { version, issuer, serialNumber, digestAlgorithm, signedAttributes, messageDigest, contentType, signatureAlgorithm, signature }, nested };
}

function parseAttribute(attr: DerValue, where: string): { type: string; values: DerValue[] } {
  if (attr.tag !== DerTag.sequence) throw pkcs7Error(`${where} is not a SEQUENCE`);
  const c = new DerCursor(attr, where);
  const type = decodeOid(c.next('type', DerTag.oid), `${where}.type`);
  const values = new DerCursor(c.next('values', DerTag.set), `${where}.values`).rest('value', MAX_NESTED_SIGNATURES);
  c.end();
  return { type, values };
}
