/**
 * TPM2_MakeCredential in software (TPM 2.0 Library Part 1, 24; Part 3, 12.6) and its inverse.
 *
 * A verifier that knows an EK only by its public area issues a credential that only the TPM
 * holding that EK can recover, and only for an object whose Name is `objectName` (the AK): so a
 * correct answer proves the AK lives in the same TPM as the EK. Key derivation and HMAC use the
 * EK's nameAlg and symmetric definition (SHA-384 / AES-256 for a high-range P-384 EK), not the AK's.
 */
import type { KeyObject } from 'node:crypto';
import { encode, decode } from '../schema/index.ts';
import { TPM2B_DIGEST, type TPMT_PUBLIC } from '../structures.ts';
import { TpmCryptoError } from './errors.ts';
import { digestSize } from './kdf.ts';
import { outerUnwrap, outerWrap, storageParameters } from './outer-wrap.ts';
import { systemRandom, type RandomSource } from './random.ts';
import { createEncryptedSeed, recoverSeed } from './seed.ts';

export interface CredentialBlob {
  /** Contents of TPM2B_ID_OBJECT: TPM2B_DIGEST(integrityHMAC) ‖ encIdentity. */
  readonly credentialBlob: Uint8Array;
  /** Contents of TPM2B_ENCRYPTED_SECRET: the seed encrypted to the EK. */
  readonly secret: Uint8Array;
}

const IDENTITY = 'IDENTITY';

function checkCredentialSize(ek: TPMT_PUBLIC, credential: Uint8Array): void {
  // Part 3, 12.6.1: the credential may be at most one digest of the EK's nameAlg (TPM_RC_SIZE).
  const max = digestSize(ek.nameAlg);
  if (credential.length === 0 || credential.length > max) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `credential of ${credential.length} bytes: must be 1..${max} (one digest of the EK's nameAlg)`, {
      length: credential.length,
      max,
    });
  }
}

/**
 * MakeCredential(EK public, credential, Name(AK)): what the TPM command returns, computed in software.
 *
 * @example
 *   const { credentialBlob, secret } = makeCredential(ekPublic, challenge, objectName(akPublic));
 *   // send both to the agent; it answers with TPM2_ActivateCredential's certInfo == challenge
 *
 * Caller's duties: trust the EK first (certificate chain and key match, or an allowlist) and check
 * the AK's attributes (restricted, sign, fixedTPM, fixedParent) — the credential only proves the
 * AK shares a TPM with *this* EK; draw `credential` fresh from a CSPRNG, keep only its hash, and
 * compare the answer in constant time.
 */
export function makeCredential(ek: TPMT_PUBLIC, credential: Uint8Array, objectName: Uint8Array, random: RandomSource = systemRandom): CredentialBlob {
  const params = storageParameters(ek);
  checkCredentialSize(ek, credential);
  const { seed, encryptedSecret } = createEncryptedSeed(ek, IDENTITY, random);
  const credentialBlob = outerWrap({ ...params, seed }, objectName, encode(TPM2B_DIGEST, credential));
  return { credentialBlob, secret: encryptedSecret };
}

/**
 * The TPM side of ActivateCredential: recovers the credential with the EK's private key, for the
 * object named `objectName`. Errors: ERR_TPM_CRYPTO_DECRYPT (secret not for this EK),
 * ERR_TPM_CRYPTO_INTEGRITY (blob altered or made for another Name), ERR_TPM_CRYPTO_SIZE.
 */
export function unwrapCredential(ek: TPMT_PUBLIC, ekPrivate: KeyObject, blob: CredentialBlob, objectName: Uint8Array): Uint8Array {
  const params = storageParameters(ek);
  const seed = recoverSeed(ek, ekPrivate, IDENTITY, blob.secret);
  const plain = outerUnwrap({ ...params, seed }, objectName, blob.credentialBlob);
  let credential: Uint8Array;
  try {
    credential = decode(TPM2B_DIGEST, plain, 'encIdentity');
  } catch (e) {
    throw new TpmCryptoError('ERR_TPM_CRYPTO_SIZE', `decrypted identity is not a TPM2B_DIGEST: ${(e as Error).message}`, {}, { cause: e });
  }
  checkCredentialSize(ek, credential);
  return credential;
}
