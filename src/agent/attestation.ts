// The node's half of the protocol (docs/design.md "Enrollment", "Attestation and key release"), over
// any TPM and any client: enroll by credential activation, then attest — an ephemeral P-256 key
// made for this attestation alone, the quote bound to it and to the challenge nonce, and the
// released secrets decrypted in memory with its private half, which is never exported.
import { Compile } from 'typebox/compile';
import { compactDecrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { toHex } from '../bytes/index.ts';
import { HashAlgorithm, isHashAlgorithmName } from '../hash/index.ts';
import { ReleasedSecrets, qualifyingData, type AttestResponse, type ChallengeResponse } from '../protocol/index.ts';
import { encode, structures, type Loaded, type PcrSelection, type Tpm } from '../tpm/index.ts';
import { checkQuote } from '../verifier/index.ts';
import type { VouchClient } from './client.ts';
import { AgentError } from './errors.ts';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

export interface EnrollInput {
  readonly ek: Loaded;
  readonly ak: Loaded;
  readonly hostname: string;
  readonly ekCertificate?: Uint8Array;
  readonly akCertificate?: Uint8Array;
}

export type EnrollOutcome =
  | { readonly status: 'enrolled'; readonly nodeId: string; readonly enrollmentId: string }
  | { readonly status: 'pending-approval'; readonly enrollmentId: string; readonly reason?: string };

/** Sends the keys; answers the credential challenge when there is one (or after approval, via resumeEnrollment). */
export async function enroll(client: VouchClient, tpm: Tpm, input: EnrollInput): Promise<EnrollOutcome> {
  const response = await client.enroll({
    ekPublic: b64(encode(structures.TPM2B_PUBLIC, input.ek.public)),
    akPublic: b64(encode(structures.TPM2B_PUBLIC, input.ak.public)),
    hostname: input.hostname,
    ...(input.ekCertificate ? { ekCertificate: b64(input.ekCertificate) } : {}),
    ...(input.akCertificate ? { akCertificate: b64(input.akCertificate) } : {}),
  });
  return answer(client, tpm, input, response);
}

/** Asks again about an enrollment that waited for approval; activates once the server sends the challenge. */
export async function resumeEnrollment(client: VouchClient, tpm: Tpm, input: Pick<EnrollInput, 'ek' | 'ak'>, enrollmentId: string): Promise<EnrollOutcome> {
  return answer(client, tpm, input, await client.enrollment(enrollmentId));
}

async function answer(
  client: VouchClient,
  tpm: Tpm,
  input: Pick<EnrollInput, 'ek' | 'ak'>,
  response: Awaited<ReturnType<VouchClient['enroll']>>,
): Promise<EnrollOutcome> {
  if (response.status === 'enrolled' && response.nodeId) return { status: 'enrolled', nodeId: response.nodeId, enrollmentId: response.enrollmentId };
  if (response.status === 'pending-approval')
    return { status: 'pending-approval', enrollmentId: response.enrollmentId, ...(response.reason ? { reason: response.reason } : {}) };
  if (response.status === 'denied')
    throw new AgentError('ERR_AGENT_REFUSED', `enrollment denied: ${response.reason ?? 'by an operator'}`, { enrollmentId: response.enrollmentId });
  if (!response.credential)
    throw new AgentError('ERR_AGENT_REFUSED', 'the server asked for activation without a credential', { enrollmentId: response.enrollmentId });
  // Only a TPM that holds both the EK's private key and this AK can recover the secret.
  const secret = await tpm.activateCredential(input.ak, input.ek, unb64(response.credential.credentialBlob), unb64(response.credential.encryptedSecret));
  try {
    const activated = await client.activate(response.enrollmentId, { secret: b64(secret) });
    return { status: 'enrolled', nodeId: activated.nodeId, enrollmentId: response.enrollmentId };
  } finally {
    secret.fill(0);
  }
}

const TPM_BANKS: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(HashAlgorithm).map(([name, a]) => [name, a.id]));

function tpmSelection(challenge: ChallengeResponse): PcrSelection[] {
  return challenge.pcrSelection.map(({ bank, pcrs }) => {
    if (!isHashAlgorithmName(bank)) throw new AgentError('ERR_AGENT_REFUSED', `the server asks for PCR bank ${bank}`, { bank });
    return { hash: TPM_BANKS[bank] as PcrSelection['hash'], pcrs };
  });
}

