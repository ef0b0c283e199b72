/**
 * EK certificates (TCG EK Credential Profile 2.0): an X.509 certificate, issued by the TPM
 * vendor's CA, whose subject public key is the EK. Trusting an EK certificate means three checks
 * together: the chain reaches a configured root, the certificate is within its validity period at
 * `now`, and its public key is exactly this EK's — a valid certificate for some other TPM's key
 * proves nothing about this one (the swap attack on enrollment).
 */
import { X509Certificate } from 'node:crypto';
import { TpmError } from './errors.ts';
import { publicKeyFromTpmt } from './crypto/public-key.ts';
import type { TPMT_PUBLIC } from './structures.ts';

export interface EkTrust {
  /** Trusted roots (vendor CAs), DER or PEM. */
  readonly roots: readonly (Uint8Array | string)[];
  /** Intermediates the TPM vendor publishes (not trusted on their own). */
  readonly intermediates?: readonly (Uint8Array | string)[];
  readonly now: Date;
}

const MAX_CHAIN = 6;

function parse(c: Uint8Array | string): X509Certificate {
  try {
    return new X509Certificate(typeof c === 'string' ? c : Buffer.from(c));
  } catch (e) {
    throw new TpmError('ERR_TPM_BAD_VALUE', `not an X.509 certificate: ${(e as Error).message}`, {}, { cause: e });
  }
}

function within(cert: X509Certificate, now: Date, what: string): void {
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
    throw new TpmError('ERR_TPM_BAD_VALUE', `${what} (${cert.subject.replace(/\n/g, ', ')}) is not valid at ${now.toISOString()} (valid ${cert.validFrom} to ${cert.validTo})`, { subject: cert.subject });
  }
}

/**
 * Verifies an EK certificate for `ekPublic`; returns the chain (leaf first). Throws
 * ERR_TPM_BAD_VALUE naming the failed check.
 */
export function verifyEkCertificate(der: Uint8Array, ekPublic: TPMT_PUBLIC, trust: EkTrust): X509Certificate[] {
  const leaf = parse(der);
  const ekKey = publicKeyFromTpmt(ekPublic);
  const certKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (Buffer.compare(certKey, ekKey.export({ type: 'spki', format: 'der' })) !== 0) {
    throw new TpmError('ERR_TPM_BAD_VALUE', 'the EK certificate certifies a different public key than this EK', { subject: leaf.subject });
  }
  const roots = trust.roots.map(parse);
  const pool = (trust.intermediates ?? []).map(parse);
  const chain = [leaf];
  within(leaf, trust.now, 'EK certificate');
  for (let cert = leaf; chain.length <= MAX_CHAIN; ) {
    const root = roots.find((r) => cert.checkIssued(r) && cert.verify(r.publicKey));
    if (root) {
      within(root, trust.now, 'root CA certificate');
      return [...chain, root];
    }
    const next = pool.find((i) => cert.checkIssued(i) && cert.verify(i.publicKey) && !chain.includes(i));
    if (!next) throw new TpmError('ERR_TPM_BAD_VALUE', `EK certificate chain does not reach a trusted root (stuck at ${cert.issuer.replace(/\n/g, ', ')})`, { issuer: cert.issuer });
    if (!next.ca) throw new TpmError('ERR_TPM_BAD_VALUE', `issuer ${next.subject.replace(/\n/g, ', ')} is not a CA`, {});
    within(next, trust.now, 'intermediate CA certificate');
    chain.push(next);
    cert = next;
  }
  throw new TpmError('ERR_TPM_BAD_VALUE', `EK certificate chain longer than ${MAX_CHAIN}`, {});
}
