// Secure Boot image verification as UEFI firmware decides it (UEFI 2.10 §32.5 "Image Execution
// Verification"; edk2 DxeImageVerificationLib DxeImageVerificationHandler, IsForbiddenByDbx,
// IsAllowedByDb). Pure: bytes and signature databases in, a verdict out.
import { createHash, verify as cryptoVerify, type X509Certificate } from 'node:crypto';
import { bytesEqual, toHex } from '../bytes/index.ts';
import type { CertificateFields } from '../der/index.ts';
import { isVouchError } from '../errors/index.ts';
import { authenticodeHash, type AuthenticodeHashAlgorithm } from './authenticode-hash.ts';
import { loadCertificate, subjectOf, summarizeCertificate, type CertificateSummary } from './certificate.ts';
import { SecureBootError, type Problem } from './errors.ts';
import { Oid, parseAuthenticodeSignature, parseCertificateTable, type AuthenticodeSignature } from './pkcs7.ts';
import { parsePe, type PeImage } from './pe.ts';
import { signatureEntries, type EfiSignatureList, type SignatureEntry } from './signature-list.ts';

/** Certificates walked from the signer towards a trust anchor. */
export const MAX_CHAIN_DEPTH = 8;

export const VerifyReason = {
  /** A db X.509 certificate is in the signer's chain (signer, intermediate or root). */
  signedByDb: 'signed-by-db-certificate',
  /** The image's Authenticode hash is listed in db. */
  hashInDb: 'hash-in-db',
  hashInDbx: 'hash-in-dbx',
  /** A dbx X.509 certificate is in the chain of one of the signatures. */
  certificateInDbx: 'certificate-in-dbx',
  /** The TBS hash of a certificate in the chain is in dbx (X509_SHA256/384/512). */
  certificateHashInDbx: 'certificate-hash-in-dbx',
  unsigned: 'unsigned-and-hash-not-in-db',
  notTrusted: 'no-signature-chains-to-db',
  malformedSignature: 'malformed-signature',
} as const;
export type VerifyReason = (typeof VerifyReason)[keyof typeof VerifyReason];

/** What one signature (one WIN_CERTIFICATE, or one nested inside it) proved. */
export interface SignatureReport {
  /** Index in the certificate table; nested signatures carry their parent's index. */
  readonly index: number;
  readonly nested: boolean;
  readonly digestAlgorithm: AuthenticodeHashAlgorithm | undefined;
  /** The digest the signer signed, and whether it equals the image's hash. */
  readonly signedDigest: Uint8Array | undefined;
  readonly digestMatches: boolean;
  /** The SignerInfo signature verifies with the signer certificate over SpcIndirectDataContent. */
  readonly signatureValid: boolean;
  readonly signer: CertificateSummary | undefined;
  /** Subjects from the signer up to where the walk stopped. */
  readonly chain: readonly string[];
  /** The db entry this signature chains to. */
  readonly trustedBy: SignatureEntry | undefined;
  /** The dbx entry that revokes it. */
  readonly revokedBy: SignatureEntry | undefined;
  /** Why it is not usable (typed code and message), when it is not. */
  readonly problem: Problem | undefined;
}

export interface SecureBootVerdict {
  readonly verified: boolean;
  readonly reason: VerifyReason;
  readonly message: string;
  /** Authenticode SHA-256 of the image (what PCR 4 and db/dbx hash entries use). */
  readonly sha256: Uint8Array;
  /**
   * The db entry that authorized the image: firmware measures it into PCR 7 as the
   * EV_EFI_VARIABLE_AUTHORITY event (EFI_SIGNATURE_DATA: owner GUID + data).
   */
  readonly authority: SignatureEntry | undefined;
  readonly signatures: readonly SignatureReport[];
  readonly findings: readonly string[];
}

export interface SignatureDatabases {
  readonly db: readonly EfiSignatureList[];
  readonly dbx?: readonly EfiSignatureList[];
}

interface Anchor {
  readonly entry: SignatureEntry & { readonly type: 'x509' };
  readonly cert: X509Certificate;
  readonly der: Uint8Array;
}

interface ChainWalk {
  readonly chain: readonly string[];
  readonly anchor: Anchor | undefined;
  /** Every certificate walked (signer first), for dbx TBS-hash checks. */
  readonly certificates: readonly CertificateFields[];
}

function anchorsOf(entries: readonly SignatureEntry[], findings: string[], list: string): Anchor[] {
  const out: Anchor[] = [];
  for (const entry of entries) {
    if (entry.type !== 'x509') continue;
    try {
      out.push({ entry, cert: loadCertificate(entry.certificate, `${list} entry of ${entry.owner}`), der: entry.certificate });
    } catch (e) {
      if (!(e instanceof SecureBootError)) throw e;
      // Firmware skips an unparsable db certificate too; say so instead of failing the whole check.
      findings.push(`${list}-certificate-unparsable:${entry.owner}`);
    }
  }
  return out;
}

