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

/** Leaf, intermediates and root: TCG vendor chains are 2–4 long; past this a loop or a padded pool. */
const MAX_CHAIN = 6;

/** A distinguished name on one line (node gives one attribute per line). */
function dn(name: string): string {
  return name.replace(/\n/g, ', ');
}

function parse(c: Uint8Array | string, what: string): X509Certificate {
  try {
    const cert = new X509Certificate(typeof c === 'string' ? c : Buffer.from(c));
    // node decodes the subject public key lazily: a certificate whose SPKI is damaged parses,
    // then throws an untyped OpenSSL error at first use. Decode it here, inside the typed error.
    // eslint-disable-next-line @typescript-eslint/no-unused-expressions -- the getter is read for what it does: decode the key or throw
    cert.publicKey;
    return cert;
  } catch (e) {
    throw new TpmError(
      'ERR_TPM_EKCERT_PARSE',
      `${what} is not an X.509 certificate (DER or PEM): ${(e as Error).message}`,
      { certificate: what },
      { cause: e },
    );
  }
}

function within(cert: X509Certificate, now: Date, what: string): void {
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
    throw new TpmError(
      'ERR_TPM_EKCERT_EXPIRED',
      `${what} (${dn(cert.subject)}) is not valid at ${now.toISOString()} (valid ${cert.validFrom} to ${cert.validTo}): check the clock, or renew the CA certificate`,
      {
        subject: cert.subject,
        validFrom: cert.validFrom,
        validTo: cert.validTo,
        now: now.toISOString(),
      },
    );
  }
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Verifies an EK certificate for `ekPublic`; returns the chain (leaf first, root last).
 *
 * @example
 *   const chain = verifyEkCertificate(await tpm.readEkCertificate('RSA2048'), ek.public.value, { roots: [vendorRootPem], now: new Date() });
 *
 * Throws TpmError naming the failed check: ERR_TPM_EKCERT_PARSE (a certificate does not parse),
 * ERR_TPM_EKCERT_KEY_MISMATCH (it certifies another key), ERR_TPM_EKCERT_EXPIRED (outside its
 * validity period at `now`), ERR_TPM_EKCERT_CHAIN (no path to a root). Caller's duties: roots are
 * the vendor CAs you trust for this fleet; intermediates only help build the path.
 */
export function verifyEkCertificate(der: Uint8Array, ekPublic: TPMT_PUBLIC, trust: EkTrust): X509Certificate[] {
  const leaf = parse(der, 'the EK certificate');
  const ekKey = publicKeyFromTpmt(ekPublic);
  const certKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (Buffer.compare(certKey, ekKey.export({ type: 'spki', format: 'der' })) !== 0) {
    throw new TpmError(
      'ERR_TPM_EKCERT_KEY_MISMATCH',
      `the EK certificate (${dn(leaf.subject)}) certifies a different public key than this EK: it belongs to another TPM`,
      { subject: leaf.subject },
    );
  }
  const roots = trust.roots.map((r, i) => parse(r, `root certificate #${i}`));
  const pool = (trust.intermediates ?? []).map((c, i) => parse(c, `intermediate certificate #${i}`));
  const chain = [leaf];
  within(leaf, trust.now, 'EK certificate');
  for (let cert = leaf; chain.length <= MAX_CHAIN;) {
    const root = roots.find((r) => issuedBy(cert, r));
    if (root) {
      within(root, trust.now, 'root CA certificate');
      return [...chain, root];
    }
    const next = pool.find((i) => issuedBy(cert, i) && !chain.includes(i));
    if (!next) {
      throw new TpmError(
        'ERR_TPM_EKCERT_CHAIN',
        `the EK certificate chain does not reach a trusted root: no configured root or intermediate issued ${dn(cert.subject)} (issuer ${dn(cert.issuer)}); add the TPM vendor's CA to the roots`,
        {
          subject: cert.subject,
          issuer: cert.issuer,
        },
      );
    }
    if (!next.ca)
      throw new TpmError('ERR_TPM_EKCERT_CHAIN', `intermediate ${dn(next.subject)} is not a CA (basicConstraints cA is false) and cannot issue certificates`, {
        subject: next.subject,
      });
    within(next, trust.now, 'intermediate CA certificate');
    chain.push(next);
    cert = next;
  }
  throw new TpmError('ERR_TPM_EKCERT_CHAIN', `the EK certificate chain is longer than ${MAX_CHAIN} certificates without reaching a root`, {
    maxChain: MAX_CHAIN,
  });
}
