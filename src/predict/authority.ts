// Which signature-database entry authorizes an image: the EV_EFI_VARIABLE_AUTHORITY event of
// PCR 7 (PC Client PFP §10.4.2 and §3.3.4.8) carries that entry, so predicting PCR 7 means
// choosing the same entry the verifier will. edk2 DxeImageVerificationLib walks db in order and
// the first X.509 entry that validates the image's PKCS#7 signature wins; if none does, an entry
// holding the image's SHA-256 Authenticode hash can.
import { bytesEqual, concatBytes } from '../bytes/index.ts';
import {
  authenticodeHash,
  guidFromString,
  parseAuthenticodeSignature,
  parseCertificateFields,
  parseCertificateTable,
  parsePe,
  signatureEntries,
  type EfiSignatureList,
} from '../secureboot/index.ts';

export interface AuthorityEntry {
  /** EFI_SIGNATURE_DATA: SignatureOwner GUID ‖ SignatureData, as the event's VariableData. */
  readonly signatureData: Uint8Array;
  readonly description: string;
}

/** The certificates an image's signatures carry (embedded chain), leaf first as signers add them. */
function imageCertificates(image: Uint8Array): { der: Uint8Array; issuer: Uint8Array; subject: Uint8Array }[] {
  const pe = parsePe(image);
  const out: { der: Uint8Array; issuer: Uint8Array; subject: Uint8Array }[] = [];
  for (const wc of parseCertificateTable(pe)) {
    if (!wc.isPkcs7) continue;
    const stack = [parseAuthenticodeSignature(wc.data)];
    while (stack.length > 0) {
      const sig = stack.pop()!;
      out.push(...sig.certificates);
      stack.push(...sig.nested);
    }
  }
  return out;
}

/**
 * The db entry that authorizes `image`, or undefined. A db certificate authorizes when the
 * signature embeds it or embeds a certificate it issued (the usual CA-in-db case, e.g. the
 * Microsoft UEFI CA signing shim). This names the entry firmware will log; it does not verify
 * the signature (src/secureboot does that) — prediction assumes the image is meant to boot.
 */
export function findDbAuthority(image: Uint8Array, db: readonly EfiSignatureList[]): AuthorityEntry | undefined {
  const certs = imageCertificates(image);
  const entries = signatureEntries(db);
  for (const entry of entries) {
    if (entry.type !== 'x509') continue;
    const dbCert = parseCertificateFields(entry.certificate);
    if (certs.some((c) => bytesEqual(c.der, dbCert.der) || bytesEqual(c.issuer, dbCert.subject))) {
      return { signatureData: concatBytes(guidFromString(entry.owner), entry.certificate), description: `db X.509 entry (owner ${entry.owner})` };
    }
  }
  const sha256 = authenticodeHash(image, 'sha256');
  for (const entry of entries) {
    if (entry.type === 'sha256' && bytesEqual(entry.digest, sha256)) {
      return { signatureData: concatBytes(guidFromString(entry.owner), entry.digest), description: `db SHA-256 entry (owner ${entry.owner})` };
    }
  }
  return undefined;
}

/** Whether a certificate (DER) issued or is one of the certificates `image` is signed with. */
export function imageSignedBy(image: Uint8Array, certificateDer: Uint8Array): boolean {
  const cert = parseCertificateFields(certificateDer);
  return imageCertificates(image).some((c) => bytesEqual(c.der, cert.der) || bytesEqual(c.issuer, cert.subject));
}
