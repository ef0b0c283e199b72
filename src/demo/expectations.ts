// What the demo promises about each node, checked against what the server did: a node that boots a
// release as shipped is affirmed and receives its own secrets, which decrypt with its ephemeral key
// and hold the disk key the server sealed for it; a tampered node is refused, for the reason its
// tampering must cause, and receives nothing. `vouch demo --exit` succeeds only when every node
// kept its promise.
import { Tamper, type NodePlan } from './fleet.ts';

/** The reason (and PCR, where one is named) each tampering must be refused for. */
export const EXPECTED_REFUSALS: Readonly<Record<Tamper, { readonly reason: string; readonly pcr?: number; readonly why: string }>> = {
  [Tamper.commandLine]: { reason: 'unknown-root-image', why: 'the measured command line mounts a composefs image no release has' },
  [Tamper.unlistedSigner]: { reason: 'pcr-not-in-reference', pcr: 7, why: 'PCR 7 records a Secure Boot signer the reference db does not list' },
  [Tamper.editedLog]: { reason: 'log-does-not-replay', why: 'the edited event log no longer replays to the quoted PCRs' },
};

/** What happened to one node, as the demo saw it over the protocol. */
export interface ObservedNode {
  /** The node id the server gave at enrollment; absent when enrollment failed. */
  readonly nodeId?: string;
  readonly status?: 'affirming' | 'warning' | 'contraindicated';
  /** Every reason the server gave (refusals first). */
  readonly reasons: readonly {
    readonly reason: string;
    readonly message: string;
    readonly pcr?: number;
    readonly rule?: string;
    readonly expected?: string;
    readonly actual?: string;
  }[];
  /** Present when the server sent secrets. */
  readonly secrets?: {
    /** The JWE decrypted with the attestation's ephemeral key, and names this node. */
    readonly decrypted: boolean;
    /** The released disk key equals the newest one the server's key broker holds for the node. */
    readonly diskKeyMatches: boolean;
    /** The join credential's kind, if one came. */
    readonly join?: string;
  };
  /** A protocol error that ended the node's run (code and message). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** The promises a node did not keep (empty: all held). */
export function unmetExpectations(plan: NodePlan, observed: ObservedNode): string[] {
  if (observed.error) return [`${observed.error.code}: ${observed.error.message}`];
  if (observed.nodeId === undefined) return ['it was never enrolled'];
  if (observed.status === undefined) return ['it was never appraised'];
  const unmet: string[] = [];
  if (plan.tamper === null) {
    if (observed.status !== 'affirming') unmet.push(`it booted ${plan.release} as released, yet the verdict is ${observed.status}`);
    if (!observed.secrets) unmet.push('it received no secrets');
    else {
      if (!observed.secrets.decrypted) unmet.push('its secrets do not decrypt with its ephemeral key or name another node');
      if (!observed.secrets.diskKeyMatches) unmet.push('the disk key it received is not the one the server sealed for it');
    }
    return unmet;
  }
  const expected = EXPECTED_REFUSALS[plan.tamper];
  if (observed.status !== 'contraindicated') unmet.push(`it was ${plan.tamper}, yet the verdict is ${observed.status}`);
  if (!observed.reasons.some((r) => r.reason === expected.reason && (expected.pcr === undefined || r.pcr === expected.pcr))) {
    unmet.push(`it was not refused because ${expected.why} (${expected.reason}${expected.pcr === undefined ? '' : ` on PCR ${expected.pcr}`})`);
  }
  if (observed.secrets) unmet.push('it received secrets although it was refused');
  return unmet;
}
