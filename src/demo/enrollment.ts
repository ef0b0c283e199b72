// Enrollment by credential activation in-process: the node's half (TPM2_ActivateCredential) run
// against the verifier's half (src/verifier enrollment) for a simulated node.
import { toHex } from '../bytes/index.ts';
import type { CredentialBlob, RandomSource } from '../tpm/crypto/index.ts';
import type { Loaded, Tpm } from '../tpm/index.ts';
import { attestationKeyProblems, credentialMatches, issueCredential } from '../verifier/index.ts';

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
  const bound = credentialMatches(challenge.expectedSecretSha256, activated);
  return { bound, ...names, problems: bound ? [] : ['the activated credential is not the one issued'] };
}