/** PCRs may move between the quote and the read-back (something extending meanwhile): try again. */
const QUOTE_ATTEMPTS = 5;

export interface AttestInput {
  readonly nodeId: string;
  readonly ak: Loaded;
  /** binary_bios_measurements as read at this moment. */
  readonly eventLog: Uint8Array;
  /** A kubelet client certificate request (PEM), when the cluster CA signs node certificates. */
  readonly csr?: string;
}

export interface AttestOutcome {
  readonly response: AttestResponse;
  /** Decrypted in memory; present only when the server released them. */
  readonly secrets?: ReleasedSecrets;
}

const releasedSecrets = Compile(ReleasedSecrets);
type EphemeralPrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * One attestation: challenge, quote bound to (nonce, ephemeral key), appraisal by the server, and
 * the secrets decrypted with the ephemeral private key (which never leaves this function).
 */
export async function attest(client: VouchClient, tpm: Tpm, input: AttestInput): Promise<AttestOutcome> {
  const challenge = await client.challenge(input.nodeId);
  const selection = tpmSelection(challenge);
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
  const ephemeralPublic = (await exportJWK(publicKey)) as JWK & { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  const extraData = await qualifyingData(unb64(challenge.nonce), ephemeralPublic);

  for (let attempt = 0; attempt < QUOTE_ATTEMPTS; attempt++) {
    const quote = await tpm.quote(input.ak.ref, extraData, selection);
    const pcrs = await tpm.pcrRead(selection);
    // The values sent must be the ones quoted: check pcrDigest here, as the server will.
    const local = checkQuote({
      ak: input.ak.public.value,
      untrustedAttest: quote.quoted.bytes,
      untrustedSignature: quote.signatureBytes,
      pcrs,
      expectedExtraData: extraData,
      expectedSelection: selection,
    });
    if (!local.verified && local.code === 'ERR_QUOTE_PCR_DIGEST_MISMATCH') continue;
    if (!local.verified) throw new AgentError('ERR_AGENT_REFUSED', `this TPM's own quote does not verify: ${local.reason}`, { code: local.code });
    const response = await client.attest({
      sessionId: challenge.sessionId,
      quote: { attest: b64(quote.quoted.bytes), signature: b64(quote.signatureBytes) },
      pcrValues: pcrs,
      eventLog: b64(input.eventLog),
      ephemeralPublic: { kty: 'EC', crv: 'P-256', x: ephemeralPublic.x, y: ephemeralPublic.y },
      ...(input.csr !== undefined ? { csr: input.csr } : {}),
    });
    if (response.secrets === undefined) return { response };
    return { response, secrets: await decryptSecrets(response.secrets, privateKey, input.nodeId) };
  }
  throw new AgentError('ERR_AGENT_QUOTE_UNSTABLE', `PCRs changed between quote and read ${QUOTE_ATTEMPTS} times in a row`, {});
}

async function decryptSecrets(jwe: string, privateKey: EphemeralPrivateKey, nodeId: string): Promise<ReleasedSecrets> {
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, privateKey, { keyManagementAlgorithms: ['ECDH-ES+A256KW'], contentEncryptionAlgorithms: ['A256GCM'] }));
  } catch (e) {
    throw new AgentError('ERR_AGENT_SECRETS', `the released secrets do not decrypt with this attestation's key: ${(e as Error).message}`, {}, { cause: e });
  }
  let secrets: unknown;
  try {
    secrets = JSON.parse(Buffer.from(plaintext).toString('utf8'));
  } finally {
    plaintext.fill(0);
  }
  if (!releasedSecrets.Check(secrets) || secrets.nodeId !== nodeId) {
    throw new AgentError('ERR_AGENT_SECRETS', 'the released secrets are not this node’s or do not match the protocol', { nodeId });
  }
  return secrets;
}

/** For logs: the nonce a result answered, without exposing anything secret. */
export function describeNonce(nonce: Uint8Array): string {
  return toHex(nonce).slice(0, 16);
}