const signatureHashByOid = new Map<string, AuthenticodeHashAlgorithm | undefined>([
  [Oid.rsaEncryption, undefined],
  [Oid.ecPublicKey, undefined],
  [Oid.sha1WithRsa, 'sha1'],
  [Oid.sha256WithRsa, 'sha256'],
  [Oid.sha384WithRsa, 'sha384'],
  [Oid.sha512WithRsa, 'sha512'],
  [Oid.ecdsaWithSha256, 'sha256'],
  [Oid.ecdsaWithSha384, 'sha384'],
  [Oid.ecdsaWithSha512, 'sha512'],
]);

/** Why one signature is unusable; the verdict carries it per signature instead of failing the image check. */
class SignatureProblem extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

interface BagCertificate {
  readonly fields: CertificateFields;
  readonly cert: X509Certificate;
}

/**
 * The signature's certificate bag as X509Certificates. One that is not strict DER or that OpenSSL
 * rejects makes the signature unusable, as in firmware, whose d2i_PKCS7 fails on it.
 */
function parseBag(sig: AuthenticodeSignature): BagCertificate[] {
  return sig.certificates.map((c, i) => {
    if (c.fields === undefined) throw new SignatureProblem(c.problem.code, c.problem.message);
    try {
      return { fields: c.fields, cert: loadCertificate(c.der, `certificate #${i} of the signature`) };
    } catch (e) {
      if (e instanceof SecureBootError) throw new SignatureProblem(e.code, e.message);
      throw e;
    }
  });
}

/**
 * Checks the SignerInfo: messageDigest = H(SpcIndirectDataContent body) and the signature over the
 * authenticated attributes (or over the content when there are none) verifies with the signer's key.
 */
