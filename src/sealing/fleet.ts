/**
 * The fleet side of local sealing, for the server: one PCR policy key per fleet, a signed policy
 * for every reference release (its predicted PCRs, bound to the fleet's policy counter), and
 * revocation — the counter goes up by one and every release still trusted is signed again with
 * it; a node that adopts the new value (adoptPolicyCounter, or its next unlock) no longer unseals
 * with the revoked release's approvals, whatever its PCRs.
 *
 * The private key lives in the key broker's protection: the server keeps its PKCS#8 PEM as a broker
 * secret (sealed under the broker's master key — a file or a PKCS#11 HSM key) and opens it for a
 * signing run with fleetPolicyKey(pem); a key that stays inside an HSM signs through a PolicySigner
 * callback instead (fleetPolicyKey(publicKey, signer)).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Prediction } from '../predict/index.ts';
import { SealingError } from './errors.ts';
import { keySigner, signPcrPolicies, type PcrSignatureDocument, type PolicySigner } from './pcr-signature.ts';
import { DEFAULT_POLICY_COUNTER_INDEX, policyCounterBinding } from './seal.ts';

/** The PCRs a release's policy covers unless configured: the Secure Boot state (7) and the UKI (11). */
export const DEFAULT_RELEASE_PCRS: readonly number[] = [7, 11];

export interface FleetPolicyKey {
  readonly publicKey: KeyObject;
  readonly signer: PolicySigner;
}

/** A new fleet PCR policy key (ECDSA P-256 unless RSA-2048 is asked for), as PEM: the private half goes into the broker. */
export function createFleetPolicyKey(kind: 'ec' | 'rsa' = 'ec'): { privatePem: string; publicPem: string } {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The fleet key from its private PEM (as the broker returns it), or from a public key and a signer that holds the private one. */
export function fleetPolicyKey(privatePem: string | Uint8Array): FleetPolicyKey;
export function fleetPolicyKey(publicKey: KeyObject, signer: PolicySigner): FleetPolicyKey;
export function fleetPolicyKey(key: string | Uint8Array | KeyObject, signer?: PolicySigner): FleetPolicyKey {
  if (!(typeof key === 'string' || key instanceof Uint8Array)) {
    if (signer === undefined) throw new SealingError('ERR_SEALING_KEY', 'a fleet policy key given by its public key needs a signer', {});
    return { publicKey: key.type === 'private' ? createPublicKey(key) : key, signer };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(key), format: 'pem' });
  } catch (e) {
    throw new SealingError('ERR_SEALING_KEY', `the fleet policy key is not a PEM private key (${(e as Error).message})`, {}, { cause: e });
  }
  return { publicKey: createPublicKey(privateKey), signer: keySigner(privateKey) };
}

export interface ReleasePolicyOptions {
  /** PCRs each policy covers (default 7 and 11). */
  readonly pcrs?: readonly number[];
  /** The nodes' policy counter index (default DEFAULT_POLICY_COUNTER_INDEX). */
  readonly counterIndex?: number;
}

/**
 * A release's signed policy at the fleet's counter value: per boot phase of its prediction, a
 * systemd entry (PolicyPCR) and a counter-bound entry (PolicyPCR + PolicyNV), sha256 bank. Publish it
 * with the release, and give it to the nodes before they reboot into it.
 */
export async function signReleasePolicy(
  prediction: Prediction,
  key: FleetPolicyKey,
  counter: number,
  options: ReleasePolicyOptions = {},
): Promise<PcrSignatureDocument> {
  const signed = await signPcrPolicies(prediction, {
    publicKey: key.publicKey,
    signer: key.signer,
    banks: ['sha256'],
    pcrs: options.pcrs ?? DEFAULT_RELEASE_PCRS,
    counter: policyCounterBinding(counter, options.counterIndex ?? DEFAULT_POLICY_COUNTER_INDEX),
  });
  return signed.document;
}

export interface FleetRelease {
  readonly id: string;
  readonly prediction: Prediction;
}

/**
 * Revokes the signatures of every release not in `kept`: the fleet counter goes from `counter` to
 * counter + 1 and each kept release is signed again with it. The server stores the new value and
 * replaces the kept releases' documents; the revoked releases keep their old documents, which stop
 * unsealing on each node once it has adopted the new value.
 */
export async function revokeReleaseSignatures(
  kept: readonly FleetRelease[],
  counter: number,
  key: FleetPolicyKey,
  options: ReleasePolicyOptions = {},
): Promise<{ counter: number; documents: ReadonlyMap<string, PcrSignatureDocument> }> {
  const next = counter + 1;
  const documents = new Map<string, PcrSignatureDocument>();
  for (const release of kept) documents.set(release.id, await signReleasePolicy(release.prediction, key, next, options));
  return { counter: next, documents };
}
