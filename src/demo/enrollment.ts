// Enrollment by credential activation (DESIGN.md "Enrollment"), server and node halves. The server
// checks the AK's attributes, draws a secret S, binds it with MakeCredential to (EK public,
// Name(AK)) and keeps only H(S); the node's TPM can recover S only if it holds the EK's private key
// and the AK named — so a correct answer proves the AK lives in the same TPM as the EK.
import { createHash } from 'node:crypto';
import { constantTimeEqual, toHex } from '../bytes/index.ts';
import { makeCredential, type CredentialBlob, type RandomSource } from '../tpm/crypto/index.ts';
import { TPM_ALG, objectName, type Loaded, type Sized, type Tpm, type structures } from '../tpm/index.ts';

/** The credential secret length: one SHA-256 digest, the most a P-256 or RSA-2048 EK (nameAlg SHA-256) accepts. */
const CREDENTIAL_SECRET_BYTES = 32;

type TpmtPublic = structures.TPMT_PUBLIC;

/**
 * Why an AK cannot be bound, or none. A quote proves anything only when the key is restricted (so
 * it never signs data that starts with TPM_GENERATED_VALUE from outside), fixed to this TPM and
 * generated inside it (so its private half never existed elsewhere).
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
  // A restricted signing key must fix its scheme; with TPM_ALG_NULL the caller would pick one per quote.
  const scheme = (ak.parameters as { scheme?: { scheme: number } }).scheme;
  if (!scheme || scheme.scheme === TPM_ALG.NULL) problems.push('no signing scheme is fixed');
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
  return { blob, expectedSecretSha256: new Uint8Array(createHash('sha256').update(secret).digest()) };
}

/** Server side: whether the node's answer is S (compared in constant time, as hashes of equal length). */
export function credentialMatches(challenge: CredentialChallenge, activatedSecret: Uint8Array): boolean {
  const answer = new Uint8Array(createHash('sha256').update(activatedSecret).digest());
  return constantTimeEqual(answer, challenge.expectedSecretSha256);
}

/** Node side: TPM2_ActivateCredential with both keys loaded in the node's TPM. */
export function activateCredential(tpm: Tpm, ak: Loaded, ek: Loaded, blob: CredentialBlob): Promise<Uint8Array> {
  return tpm.activateCredential(ak, ek, blob.credentialBlob, blob.secret);
}

export interface EnrollmentRecord {
  readonly bound: boolean;
  readonly ekName: string;
  readonly akName: string;
  /** Empty when bound. */
  readonly problems: readonly string[];
}

/** Runs both halves for one node: the result the server keeps. */
export async function enrollNode(tpm: Tpm, ek: Loaded, ak: Loaded, random: RandomSource): Promise<EnrollmentRecord> {
  const names = { ekName: toHex(ek.name), akName: toHex(ak.name) };
  const problems = attestationKeyProblems(ak.public.value);
  if (problems.length > 0) return { bound: false, ...names, problems };
  const challenge = issueCredential(ek.public.value, ak.public, random);
  const activated = await activateCredential(tpm, ak, ek, challenge.blob);
  const bound = credentialMatches(challenge, activated);
  return { bound, ...names, problems: bound ? [] : ['the activated credential is not the one issued'] };
}
