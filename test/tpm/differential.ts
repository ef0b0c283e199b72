// The differential harness: a script of TPM commands runs on swtpm and on the software TPM, and
// each step's outcome (success, with the values both must agree on, or the TPM_RC with its
// parameter, handle or session number) must be the same on both.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Tpm } from '../../src/tpm/client.ts';
import { describeRc, TpmRcError } from '../../src/tpm/rc.ts';
import { createSimulator } from '../../src/tpm/sim/index.ts';
import { startSwtpm } from '../helpers/swtpm.ts';

export type Step = <T>(label: string, p: Promise<T>, show?: (value: T) => string) => Promise<unknown>;
export type Outcomes = [string, string][];

/** 'ok' (with what `show` says of the result, for values both TPMs must agree on) or the TPM_RC. */
async function outcome<T>(p: Promise<T>, show?: (value: T) => string): Promise<string> {
  try {
    const value = await p;
    return show ? `ok ${show(value)}` : 'ok';
  } catch (e) {
    if (e instanceof TpmRcError) return `${describeRc(e.rc.rc)} 0x${e.rc.rc.toString(16)}`;
    throw e;
  }
}

/** A step recorder for one run of a script: `step(label, promise, show?)` appends the outcome. */
export function recorder(): { out: Outcomes; step: Step } {
  const out: Outcomes = [];
  return { out, step: async (label, p, show) => out.push([label, await outcome(p, show)]) };
}

/** Runs `script` on a fresh swtpm and on a seeded software TPM and asserts the same outcomes step by step. */
export async function assertSameAsSwtpm(t: TestContext, seed: string, script: (tpm: Tpm) => Promise<Outcomes>): Promise<void> {
  const swtpm = await startSwtpm(t);
  if (!swtpm?.transport) return;
  const peer = await script(new Tpm(swtpm.transport));
  const sim = new Tpm(await createSimulator({ seed }));
  const ours = await script(sim);
  await sim.close();
  // Step by step; a step one TPM ran and the other did not (a nested step) is reported as such.
  const differences = ours.flatMap(([label, o], i) => {
    const [peerLabel, p] = peer[i] ?? ['(nothing)', ''];
    if (peerLabel !== label) return [`step ${i}: sim ran "${label}", swtpm "${peerLabel}"`];
    return p === o ? [] : [`${label}: sim ${o}, swtpm ${p}`];
  });
  assert.deepStrictEqual(differences, [], `differences:\n${differences.join('\n')}`);
  assert.equal(ours.length, peer.length);
}
