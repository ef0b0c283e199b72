// X.509 certificates as Secure Boot code reads them: node:crypto (OpenSSL) parses and verifies,
// and this module turns what it says into typed errors and one-line names. An empty subject or
// issuer is legal (RFC 5280 §4.1.2.6 allows it with subjectAltName; the TCG EK profile and cloud
// vTPM CAs use it), and node then reports the name as undefined, not "".
import { X509Certificate } from 'node:crypto';
import { SecureBootError } from './errors.ts';

export const EMPTY_SUBJECT = '(empty subject)';
export const EMPTY_ISSUER = '(empty issuer)';

export interface CertificateSummary {
  /** One line, "CN=…, O=…"; EMPTY_SUBJECT when the Name has no attributes. */
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
}

/** node's multi-line distinguished name on one line, or `empty` when there is none (node's typings say string; it is undefined then). */
function oneLine(name: string, empty: string): string {
  return name ? name.replace(/\n/g, ', ') : empty;
}

export function subjectOf(cert: X509Certificate): string {
  return oneLine(cert.subject, EMPTY_SUBJECT);
}

export function issuerOf(cert: X509Certificate): string {
  return oneLine(cert.issuer, EMPTY_ISSUER);
}

export function summarizeCertificate(cert: X509Certificate): CertificateSummary {
  return { subject: subjectOf(cert), issuer: issuerOf(cert), serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256 };
}

/**
 * Parses a certificate with OpenSSL; one it rejects is ERR_SECUREBOOT_CERTIFICATE_INVALID naming
 * `what` and OpenSSL's reason. The public key is decoded here too: node decodes it lazily, so a
 * damaged SubjectPublicKeyInfo would otherwise throw an untyped error at first use.
 */
export function loadCertificate(der: Uint8Array | string, what: string): X509Certificate {
  try {
    const cert = new X509Certificate(typeof der === 'string' ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength));
    if (cert.publicKey.type !== 'public') throw new Error('the certificate holds no public key');
    return cert;
  } catch (e) {
    throw new SecureBootError(
      'ERR_SECUREBOOT_CERTIFICATE_INVALID',
      `${what} is not a usable X.509 certificate: ${(e as Error).message}`,
      { certificate: what },
      { cause: e },
    );
  }
}
