// What an image's signatures say, for showing them (vouch pe show): each WIN_CERTIFICATE with its
// digest, signer and certificate bag. Whatever part does not parse carries its own typed problem
// and the rest is still described: one damaged certificate hides neither its signature nor the
// image. Deciding whether firmware would run the image is verify.ts's job, not this.
import { bytesEqual } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import type { AuthenticodeHashAlgorithm } from './authenticode-hash.ts';
import { loadCertificate, summarizeCertificate, type CertificateSummary } from './certificate.ts';
import { problemOf, type Problem } from './errors.ts';
import { parseAuthenticodeSignature, parseCertificateTable, type AuthenticodeSignature, type WinCertificate } from './pkcs7.ts';
import type { PeImage } from './pe.ts';

export interface CertificateDescription {
  readonly summary: CertificateSummary | undefined;
  readonly problem: Problem | undefined;
}

export interface SignatureDescription {
  /** File offset of the WIN_CERTIFICATE (a nested signature: its parent's). */
  readonly offset: number;
  readonly certificateType: number;
  readonly digestAlgorithm: AuthenticodeHashAlgorithm | undefined;
  readonly imageDigest: Uint8Array | undefined;
  /** The bag certificate that SignerInfo names by issuer and serial number, when present and usable. */
  readonly signer: CertificateSummary | undefined;
  readonly certificates: readonly CertificateDescription[];
  readonly nested: readonly SignatureDescription[];
  /** Set when the signature does not parse. An entry of another WIN_CERTIFICATE type has neither this nor a digest. */
  readonly problem: Problem | undefined;
}

export interface SignaturesDescription {
  readonly signatures: readonly SignatureDescription[];
  /** Set when the certificate table itself is malformed (then no entry is listed). */
  readonly problem: Problem | undefined;
}

function describeCertificates(sig: AuthenticodeSignature): { certificates: CertificateDescription[]; signer: CertificateSummary | undefined } {
  let signer: CertificateSummary | undefined;
  const certificates = sig.certificates.map((c, i): CertificateDescription => {
    if (c.fields === undefined) return { summary: undefined, problem: c.problem };
    let summary: CertificateSummary;
    try {
      summary = summarizeCertificate(loadCertificate(c.der, `certificate #${i}`));
    } catch (e) {
      if (!isVouchError(e)) throw e;
      return { summary: undefined, problem: problemOf(e) };
    }
    if (bytesEqual(c.fields.issuer, sig.signer.issuer) && bytesEqual(c.fields.serialNumber, sig.signer.serialNumber)) signer = summary;
    return { summary, problem: undefined };
  });
  return { certificates, signer };
}

function describeSignature(sig: AuthenticodeSignature, entry: WinCertificate): SignatureDescription {
  const { certificates, signer } = describeCertificates(sig);
  return {
    offset: entry.offset,
    certificateType: entry.certificateType,
    digestAlgorithm: sig.digestAlgorithm,
    imageDigest: sig.imageDigest,
    signer,
    certificates,
    nested: sig.nested.map((n) => describeSignature(n, entry)),
    problem: undefined,
  };
}

function unparsed(entry: WinCertificate, problem: Problem | undefined): SignatureDescription {
  const { offset, certificateType } = entry;
  return { offset, certificateType, digestAlgorithm: undefined, imageDigest: undefined, signer: undefined, certificates: [], nested: [], problem };
}

/** Describes every signature of the image; never throws for a damaged table, signature or certificate. */
export function describeSignatures(pe: PeImage): SignaturesDescription {
  let entries: WinCertificate[];
  try {
    entries = parseCertificateTable(pe);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { signatures: [], problem: problemOf(e) };
  }
  const signatures = entries.map((entry) => {
    if (!entry.isPkcs7) return unparsed(entry, undefined);
    try {
      return describeSignature(parseAuthenticodeSignature(entry.data), entry);
    } catch (e) {
      if (!isVouchError(e)) throw e;
      return unparsed(entry, problemOf(e));
    }
  });
  return { signatures, problem: undefined };
}
