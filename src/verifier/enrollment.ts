// Enrollment by credential activation, the server's half (docs/design.md "Enrollment"): check the AK's
// attributes and key, draw a secret S, bind it with MakeCredential to (EK public, Name(AK)) and keep
// only H(S). The node's TPM can recover S only if it holds the EK's private key and the AK named,
// so a correct answer proves the AK lives in the same TPM as the EK.
import { createHash } from 'node:crypto';
import { constantTimeEqual } from '../bytes/index.ts';
import { hashAlgorithmById } from '../hash/index.ts';
import { TPM_ALG, TPM_ECC_CURVE, algName } from '../tpm/constants.ts';
import { makeCredential, type CredentialBlob, type RandomSource } from '../tpm/crypto/index.ts';
import { objectName, type Sized, type structures } from '../tpm/index.ts';

/** The credential secret length: one SHA-256 digest, the most a P-256 or RSA-2048 EK (nameAlg SHA-256) accepts. */
export const CREDENTIAL_SECRET_BYTES = 32;

type TpmtPublic = structures.TPMT_PUBLIC;

/** RSA AKs below this size are refused (NIST SP 800-131A: 2048 bits until 2030). */
const MIN_RSA_BITS = 2048;
/** The TPM's default exponent (0 in TPMS_RSA_PARMS means 2^16+1). */
const RSA_DEFAULT_EXPONENT = 65537;
/** Name and scheme hashes an AK may use: SHA-1 names and signatures are forgeable by collision. */
const STRONG_HASHES = new Set(['sha256', 'sha384', 'sha512']);
/** Curves an ECC AK may use. */
const ALLOWED_CURVES = new Set<number>([TPM_ECC_CURVE.NIST_P256, TPM_ECC_CURVE.NIST_P384, TPM_ECC_CURVE.NIST_P521]);

/**
 * Why an AK cannot be bound, or none. A quote proves anything only when the key is restricted (so
 * it never signs data that starts with TPM_GENERATED_VALUE from outside), fixed to this TPM and
 * generated inside it (so its private half never existed elsewhere), with a fixed signing scheme
 * over a strong hash, a strong name algorithm (the Name binds it to the credential), and a key of
 * adequate strength.
 */
export function attestationKeyProblems(ak: TpmtPublic): string[] {
  const a = ak.objectAttributes;
  const problems: string[] = [];
  const required = {
    restricted: a.restricted,
    sign: a.sign,
    fixedTPM: a.fixedTPM,
    fixedParent: a.fixedParent,
    sensitiveDataOrigin: a.sensitiveDataOrigin,
  } as const;
  for (const [name, value] of Object.entries(required)) if (!value) problems.push(`${name} is clear`);
  if (a.decrypt) problems.push('decrypt is set (an AK signs only)');
  const nameAlg = hashAlgorithmById(ak.nameAlg);
  if (nameAlg === undefined || !STRONG_HASHES.has(nameAlg)) problems.push(`nameAlg is ${algName(ak.nameAlg)} (sha256, sha384 or sha512 required)`);
  const parameters = ak.parameters as {
    scheme?: { scheme: number; details: { hashAlg: number } | null };
    keyBits?: number;
    exponent?: number;
    curveID?: number;
  };
  const scheme = parameters.scheme;
  if (!scheme || scheme.scheme === TPM_ALG.NULL || !scheme.details) problems.push('no signing scheme is fixed');
  else {
    const hash = hashAlgorithmById(scheme.details.hashAlg);
    if (hash === undefined || !STRONG_HASHES.has(hash))
      problems.push(`the signing scheme hashes with ${algName(scheme.details.hashAlg)} (sha256, sha384 or sha512 required)`);
  }
  if (ak.type === TPM_ALG.RSA) {
    if ((parameters.keyBits ?? 0) < MIN_RSA_BITS) problems.push(`RSA key of ${parameters.keyBits ?? 0} bits (at least ${MIN_RSA_BITS})`);
    const exponent = parameters.exponent === 0 ? RSA_DEFAULT_EXPONENT : (parameters.exponent ?? 0);
    // A tiny or even exponent makes signatures forgeable or the key unusable.
    if (exponent < 3 || exponent % 2 === 0) problems.push(`RSA public exponent ${exponent} (odd and at least 3 required; TPMs use 65537)`);
  } else if (ak.type === TPM_ALG.ECC) {
    if (!ALLOWED_CURVES.has(parameters.curveID ?? -1))
      problems.push(`ECC curve 0x${(parameters.curveID ?? 0).toString(16)} (NIST P-256, P-384 or P-521 required)`);
  } else {
    problems.push(`key type ${algName(ak.type)} cannot sign quotes (RSA or ECC required)`);
  }
  return problems;
}

export interface CredentialChallenge {
  /** Sent to the node. */
  readonly blob: CredentialBlob;
  /** Kept by the server: H(S), never S itself. */
  readonly expectedSecretSha256: Uint8Array;
}

/** Server side: a fresh secret bound to (EK, Name(AK)). */
export function issueCredential(ekPublic: TpmtPublic, akPublic: Sized<TpmtPublic>, random: RandomSource): CredentialChallenge {
  const secret = random(CREDENTIAL_SECRET_BYTES);
  const blob = makeCredential(ekPublic, secret, objectName(akPublic), random);
  const expectedSecretSha256 = new Uint8Array(createHash('sha256').update(secret).digest());
  secret.fill(0);
  return { blob, expectedSecretSha256 };
}

/** Server side: whether the node's answer is S (compared in constant time, as hashes of equal length). */
export function credentialMatches(expectedSecretSha256: Uint8Array, activatedSecret: Uint8Array): boolean {
  const answer = new Uint8Array(createHash('sha256').update(activatedSecret).digest());
  return constantTimeEqual(answer, expectedSecretSha256);
}
