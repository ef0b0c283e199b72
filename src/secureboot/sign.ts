// Authenticode signing: a PKCS#7 SignedData over SpcIndirectDataContent, in the shape sbsign and
// signtool produce (Authenticode PE spec §"SignedData", RFC 2315 §9), so that sbverify, osslsigncode
// and UEFI firmware accept it. Used to sign UKIs and test images without external tools.
import { createHash, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import {
  DER_NULL,
  DerTag,
  encodeBitString,
  encodeExplicit,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSetOf,
  encodeSmallInteger,
  encodeTlv,
  parseCertificateFields,
  parseDer,
} from '../der/index.ts';
import { authenticodeHash, type AuthenticodeHashAlgorithm } from './authenticode-hash.ts';
import { loadCertificate, subjectOf } from './certificate.ts';
import { SecureBootError } from './errors.ts';
import { updateChecksum } from './pe-edit.ts';
import { parsePe } from './pe.ts';
import { Oid, WIN_CERT_REVISION_2_0, WinCertificateType, digestAlgorithmOid } from './pkcs7.ts';

export interface SigningIdentity {
  /** The signer's certificate (DER bytes or PEM text). */
  readonly certificate: Uint8Array | string;
  /** Its private key (PEM text or a KeyObject): RSA or EC. */
  readonly privateKey: string | KeyObject;
  /** Intermediates to include in the certificate bag (DER or PEM). */
  readonly chain?: readonly (Uint8Array | string)[];
}

export interface SignOptions {
  /** Default sha256. */
  readonly digest?: Exclude<AuthenticodeHashAlgorithm, 'sha224'>;
  /** 'replace' (default) drops existing signatures, 'append' adds another WIN_CERTIFICATE. */
  readonly mode?: 'replace' | 'append';
}

function toDer(cert: Uint8Array | string, what: string): Uint8Array {
  return new Uint8Array(loadCertificate(cert, what).raw);
}

function algorithmIdentifier(oid: string, withNullParameters: boolean): Uint8Array {
  return withNullParameters ? encodeSequence(encodeOid(oid), DER_NULL) : encodeSequence(encodeOid(oid));
}

function attribute(oid: string, value: Uint8Array): Uint8Array {
  return encodeSequence(encodeOid(oid), encodeSetOf([value]));
}

/** SpcIndirectDataContent for a PE image digest, with sbsign's obsolete-file link. */
function spcIndirectDataContent(digest: Uint8Array, alg: AuthenticodeHashAlgorithm): Uint8Array {
  const obsolete = Buffer.from('<<<Obsolete>>>', 'utf16le').swap16();
  // SpcPeImageData { flags SpcPeImageFlags (empty BIT STRING), file [0] SpcLink: file [2] SpcString: unicode [0] IMPLICIT }
  const spcPeImageData = encodeSequence(
    encodeBitString(new Uint8Array(0)),
    encodeExplicit(0, encodeExplicit(2, encodeTlv(DerTag.contextPrimitive0, obsolete))),
  );
  return encodeSequence(
    encodeSequence(encodeOid(Oid.spcPeImageData), spcPeImageData),
    encodeSequence(algorithmIdentifier(digestAlgorithmOid(alg), true), encodeOctetString(digest)),
  );
}

/** The Authenticode ContentInfo (DER) for an image digest. */
export function createAuthenticodeSignature(
  digest: Uint8Array,
  identity: SigningIdentity,
  alg: Exclude<AuthenticodeHashAlgorithm, 'sha224'> = 'sha256',
): Uint8Array {
  const cert = loadCertificate(identity.certificate, 'the signing certificate');
  const certDer = new Uint8Array(cert.raw);
  const key = typeof identity.privateKey === 'string' ? createPrivateKey(identity.privateKey) : identity.privateKey;
  if (!cert.checkPrivateKey(key)) throw new SecureBootError('ERR_SECUREBOOT_SIGN_FAILED', `the private key does not belong to certificate ${subjectOf(cert)}`);
  const keyType = key.asymmetricKeyType;
  if (keyType !== 'rsa' && keyType !== 'ec')
    throw new SecureBootError('ERR_SECUREBOOT_SIGN_FAILED', `unsupported key type ${keyType ?? 'unknown'} (RSA or EC)`);
  const fields = parseCertificateFields(certDer);
  const content = spcIndirectDataContent(digest, alg);
  // The messageDigest covers the SpcIndirectDataContent value without its SEQUENCE header.
  const contentDigest = createHash(alg).update(parseDer(content, 'SpcIndirectDataContent').content).digest();
  const attributes = [
    attribute(Oid.contentType, encodeOid(Oid.spcIndirectData)),
    attribute(Oid.spcSpOpusInfo, encodeSequence()),
    attribute(Oid.messageDigest, encodeOctetString(contentDigest)),
  ];
  const signedAttributes = encodeSetOf(attributes);
  const signature = cryptoSign(alg, signedAttributes, key);
  const signatureAlgorithm = keyType === 'rsa' ? algorithmIdentifier(Oid.rsaEncryption, true) : algorithmIdentifier(ecdsaOid(alg), false);
  const signerInfo = encodeSequence(
    encodeSmallInteger(1),
    encodeSequence(fields.issuer, encodeTlv(DerTag.integer, fields.serialNumber)),
    algorithmIdentifier(digestAlgorithmOid(alg), true),
    encodeSetOf(attributes, DerTag.context0),
    signatureAlgorithm,
    encodeOctetString(signature),
  );
  const certificates = [certDer, ...(identity.chain ?? []).map((c, i) => toDer(c, `chain certificate #${i}`))];
  const signedData = encodeSequence(
    encodeSmallInteger(1),
    encodeSetOf([algorithmIdentifier(digestAlgorithmOid(alg), true)]),
    encodeSequence(encodeOid(Oid.spcIndirectData), encodeExplicit(0, content)),
    encodeSetOf(certificates, DerTag.context0),
    encodeSetOf([signerInfo]),
  );
  return encodeSequence(encodeOid(Oid.signedData), encodeExplicit(0, signedData));
}

function ecdsaOid(alg: AuthenticodeHashAlgorithm): string {
  if (alg === 'sha256') return Oid.ecdsaWithSha256;
  if (alg === 'sha384') return Oid.ecdsaWithSha384;
  if (alg === 'sha512') return Oid.ecdsaWithSha512;
  throw new SecureBootError('ERR_SECUREBOOT_SIGN_FAILED', `ECDSA with ${alg} is not supported`);
}

/**
 * Signs a PE image: pads it to 8 bytes (as sbsign does; the padding is then part of the hash),
 * points the certificate directory at a new WIN_CERTIFICATE after it, fixes the checksum.
 *
 * @example const signed = signImage(uki, { certificate: certPem, privateKey: keyPem })
 */
export function signImage(image: Uint8Array, identity: SigningIdentity, options: SignOptions = {}): Uint8Array {
  const alg = options.digest ?? 'sha256';
  const pe = parsePe(image);
  if (pe.certificateDirectoryOffset === undefined) {
    throw new SecureBootError('ERR_SECUREBOOT_PE_UNSUPPORTED', 'PE edit: the image has no certificate directory slot (NumberOfRvaAndSizes <= 4)');
  }
  const table = pe.certificateTable;
  if (table !== undefined && table.offset + table.size !== image.length) {
    throw new SecureBootError('ERR_SECUREBOOT_PE_UNSUPPORTED', 'PE edit: the existing certificate table is not at the end of the file');
  }
  const keep = options.mode === 'append' && table !== undefined;
  const bodyLength = table === undefined ? image.length : table.offset;
  // Appending keeps the body as the existing signatures hashed it; a fresh signature pads it.
  const paddedBody = keep ? bodyLength : (bodyLength + 7) & ~7;
  const existing = keep ? image.subarray(table.offset, table.offset + table.size) : new Uint8Array(0);
  // Hash the image as it will be, without any certificate table: the directory entry and checksum
  // are excluded from the hash, so their final values do not matter here.
  const unsigned = new Uint8Array(paddedBody);
  unsigned.set(image.subarray(0, bodyLength));
  new DataView(unsigned.buffer).setBigUint64(pe.certificateDirectoryOffset, 0n, true);
  const digest = authenticodeHash(unsigned, alg);
  const contentInfo = createAuthenticodeSignature(digest, identity, alg);
  const entryLength = 8 + contentInfo.length;
  const entrySize = (entryLength + 7) & ~7;
  const tableSize = existing.length + entrySize;
  const out = new Uint8Array(paddedBody + tableSize);
  out.set(unsigned);
  out.set(existing, paddedBody);
  const view = new DataView(out.buffer);
  const entryOffset = paddedBody + existing.length;
  view.setUint32(entryOffset, entryLength, true);
  view.setUint16(entryOffset + 4, WIN_CERT_REVISION_2_0, true);
  view.setUint16(entryOffset + 6, WinCertificateType.pkcsSignedData, true);
  out.set(contentInfo, entryOffset + 8);
  view.setUint32(pe.certificateDirectoryOffset, paddedBody, true);
  view.setUint32(pe.certificateDirectoryOffset + 4, tableSize, true);
  return updateChecksum(out);
}
