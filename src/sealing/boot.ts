/**
 * The node's boot order (docs/design.md "Node side"): local unseal with the booted release's signed
 * policy → on failure, remote attestation → on success, reseal. The agent injects the remote
 * attestation and where the sealed secret is kept; this module decides the order and what each
 * outcome leaves behind (the policy counter, a fresh sealed secret).
 */
import type { KeyObject } from 'node:crypto';
import type { VouchError } from '../errors/index.ts';
import { TpmRcError, type Tpm } from '../tpm/index.ts';
import { SealingError } from './errors.ts';
import { verifyPcrSignature, policyKeyFingerprint, type PcrSignatureDocument } from './pcr-signature.ts';
import {
  DEFAULT_POLICY_COUNTER_INDEX,
  advancePolicyCounter,
  findApproval,
  readPolicyCounter,
  resealSecret,
  unsealWithApproval,
  type SealedSecret,
} from './seal.ts';

/**
 * The highest policy-counter value among `document`'s counter-bound entries signed by `policyKey`
 * (each signature checked: a document with one bad signature is refused), or undefined when it has none.
 * The fleet signed it, so the fleet's counter has reached it: a node may raise its own counter to it.
 */
export function signedCounterValue(document: PcrSignatureDocument, policyKey: KeyObject): number | undefined {
  verifyPcrSignature(document, policyKey);
  const pkfp = policyKeyFingerprint(policyKey);
  const values = Object.values(document).flatMap((entries) => entries.filter((e) => e.pkfp === pkfp && e.counter !== undefined).map((e) => e.counter!));
  return values.length === 0 ? undefined : Math.max(...values);
}

/**
 * Applies the revocations a newly received signed policy carries: raises this TPM's policy counter
 * to the document's counter value, so that every approval signed with a lower value stops
 * unsealing here, PCRs or not. The agent calls it once it has stored the new release documents
 * (the booted release's included: an approval it no longer has would cost a remote attestation at
 * the next boot). Returns the counter's value; a document with no counter-bound entries leaves it.
 */
export async function adoptPolicyCounter(
  tpm: Tpm,
  document: PcrSignatureDocument,
  policyKey: KeyObject,
  counterIndex: number = DEFAULT_POLICY_COUNTER_INDEX,
): Promise<number> {
  const value = signedCounterValue(document, policyKey);
  const current = await readPolicyCounter(tpm, counterIndex);
  if (value === undefined || value <= current) return current;
  return advancePolicyCounter(tpm, value, counterIndex);
}

export interface UnlockOptions {
  readonly tpm: Tpm;
  /** The secret sealed on this TPM at the last reseal (parseSealedSecret of what `reseal` stored); undefined before the first. */
  readonly sealed: SealedSecret | undefined;
  /** The booted release's signed policy: the UKI's `.pcrsig` or the document the agent stored for it; undefined when none. */
  readonly signature: PcrSignatureDocument | undefined;
  /** The fleet's PCR policy key (public), as configured on the node. */
  readonly policyKey: KeyObject;
  /** The PIN, when the secret was sealed with one. */
  readonly pin?: Uint8Array;
  readonly counterIndex?: number;
  /** Remote attestation: resolves with the secret the server released, rejects when it refuses (the rejection is the boot's). */
  readonly remote: () => Promise<Uint8Array>;
  /** Keeps a freshly sealed secret for the next boot (encodeSealedSecret, written next to the volume). */
  readonly reseal: (sealed: SealedSecret) => Promise<void>;
}

export interface Unlocked {
  readonly secret: Uint8Array;
  /** Whether the TPM unsealed it with the release's signed policy, or the server released it. */
  readonly via: 'local' | 'remote';
  /** Why the local unseal did not happen (via remote): its typed error, undefined when nothing was sealed yet. */
  readonly localFailure?: VouchError;
  /** A failure after the secret was had — resealing (`reseal` included), or raising the policy counter: the boot goes on, the agent reports it. */
  readonly followUpFailure?: Error;
}

/** The refusals that send a boot to remote attestation: the sealing layer's and the TPM's answers (not a broken transport). */
function isLocalRefusal(e: unknown): e is SealingError | TpmRcError {
  return e instanceof SealingError || e instanceof TpmRcError;
}

/** Work after the secret was had: whatever fails is reported, never thrown, so the boot keeps its secret. */
async function followUp(run: () => Promise<unknown>): Promise<Error | undefined> {
  try {
    await run();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * Unlocks the node's secret for this boot: locally when a signed approval holds for the PCRs and
 * policy counter (the counter is then raised to the approval's value, so revocations the release
 * carries take effect without the network); otherwise by `remote()`, after which the secret is
 * sealed again with the counter at the highest value the release's document is signed for.
 * Errors other than the TPM's and the sealing layer's refusals (a transport failure, `remote`
 * rejecting) are the caller's.
 *
 * @example
 *   const unlocked = await unlockLocallyOrRemotely({
 *     tpm, policyKey, sealed: stored && parseSealedSecret(stored), signature: parsePcrSignature(pcrsig),
 *     remote: () => attestAndFetchLuksKey(), reseal: (s) => writeFileAtomic(path, encodeSealedSecret(s)),
 *   });
 */
export async function unlockLocallyOrRemotely(options: UnlockOptions): Promise<Unlocked> {
  const { tpm, sealed, signature, policyKey } = options;
  const counterIndex = sealed?.counterIndex ?? options.counterIndex ?? DEFAULT_POLICY_COUNTER_INDEX;
  let localFailure: VouchError | undefined;
  if (sealed !== undefined) {
    try {
      if (signature === undefined) throw new SealingError('ERR_SEALING_NO_SIGNED_POLICY', 'the booted release has no signed policy (.pcrsig)', {});
      const approval = await findApproval(tpm, signature, policyKey, counterIndex);
      const secret = await unsealWithApproval(tpm, sealed, approval, policyKey, options.pin);
      const failure = await followUp(() => advancePolicyCounter(tpm, approval.counter.value, counterIndex));
      return { secret, via: 'local', ...(failure ? { followUpFailure: failure } : {}) };
    } catch (e) {
      if (!isLocalRefusal(e)) throw e;
      localFailure = e;
    }
  }
  const secret = await options.remote();
  const failure = await followUp(async () => {
    const current = await readPolicyCounter(tpm, counterIndex);
    const signed = signature === undefined ? undefined : signedCounterValue(signature, policyKey);
    const counterValue = Math.max(current, signed ?? 0, 1);
    await options.reseal(
      await resealSecret(tpm, secret, { policyKey, counterIndex, counterValue, ...(options.pin !== undefined ? { pin: options.pin } : {}) }),
    );
  });
  return { secret, via: 'remote', ...(localFailure ? { localFailure } : {}), ...(failure ? { followUpFailure: failure } : {}) };
}
