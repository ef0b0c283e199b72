// X.509 certificate structure (RFC 5280 §4.1) walked with the strict reader: every field of the
// TBSCertificate down to each Extension's {extnID, critical, extnValue}, so that a certificate this
// walk accepts is one whose outer DER OpenSSL also reads. Signatures, names and extension contents
// are for node:crypto and @peculiar/x509; this gives the exact bytes that signature checks, dbx TBS
// hashes and certificate issuing need.
import { DerCursor, DerTag, decodeInteger, decodeOid, decodeSmallInteger, parseDer } from './reader.ts';
import { DerError } from './errors.ts';

/** Extensions in one certificate: real ones carry under 15. */
export const MAX_CERTIFICATE_EXTENSIONS = 64;

export interface CertificateFields {
  readonly der: Uint8Array;
  /** DER of TBSCertificate (what the issuer signed, and what dbx X509_SHA256 entries hash). */
  readonly tbs: Uint8Array;
  readonly serialNumber: Uint8Array;
  /** DER of the issuer and subject Names. */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  /** DER of SubjectPublicKeyInfo. */
  readonly subjectPublicKeyInfo: Uint8Array;
}

const X509_V3 = 2;

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, every field checked. */
export function parseCertificateFields(der: Uint8Array): CertificateFields {
  const c = new DerCursor(parseDer(der, 'Certificate', DerTag.sequence), 'Certificate');
  const tbs = c.next('tbsCertificate', DerTag.sequence);
  c.next('signatureAlgorithm', DerTag.sequence);
  c.next('signatureValue', DerTag.bitString);
  c.end();
  const t = new DerCursor(tbs, 'tbsCertificate');
  const versionField = t.optional('version', DerTag.context0);
  if (versionField !== undefined) {
    const v = new DerCursor(versionField, 'tbsCertificate.version');
    const version = decodeSmallInteger(v.next('value', DerTag.integer), 'tbsCertificate.version');
    v.end();
    if (version > X509_V3) throw new DerError('ERR_DER_MALFORMED', `X.509 version ${version + 1} does not exist`, { where: 'tbsCertificate.version' });
  }
  const serialNumber = decodeInteger(t.next('serialNumber', DerTag.integer), 'tbsCertificate.serialNumber');
  t.next('signature', DerTag.sequence);
  const issuer = t.next('issuer', DerTag.sequence).raw;
  const validity = new DerCursor(t.next('validity', DerTag.sequence), 'tbsCertificate.validity');
  for (const field of ['notBefore', 'notAfter']) {
    const time = validity.next(field);
    if (time.tag !== DerTag.utcTime && time.tag !== DerTag.generalizedTime)
      throw new DerError('ERR_DER_MALFORMED', `tbsCertificate.validity.${field} is neither UTCTime nor GeneralizedTime`, { where: `validity.${field}` });
  }
  validity.end();
  const subject = t.next('subject', DerTag.sequence).raw;
  const subjectPublicKeyInfo = t.next('subjectPublicKeyInfo', DerTag.sequence);
  const spki = new DerCursor(subjectPublicKeyInfo, 'tbsCertificate.subjectPublicKeyInfo');
  spki.next('algorithm', DerTag.sequence);
  spki.next('subjectPublicKey', DerTag.bitString);
  spki.end();
  t.optional('issuerUniqueID', DerTag.contextPrimitive1);
  t.optional('subjectUniqueID', DerTag.contextPrimitive2);
  const extensions = t.optional('extensions', DerTag.context3);
  t.end();
  if (extensions !== undefined) {
    const wrapper = new DerCursor(extensions, 'tbsCertificate.extensions');
    const list = new DerCursor(wrapper.next('Extensions', DerTag.sequence), 'tbsCertificate.extensions');
    wrapper.end();
    for (const [i, extension] of list.rest('extension', MAX_CERTIFICATE_EXTENSIONS).entries()) {
      const e = new DerCursor(extension, `tbsCertificate.extensions[${i}]`);
      decodeOid(e.next('extnID', DerTag.oid));
      e.optional('critical', DerTag.boolean);
      e.next('extnValue', DerTag.octetString);
      e.end();
    }
  }
  return { der, tbs: tbs.raw, serialNumber, issuer, subject, subjectPublicKeyInfo: subjectPublicKeyInfo.raw };
}
