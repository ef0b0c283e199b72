/**
 * EK and AK certificates: does the certificate a node presents chain to a CA this fleet trusts, is
 * it the kind of certificate it claims to be, and does it certify exactly the key the node's TPM
 * holds? A valid certificate for some other TPM's key proves nothing about this one (the swap
 * attack on enrollment), so the key check is as much part of the answer as the chain.
 *
 * - EK certificates (TCG EK Credential Profile for TPM Family 2.0, §3.2): issued by the TPM
 *   vendor's CA; not a CA itself; extended key usage tcg-kp-EKCertificate (2.23.133.8.1); key usage
 *   keyEncipherment for an RSA EK, keyAgreement for an ECC EK. The subject may be empty (the profile
 *   then puts the TPM's identity in a critical subjectAltName).
 * - AK certificates (cloud mode): a cloud vTPM CA certifies the AK directly, in place of credential
 *   activation; not a CA; key usage, when present, allows digitalSignature.
 *
 * The chain is built by @peculiar/x509 (X509ChainBuilder: issuer name, key identifiers, signature)
 * from the configured roots and intermediates; every certificate on it is then checked as RFC 5280
 * §6.1 and OpenSSL do: validity at the injected `now`, issuers are CAs (basicConstraints cA) whose
 * key usage, when present, allows keyCertSign, pathLenConstraint, no critical extension left
 * unprocessed. Pure except that WebCrypto verifies signatures asynchronously: certificates, trust
 * and a clock in, a result listing every problem out. Only unusable trust configuration throws.
 */
import 'reflect-metadata';
import { BasicConstraintsExtension, ExtendedKeyUsageExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate, X509ChainBuilder } from '@peculiar/x509';
import { KeyObject, createPublicKey } from 'node:crypto';
import { toHex } from '../../bytes/index.ts';
import { DerCursor, DerError, DerTag, decodeOid, parseCertificateFields, parseDer } from '../../der/index.ts';
import { EMPTY_ISSUER, EMPTY_SUBJECT } from '../../secureboot/index.ts';
import { publicKeyFromTpm } from '../../tpm/crypto/index.ts';
import type { TPMT_PUBLIC } from '../../tpm/structures.ts';
import { EndorsementError } from './errors.ts';

export const EndorsementKind = { ek: 'ek', ak: 'ak' } as const;
export type EndorsementKind = (typeof EndorsementKind)[keyof typeof EndorsementKind];

export const EndorsementOid = {
  /** TCG EK Credential Profile §3.2.16 (2.23.133.8.1). */
  tcgKpEkCertificate: '2.23.133.8.1',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  certificatePolicies: '2.5.29.32',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
} as const;

/**
 * Extensions whose meaning this validation applies, so they may be critical. Anything else marked
 * critical makes the certificate unusable (RFC 5280 §4.2); like OpenSSL, the policy OIDs of
 * certificatePolicies are accepted without a policy check.
 */
const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  EndorsementOid.basicConstraints,
  EndorsementOid.keyUsage,
  EndorsementOid.extendedKeyUsage,
  EndorsementOid.subjectAltName,
  EndorsementOid.certificatePolicies,
]);

export const EndorsementProblemCode = {
  /** The certificate is not strict DER X.509 (or not a certificate at all). */
  unparsable: 'certificate-unparsable',
  /** No configured root is reached through the configured intermediates (or the chain loops). */
  chainIncomplete: 'chain-incomplete',
  chainTooLong: 'chain-too-long',
  notYetValid: 'not-yet-valid',
  expired: 'expired',
  /** An issuing certificate lacks basicConstraints cA = TRUE. */
  issuerNotCa: 'issuer-not-ca',
  /** An issuing certificate's key usage does not allow keyCertSign. */
  issuerKeyUsage: 'issuer-key-usage',
  pathLength: 'path-length-exceeded',
  unprocessedCriticalExtension: 'unprocessed-critical-extension',
  /** The EK or AK certificate is itself a CA certificate. */
  certificateIsCa: 'certificate-is-ca',
  extendedKeyUsage: 'extended-key-usage',
  keyUsage: 'key-usage',
  /** The certificate certifies another public key than the one given. */
  keyMismatch: 'key-mismatch',
} as const;
export type EndorsementProblemCode = (typeof EndorsementProblemCode)[keyof typeof EndorsementProblemCode];

export interface EndorsementProblem {
  readonly code: EndorsementProblemCode;
  readonly message: string;
  /** Position in `chain` (0: the certificate validated) of the certificate concerned. */
  readonly certificate: number | undefined;
}

export interface ChainCertificate {
  /** One line; EMPTY_SUBJECT for an empty Name. */
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** One of the configured roots (the end of a complete chain). */
  readonly root: boolean;
}

