// Local sealing: signed PCR policies in systemd's .pcrsig format, the TPM side (seal a secret
// under PolicyAuthorize + PolicyPCR + a policy counter, unseal with a release's signed policy), the
// node's boot order (local unseal → remote attestation → reseal) and the fleet's signing and revocation.
export { SealingError, SealingErrorCode } from './errors.ts';
export {
  VOUCH_POLICY_REF,
  MAX_PCRSIG_BYTES,
  MAX_PCRSIG_ENTRIES,
  keySigner,
  policyKeyFingerprint,
  policyKeyPublic,
  pcrPolicyDigest,
  approvalMessage,
  phaseValues,
  signPcrPolicies,
  serializePcrSignature,
  parsePcrSignature,
  verifyPcrSignature,
  findSignedPolicy,
  tpmSignature,
} from './pcr-signature.ts';
export type {
  PcrSignatureEntry,
  PcrSignatureDocument,
  PolicyCounterBinding,
  PolicySigner,
  PhaseValues,
  SignPoliciesOptions,
  SignedPolicies,
} from './pcr-signature.ts';
export {
  DEFAULT_POLICY_COUNTER_INDEX,
  MAX_COUNTER_STEPS,
  MAX_SEALED_SECRET,
  policyCounterBinding,
  advancePolicyCounter,
  readPolicyCounter,
  sealedObjectPolicy,
  sealSecret,
  resealSecret,
  findApproval,
  unsealWithApproval,
  unsealSecret,
  encodeSealedSecret,
  parseSealedSecret,
} from './seal.ts';
export type { SealedSecret, SealOptions, Approval } from './seal.ts';
export { signedCounterValue, adoptPolicyCounter, unlockLocallyOrRemotely } from './boot.ts';
export type { UnlockOptions, Unlocked } from './boot.ts';
export { DEFAULT_RELEASE_PCRS, createFleetPolicyKey, fleetPolicyKey, signReleasePolicy, revokeReleaseSignatures } from './fleet.ts';
export type { FleetPolicyKey, ReleasePolicyOptions, FleetRelease } from './fleet.ts';