function checkSignerInfo(sig: AuthenticodeSignature, bag: readonly BagCertificate[]): BagCertificate {
  const { signer } = sig;
  const signerEntry = bag.find((c) => bytesEqual(c.fields.issuer, signer.issuer) && bytesEqual(c.fields.serialNumber, signer.serialNumber));
  if (signerEntry === undefined)
    throw new SignatureProblem('ERR_SECUREBOOT_SIGNATURE_INVALID', 'the signer certificate (issuer and serial of SignerInfo) is not in the certificate bag');
  const signerCert = signerEntry.cert;
  const contentDigest = createHash(signer.digestAlgorithm).update(sig.signedContent).digest();
  let signedBytes: Uint8Array;
  if (signer.signedAttributes !== undefined) {
    if (!bytesEqual(contentDigest, signer.messageDigest!)) {
      throw new SignatureProblem('ERR_SECUREBOOT_SIGNATURE_INVALID', 'messageDigest attribute does not match SpcIndirectDataContent');
    }
    if (signer.contentType !== undefined && signer.contentType !== Oid.spcIndirectData) {
      throw new SignatureProblem('ERR_SECUREBOOT_SIGNATURE_INVALID', `contentType attribute ${signer.contentType} is not SPC_INDIRECT_DATA_OBJID`);
    }
    signedBytes = signer.signedAttributes;
  } else {
    signedBytes = sig.signedContent;
  }
  if (!signatureHashByOid.has(signer.signatureAlgorithm)) {
    throw new SignatureProblem('ERR_SECUREBOOT_PKCS7_MALFORMED', `unsupported signature algorithm ${signer.signatureAlgorithm}`);
  }
  const hash = signatureHashByOid.get(signer.signatureAlgorithm) ?? signer.digestAlgorithm;
  let ok: boolean;
  try {
    ok = cryptoVerify(hash, signedBytes, signerCert.publicKey, signer.signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new SignatureProblem('ERR_SECUREBOOT_SIGNATURE_INVALID', `the ${signer.signatureAlgorithm} signature does not verify with the signer's public key`);
  return signerEntry;
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  if (!child.checkIssued(issuer)) return false;
  try {
    return child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Walks from the signer to a trust anchor as OpenSSL does for edk2's Pkcs7Verify with
 * X509_V_FLAG_PARTIAL_CHAIN and no time checks: any anchor that equals a chain certificate, or
 * that issued one, trusts the chain. Issuers come from the signature's own certificate bag.
 */
function walkChain(bag: readonly BagCertificate[], signer: BagCertificate, anchors: readonly Anchor[]): ChainWalk {
  const chain: string[] = [];
  const certificates: CertificateFields[] = [];
  let current = signer;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    chain.push(subjectOf(current.cert));
    certificates.push(current.fields);
    const cert = current.cert;
    const equal = anchors.find((a) => bytesEqual(a.der, current.fields.der));
    if (equal) return { chain, anchor: equal, certificates };
    // An issuer must be a CA (OpenSSL check_chain_extensions): a leaf in db cannot sign for others.
    const issuing = anchors.find((a) => a.cert.ca && issuedBy(cert, a.cert));
    if (issuing) {
      chain.push(subjectOf(issuing.cert));
      return { chain, anchor: issuing, certificates };
    }
    const next = bag.find((b) => b.cert.ca && !bytesEqual(b.fields.der, current.fields.der) && issuedBy(cert, b.cert));
    if (next === undefined) break;
    current = next;
  }
  return { chain, anchor: undefined, certificates };
}

function hashEntryMatches(entries: readonly SignatureEntry[], image: PeImage, cache: Map<AuthenticodeHashAlgorithm, Uint8Array>): SignatureEntry | undefined {
  for (const e of entries) {
    if (e.type !== 'sha1' && e.type !== 'sha224' && e.type !== 'sha256' && e.type !== 'sha384' && e.type !== 'sha512') continue;
    if (bytesEqual(cachedHash(image, e.type, cache), e.digest)) return e;
  }
  return undefined;
}

function cachedHash(image: PeImage, alg: AuthenticodeHashAlgorithm, cache: Map<AuthenticodeHashAlgorithm, Uint8Array>): Uint8Array {
  let digest = cache.get(alg);
  if (digest === undefined) {
    digest = authenticodeHash(image, alg);
    cache.set(alg, digest);
  }
  return digest;
}

function tbsRevocation(dbx: readonly SignatureEntry[], certificates: readonly CertificateFields[]): SignatureEntry | undefined {
  for (const e of dbx) {
    if (e.type !== 'x509Sha256' && e.type !== 'x509Sha384' && e.type !== 'x509Sha512') continue;
    const alg = e.type === 'x509Sha256' ? 'sha256' : e.type === 'x509Sha384' ? 'sha384' : 'sha512';
    // The revocation time would spare signatures timestamped before it; UEFI firmware without a
    // trusted timestamp (the common case, and Vouch does not evaluate countersignatures) treats
    // the certificate as revoked at all times.
    if (certificates.some((c) => bytesEqual(createHash(alg).update(c.tbs).digest(), e.tbsDigest))) return e;
  }
  return undefined;
}

/**
 * Decides whether firmware with these db/dbx would run the image.
 *
 * Order (edk2): a hash of the image in dbx rejects; every PKCS#7 signature is checked against dbx
 * (certificate in chain, TBS hash) and one revoked signature rejects the image even if another
 * chains to db; otherwise one signature chaining to a db certificate, or the image hash in db,
 * accepts. Nested signatures are reported but, as in UEFI, do not count.
 *
 * @example const v = verifyImage(pe, { db: parseSignatureDatabase(dbBytes), dbx: [] }); if (!v.verified) console.log(v.reason)
 */
export function verifyImage(image: Uint8Array | PeImage, databases: SignatureDatabases): SecureBootVerdict {
  const pe = image instanceof Uint8Array ? parsePe(image) : image;
  const findings: string[] = [...pe.findings];
  const db = signatureEntries(databases.db);
  const dbx = signatureEntries(databases.dbx ?? []);
  const dbAnchors = anchorsOf(db, findings, 'db');
  const dbxAnchors = anchorsOf(dbx, findings, 'dbx');
  const hashCache = new Map<AuthenticodeHashAlgorithm, Uint8Array>();
  const sha256 = cachedHash(pe, 'sha256', hashCache);
  const done = (
    verified: boolean,
    reason: VerifyReason,
    message: string,
    authority: SignatureEntry | undefined,
    signatures: SignatureReport[],
  ): SecureBootVerdict => ({
    verified,
    reason,
    message,
    sha256,
    authority,
    signatures,
    findings,
  });

  const hashRevoked = hashEntryMatches(dbx, pe, hashCache);
  if (hashRevoked) return done(false, VerifyReason.hashInDbx, `the image's Authenticode ${hashRevoked.type} hash is in dbx`, undefined, []);

  let entries;
  try {
    entries = parseCertificateTable(pe);
  } catch (e) {
    if (isVouchError(e)) return done(false, VerifyReason.malformedSignature, e.message, undefined, []);
    throw e;
  }
  const reports: SignatureReport[] = [];
  let trusted: SignatureReport | undefined;
  for (const [index, entry] of entries.entries()) {
    if (!entry.isPkcs7) {
      findings.push(`win-certificate-type-ignored:${index}:0x${entry.certificateType.toString(16)}`);
      continue;
    }
    let sig: AuthenticodeSignature;
    try {
      sig = parseAuthenticodeSignature(entry.data);
    } catch (e) {
      if (!isVouchError(e)) throw e;
      // edk2 fails the whole image on a signature it cannot parse.
      reports.push(emptyReport(index, false, e.code, e.message));
      return done(false, VerifyReason.malformedSignature, `signature #${index}: ${e.message}`, undefined, reports);
    }
    const report = checkSignature(sig, index, false, pe, dbAnchors, dbxAnchors, dbx, hashCache);
    reports.push(report);
    for (const nested of sig.nested) reports.push(checkSignature(nested, index, true, pe, dbAnchors, dbxAnchors, dbx, hashCache));
    if (report.revokedBy) {
      const reason = report.revokedBy.type === 'x509' ? VerifyReason.certificateInDbx : VerifyReason.certificateHashInDbx;
      return done(
        false,
        reason,
        `signature #${index} (${report.signer?.subject ?? 'unknown signer'}) is revoked by a dbx ${report.revokedBy.type} entry`,
        undefined,
        reports,
      );
    }
    if (!trusted && report.trustedBy) trusted = report;
  }
  if (trusted)
    return done(true, VerifyReason.signedByDb, `signature #${trusted.index} chains to db certificate ${trusted.chain.at(-1)}`, trusted.trustedBy, reports);
  const hashAllowed = hashEntryMatches(db, pe, hashCache);
  if (hashAllowed) return done(true, VerifyReason.hashInDb, `the image's Authenticode ${hashAllowed.type} hash is in db`, hashAllowed, reports);
  if (reports.length === 0) return done(false, VerifyReason.unsigned, 'the image has no Authenticode signature and its hash is not in db', undefined, reports);
  const problems = reports.filter((r) => !r.nested).map((r) => `#${r.index}: ${r.problem?.message ?? 'does not chain to a db certificate'}`);
  return done(false, VerifyReason.notTrusted, `no signature is trusted by db (${problems.join('; ')})`, undefined, reports);
}

function emptyReport(index: number, nested: boolean, code: string, message: string): SignatureReport {
  return {
    index,
    nested,
    digestAlgorithm: undefined,
    signedDigest: undefined,
    digestMatches: false,
    signatureValid: false,
    signer: undefined,
    chain: [],
    trustedBy: undefined,
    revokedBy: undefined,
    problem: { code, message },
  };
}

function checkSignature(
  sig: AuthenticodeSignature,
  index: number,
  nested: boolean,
  pe: PeImage,
  dbAnchors: readonly Anchor[],
  dbxAnchors: readonly Anchor[],
  dbx: readonly SignatureEntry[],
  hashCache: Map<AuthenticodeHashAlgorithm, Uint8Array>,
): SignatureReport {
  const digest = cachedHash(pe, sig.digestAlgorithm, hashCache);
  const digestMatches = bytesEqual(digest, sig.imageDigest);
  const base = { index, nested, digestAlgorithm: sig.digestAlgorithm, signedDigest: sig.imageDigest, digestMatches };
  let bag: BagCertificate[];
  let signerEntry: BagCertificate;
  try {
    bag = parseBag(sig);
    signerEntry = checkSignerInfo(sig, bag);
  } catch (e) {
    if (e instanceof SignatureProblem) return { ...emptyReport(index, nested, e.code, e.message), ...base };
    throw e;
  }
  const signer = summarizeCertificate(signerEntry.cert);
  // dbx first: a revoked certificate anywhere in the chain, by certificate or by TBS hash.
  const dbxWalk = walkChain(bag, signerEntry, dbxAnchors);
  const bagWalk = walkChain(bag, signerEntry, []);
  const revokedBy = dbxWalk.anchor?.entry ?? tbsRevocation(dbx, bagWalk.certificates);
  const dbWalk = walkChain(bag, signerEntry, dbAnchors);
  let problem: SignatureReport['problem'];
  if (!digestMatches)
    problem = {
      code: 'ERR_SECUREBOOT_SIGNATURE_INVALID',
      message: `signed ${sig.digestAlgorithm} digest ${toHex(sig.imageDigest)} ≠ image digest ${toHex(digest)}`,
    };
  else if (dbWalk.anchor === undefined)
    problem = { code: 'ERR_SECUREBOOT_SIGNATURE_INVALID', message: `chain ${dbWalk.chain.join(' → ')} reaches no db certificate` };
  return {
    ...base,
    signatureValid: true,
    signer,
    chain: dbWalk.chain,
    trustedBy: digestMatches ? dbWalk.anchor?.entry : undefined,
    revokedBy,
    problem,
  };
}