export interface EndorsementTrust {
  /** The CAs trusted for this fleet (TPM vendor roots, a cloud vTPM CA): DER bytes or PEM. */
  readonly roots: readonly (Uint8Array | string)[];
  /** Intermediates the vendor publishes; they only help build the path and are trusted through it. */
  readonly intermediates?: readonly (Uint8Array | string)[];
  /** The time to check validity at (injected: no clock is read here). */
  readonly now: Date;
}

export interface EndorsementResult {
  /** True only when `problems` is empty. */
  readonly valid: boolean;
  readonly kind: EndorsementKind;
  /** The validated certificate first, then its issuers as far as the chain was built. */
  readonly chain: readonly ChainCertificate[];
  /** Whether the certified key was compared with a given key (false when the caller passed null). */
  readonly keyChecked: boolean;
  readonly problems: readonly EndorsementProblem[];
}

/** An EK certificate is 1–2 KiB; a chain bag of a few is far below this. */
export const MAX_ENDORSEMENT_CERTIFICATE_SIZE = 64 * 1024;
/** Roots plus intermediates: Microsoft's TPM root bundle, the largest in use, holds a few hundred. */
export const MAX_TRUST_CERTIFICATES = 4096;
/** Certificates from the validated one to its root inclusive: vendor chains are 2–4 long. */
export const MAX_CHAIN_LENGTH = 8;

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\s*$/;

/** DER of a certificate given as DER bytes, PEM bytes or PEM text; undefined when it is neither. */
function certificateDer(input: Uint8Array | string): Uint8Array | undefined {
  const text = typeof input === 'string' ? input : input[0] === 0x2d ? Buffer.from(input).toString('latin1') : undefined;
  if (text === undefined) return input as Uint8Array;
  const m = PEM_CERTIFICATE.exec(text.trim() + '\n');
  return m ? new Uint8Array(Buffer.from(m[1]!, 'base64')) : undefined;
}

interface ParsedCertificate {
  readonly cert: X509Certificate;
  /** The algorithm OID of the certified key (SubjectPublicKeyInfo.algorithm.algorithm). */
  readonly keyAlgorithm: string;
}

/** Strict DER first (the one DER layer), then @peculiar/x509's model of the same bytes; a string says why not. */
function parseCertificate(input: Uint8Array | string): ParsedCertificate | string {
  const der = certificateDer(input);
  if (der === undefined) return 'neither DER nor a PEM CERTIFICATE block';
  if (der.length > MAX_ENDORSEMENT_CERTIFICATE_SIZE)
    return `${der.length} bytes, more than the ${MAX_ENDORSEMENT_CERTIFICATE_SIZE} an EK or AK certificate may have`;
  let keyAlgorithm: string;
  try {
    const spki = new DerCursor(parseDer(parseCertificateFields(der).subjectPublicKeyInfo), 'subjectPublicKeyInfo');
    keyAlgorithm = decodeOid(new DerCursor(spki.next('algorithm', DerTag.sequence), 'algorithm').next('algorithm', DerTag.oid));
  } catch (e) {
    if (e instanceof DerError) return e.message;
    throw e;
  }
  try {
    return { cert: new X509Certificate(der), keyAlgorithm };
  } catch (e) {
    return `not an X.509 certificate: ${(e as Error).message}`;
  }
}

function trustCertificates(list: readonly (Uint8Array | string)[], what: string): X509Certificate[] {
  return list.map((c, i) => {
    const parsed = parseCertificate(c);
    if (typeof parsed === 'string')
      throw new EndorsementError('ERR_ENDORSEMENT_TRUST_INVALID', `${what} #${i} is not a usable X.509 certificate: ${parsed}`, {
        certificate: `${what} #${i}`,
      });
    return parsed.cert;
  });
}

const describe = (cert: X509Certificate, root: boolean): ChainCertificate => ({
  subject: cert.subject || EMPTY_SUBJECT,
  issuer: cert.issuer || EMPTY_ISSUER,
  serialNumber: cert.serialNumber,
  notBefore: cert.notBefore,
  notAfter: cert.notAfter,
  root,
});

const rawHex = (cert: X509Certificate): string => toHex(new Uint8Array(cert.rawData));

