// Public API of the TPM software cryptography: KDFs, secret exchange, credential wrap/unwrap,
// protected-storage outer wrap, session crypto, key adapters, signatures.
// Names and policy digests live in src/tpm/names.ts and src/tpm/policy.ts and are re-exported here.
export { kdfa, kdfe, hashName, digestSize, KDF_MAX_BITS } from './kdf.ts';
export type { KdfLabel } from './kdf.ts';
export { systemRandom } from './random.ts';
export type { RandomSource } from './random.ts';
export { createEncryptedSeed, recoverSeed } from './seed.ts';
export type { EncryptedSeed } from './seed.ts';
export { outerWrap, outerUnwrap, storageParameters, aesCfbZeroIv } from './outer-wrap.ts';
export type { OuterWrapKey, SymmetricDef } from './outer-wrap.ts';
export { makeCredential, unwrapCredential } from './credential.ts';
export type { CredentialBlob } from './credential.ts';
export { sessionKey, cpHash, rpHash, sessionHmac, createSalt, recoverSalt, parameterCfb, parameterXor } from './session-crypto.ts';
export {
  ECC_CURVES,
  eccCurve,
  eccPointBytes,
  publicKeyFromTpm,
  publicKeyPemFromTpm,
  tpmPublicFromKey,
  privateKeyFromTpm,
  sensitiveFromPrivateKey,
} from './keys.ts';
export type { EccCurve } from './keys.ts';
export { signTpm, verifyTpmSignature } from './signature.ts';
export type { SignatureAlg, SigningScheme, Signed } from './signature.ts';
export { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa.ts';
export type { EcdsaSignature } from './ecdsa.ts';
export { TrialPolicy } from './trial-policy.ts';
export { TPM_EO } from '../constants.ts';
export { qualifiedName, hierarchyQualifiedName } from './qualified-name.ts';
export { tpmHash, objectName, nvName, handleName } from '../names.ts';
export { policyStart, ekPolicyA, ekPolicyRecipe } from '../policy.ts';
export type { EkPolicyRecipe } from '../policy.ts';
export { TpmCryptoError, TpmCryptoErrorCode } from './errors.ts';
export type { TpmCryptoErrorCodeName } from './errors.ts';