/** The certificate's public key as node:crypto reads it, or why it cannot. */
function certifiedPublicKey(cert: X509Certificate): KeyObject | string {
  try {
    return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (e) {
    return (e as Error).message;
  }
}

function keyUsageNames(flags: number): string {
  const names = Object.entries(KeyUsageFlags).filter(([, bit]) => typeof bit === 'number' && (flags & bit) !== 0);
  return names.length ? names.map(([name]) => name).join(', ') : 'none';
}

/** RFC 5280 §6.1 checks on one certificate of the chain (position `i`; 0 is the validated one). */
function checkChainCertificate(cert: X509Certificate, i: number, now: Date, problem: (code: EndorsementProblemCode, message: string) => void): void {
  const name = i === 0 ? 'the certificate' : `issuer ${cert.subject || EMPTY_SUBJECT}`;
  if (now < cert.notBefore)
    problem(EndorsementProblemCode.notYetValid, `${name} is not valid before ${cert.notBefore.toISOString()} (checked at ${now.toISOString()})`);
  if (now > cert.notAfter) problem(EndorsementProblemCode.expired, `${name} expired at ${cert.notAfter.toISOString()} (checked at ${now.toISOString()})`);
  for (const extension of cert.extensions) {
    if (extension.critical && !PROCESSED_EXTENSIONS.has(extension.type))
      problem(EndorsementProblemCode.unprocessedCriticalExtension, `${name} has a critical extension ${extension.type} that is not processed here`);
  }
  if (i === 0) return;
  const constraints = cert.getExtension(BasicConstraintsExtension);
  if (!constraints?.ca)
    problem(
      EndorsementProblemCode.issuerNotCa,
      `${name} is not a CA (basicConstraints cA is ${constraints ? 'FALSE' : 'absent'}) and cannot issue certificates`,
    );
  const usage = cert.getExtension(KeyUsagesExtension);
  if (usage && (usage.usages & KeyUsageFlags.keyCertSign) === 0)
    problem(EndorsementProblemCode.issuerKeyUsage, `${name} may not sign certificates (key usage: ${keyUsageNames(usage.usages)})`);
  // pathLenConstraint counts the intermediate CAs below this one (RFC 5280 §4.2.1.9).
  if (constraints?.pathLength !== undefined && i - 1 > constraints.pathLength)
    problem(EndorsementProblemCode.pathLength, `${name} allows ${constraints.pathLength} intermediate CAs below it, the chain has ${i - 1}`);
}

/** The profile of the validated certificate: what an EK or an AK certificate must say about its key. */
function checkProfile(
  { cert, keyAlgorithm }: ParsedCertificate,
  kind: EndorsementKind,
  problem: (code: EndorsementProblemCode, message: string) => void,
): void {
  if (cert.getExtension(BasicConstraintsExtension)?.ca)
    problem(EndorsementProblemCode.certificateIsCa, `an ${kind.toUpperCase()} certificate must not be a CA certificate (basicConstraints cA is TRUE)`);
  const usage = cert.getExtension(KeyUsagesExtension);
  if (kind === EndorsementKind.ek) {
    const eku = cert.getExtension(ExtendedKeyUsageExtension);
    if (!eku?.usages.includes(EndorsementOid.tcgKpEkCertificate))
      problem(
        EndorsementProblemCode.extendedKeyUsage,
        `an EK certificate must carry extended key usage tcg-kp-EKCertificate (${EndorsementOid.tcgKpEkCertificate}); it has ${eku ? eku.usages.join(', ') || 'none' : 'no extended key usage extension'}`,
      );
    // TCG EK Credential Profile §3.2.15: an RSA EK decrypts (credential activation, salts), an ECC EK agrees keys.
    const needed =
      keyAlgorithm === EndorsementOid.rsaEncryption
        ? { flag: KeyUsageFlags.keyEncipherment, key: 'RSA', usage: 'keyEncipherment' }
        : keyAlgorithm === EndorsementOid.ecPublicKey
          ? { flag: KeyUsageFlags.keyAgreement, key: 'ECC', usage: 'keyAgreement' }
          : undefined;
    if (needed === undefined) problem(EndorsementProblemCode.keyUsage, `an EK is an RSA or ECC key; this certificate certifies a ${keyAlgorithm} key`);
    else if (!usage || (usage.usages & needed.flag) === 0)
      problem(
        EndorsementProblemCode.keyUsage,
        `an ${needed.key} EK certificate must allow ${needed.usage}; key usage: ${usage ? keyUsageNames(usage.usages) : 'absent'}`,
      );
  } else if (usage && (usage.usages & KeyUsageFlags.digitalSignature) === 0) {
    problem(EndorsementProblemCode.keyUsage, `an AK certificate must allow digitalSignature; key usage: ${keyUsageNames(usage.usages)}`);
  }
}

/**
 * Validates an EK or AK certificate against `trust`, for `certifiedKey` (the TPM's public area, or
 * a KeyObject; null to skip the key check, e.g. when only the chain is being inspected).
 *
 * @example
 *   const r = await validateEndorsementCertificate('ek', await tpm.readEkCertificate('RSA2048'), ek.public.value, { roots: [vendorRootPem], now: new Date() });
 *   if (!r.valid) for (const p of r.problems) console.log(p.code, p.message);
 *
 * Caller's duties: roots are the CAs you trust for this fleet (a vendor CA for EKs, the cloud's vTPM
 * CA for AKs: never the same list for both); pass the key the enrolling TPM actually proved it
 * holds. Throws EndorsementError (ERR_ENDORSEMENT_TRUST_INVALID) only for unusable trust input, and
 * TpmCryptoError when `certifiedKey` is not a usable RSA or ECC public area; a bad certificate is a
 * result with problems, never an exception.
 */
export async function validateEndorsementCertificate(
  kind: EndorsementKind,
  certificate: Uint8Array | string,
  certifiedKey: TPMT_PUBLIC | KeyObject | null,
  trust: EndorsementTrust,
): Promise<EndorsementResult> {
  const intermediates = trust.intermediates ?? [];
  if (trust.roots.length + intermediates.length > MAX_TRUST_CERTIFICATES)
    throw new EndorsementError(
      'ERR_ENDORSEMENT_TRUST_INVALID',
      `${trust.roots.length + intermediates.length} trust certificates configured, at most ${MAX_TRUST_CERTIFICATES}`,
      {
        max: MAX_TRUST_CERTIFICATES,
      },
    );
  const roots = trustCertificates(trust.roots, 'root');
  const pool = [...roots, ...trustCertificates(intermediates, 'intermediate')];
  const expectedKey =
    certifiedKey === null
      ? undefined
      : certifiedKey instanceof KeyObject
        ? certifiedKey.type === 'private'
          ? createPublicKey(certifiedKey)
          : certifiedKey
        : publicKeyFromTpm(certifiedKey);

  const problems: EndorsementProblem[] = [];
  const parsed = parseCertificate(certificate);
  if (typeof parsed === 'string') {
    problems.push({ code: EndorsementProblemCode.unparsable, message: `the ${kind.toUpperCase()} certificate: ${parsed}`, certificate: 0 });
    return { valid: false, kind, chain: [], keyChecked: false, problems };
  }
  const leaf = parsed.cert;

  let built: X509Certificate[];
  let loops = false;
  try {
    built = [...(await new X509ChainBuilder({ certificates: pool }).build(leaf))];
  } catch (e) {
    // The builder's one failure: an issuer it already put on the chain (certificates that issue each other).
    problems.push({ code: EndorsementProblemCode.chainIncomplete, message: `the chain cannot be built: ${(e as Error).message}`, certificate: undefined });
    built = [leaf];
    loops = true;
  }
  const rootKeys = new Set(roots.map(rawHex));
  const rootAt = built.findIndex((c) => rootKeys.has(rawHex(c)));
  const chain = rootAt < 0 ? built : built.slice(0, rootAt + 1);
  if (rootAt < 0 && !loops) {
    const last = chain.at(-1)!;
    problems.push({
      code: EndorsementProblemCode.chainIncomplete,
      message: `no configured root or intermediate issued ${last.subject || EMPTY_SUBJECT} (issuer ${last.issuer || EMPTY_ISSUER}): add the issuing CA to the roots or intermediates`,
      certificate: chain.length - 1,
    });
  }
  if (chain.length > MAX_CHAIN_LENGTH)
    problems.push({ code: EndorsementProblemCode.chainTooLong, message: `${chain.length} certificates, at most ${MAX_CHAIN_LENGTH}`, certificate: undefined });
  chain.forEach((cert, i) => {
    checkChainCertificate(cert, i, trust.now, (code, message) => problems.push({ code, message, certificate: i }));
  });

  checkProfile(parsed, kind, (code, message) => problems.push({ code, message, certificate: 0 }));
  if (expectedKey !== undefined) {
    const leafKey = certifiedPublicKey(leaf);
    if (typeof leafKey === 'string')
      problems.push({ code: EndorsementProblemCode.keyMismatch, message: `the certified public key cannot be read: ${leafKey}`, certificate: 0 });
    else if (!leafKey.equals(expectedKey))
      problems.push({
        code: EndorsementProblemCode.keyMismatch,
        message: `the certificate certifies another public key than this ${kind.toUpperCase()}: it belongs to another TPM`,
        certificate: 0,
      });
  }
  return { valid: problems.length === 0, kind, chain: chain.map((c, i) => describe(c, i === rootAt)), keyChecked: expectedKey !== undefined, problems };
}

/** validateEndorsementCertificate for an EK certificate (TCG EK Credential Profile). */
export function validateEkCertificate(
  certificate: Uint8Array | string,
  ek: TPMT_PUBLIC | KeyObject | null,
  trust: EndorsementTrust,
): Promise<EndorsementResult> {
  return validateEndorsementCertificate(EndorsementKind.ek, certificate, ek, trust);
}

/** validateEndorsementCertificate for a cloud vTPM AK certificate. */
export function validateAkCertificate(
  certificate: Uint8Array | string,
  ak: TPMT_PUBLIC | KeyObject | null,
  trust: EndorsementTrust,
): Promise<EndorsementResult> {
  return validateEndorsementCertificate(EndorsementKind.ak, certificate, ak, trust);
}
