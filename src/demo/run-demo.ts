// `vouch demo`'s two halves around the server: before it, the reference value provider's work
// (composefs images published to an object store, UKIs signed, PCRs predicted for v1 and v2) and
// the fleet's TPMs made; after it, the result of the story the fleet told over HTTP.
import { X509Certificate } from 'node:crypto';
import { toHex } from '../bytes/index.ts';
import { ObjectStore, verifyObjects } from '../composefs/index.ts';
import { authenticodeHash, subjectOf } from '../secureboot/index.ts';
import type { KeyAlg } from '../tpm/index.ts';
import type { Verdict } from '../verifier/index.ts';
import { ukiFileName } from './boot-chain.ts';
import { DEMO_DB_SIGNER } from './demo-keys.ts';
import type { ObservedNode } from './expectations.ts';
import { SimulatedNode, createReferences, planFleet, type DemoReferences, type Tamper } from './fleet.ts';
import type { NodeRun } from './story.ts';

export interface DemoOptions {
  readonly nodes: number;
  readonly seed: string;
  /** systemd-stub (linuxx64.efi.stub), the base of every UKI. */
  readonly stub: Uint8Array;
  /** The composefs object store the releases' files are published to. */
  readonly storeDir: string;
  /** Progress lines (one per step). */
  readonly progress?: (line: string) => void;
}

export interface ReleaseSummary {
  readonly version: string;
  readonly composefsDigest: string;
  readonly cmdline: string;
  readonly uki: { readonly file: string; readonly authenticodeSha256: string; readonly signer: string };
  /** Predicted sha256 PCRs: the reference set. */
  readonly pcrs: Readonly<Record<string, string>>;
}

/** One node of the fleet as the table and --json show it. */
export interface NodeOutcome extends ObservedNode {
  readonly node: string;
  readonly ekAlg: KeyAlg;
  readonly release: string;
  readonly tamper: Tamper | null;
  /** The whole verdict (from the admin API's result). */
  readonly verdict?: Verdict;
  readonly earVerified: boolean;
  /** The promises the node did not keep; empty when all held. */
  readonly unmet: readonly string[];
}

export interface DemoResult {
  readonly seed: string;
  readonly server: { readonly url: string; readonly policyVersion: number };
  readonly releases: readonly ReleaseSummary[];
  readonly unreleasedImage: { readonly name: string; readonly composefsDigest: string };
  readonly store: { readonly objects: number; readonly problems: number };
  readonly fleet: readonly NodeOutcome[];
  readonly summary: {
    readonly nodes: number;
    readonly affirming: number;
    readonly contraindicated: number;
    /** Good nodes that received their secrets, decrypted them and found the sealed disk key. */
    readonly keysReleased: number;
    /** Nodes every expectation of which held. */
    readonly asExpected: number;
  };
}

/** What the demo has before the server starts. */
export interface PreparedDemo {
  readonly references: DemoReferences;
  readonly store: { readonly objects: number; readonly problems: number };
  /** The fleet, TPMs on, EKs and AKs made (close them). */
  readonly nodes: readonly SimulatedNode[];
}

async function publishReleases(references: DemoReferences, storeDir: string): Promise<{ objects: number; problems: number }> {
  const store = await ObjectStore.open(storeDir, { create: true });
  let objects = 0;
  let problems = 0;
  for (const release of references.releases) {
    for (const content of release.rootImage.objects.values()) {
      const writer = await store.createWriter();
      await writer.write(content);
      await writer.finish();
      objects++;
    }
    // Read back through the store, as a node mounting the image would: every object has its digest.
    problems += (await verifyObjects(release.rootImage.tree, store)).problems.length;
  }
  await store.sync();
  return { objects, problems };
}

/** Builds and publishes the releases, then powers on the fleet's TPMs and makes their keys. */
export async function prepareDemo(options: DemoOptions): Promise<PreparedDemo> {
  const progress = options.progress ?? ((): void => undefined);
  const plans = planFleet(options.nodes);
  progress('building releases v1 and v2: composefs images, UKIs signed with the demo db key, predicted PCRs');
  const references = createReferences(options.stub);
  const store = await publishReleases(references, options.storeDir);
  progress(`published ${store.objects} objects to ${options.storeDir}`);
  progress(`making the EKs and AKs of ${plans.length} simulated TPMs`);
  const nodes: SimulatedNode[] = [];
  try {
    for (const plan of plans) nodes.push(await SimulatedNode.create(plan, options.seed));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.close()));
    throw e;
  }
  return { references, store, nodes };
}

function summarizeRelease(references: DemoReferences, version: string): ReleaseSummary {
  const reference = references.references.find((r) => r.version === version)!;
  return {
    version,
    composefsDigest: reference.composefsDigest,
    cmdline: reference.cmdline,
    uki: {
      file: ukiFileName(version),
      authenticodeSha256: toHex(authenticodeHash(reference.signedUki, 'sha256')),
      signer: subjectOf(new X509Certificate(DEMO_DB_SIGNER.certificate)),
    },
    pcrs: reference.prediction.banks.sha256 ?? {},
  };
}

/** The run's result: releases, store, every node's outcome, the counts. */
export function demoResult(seed: string, prepared: PreparedDemo, server: DemoResult['server'], runs: readonly NodeRun[]): DemoResult {
  const { references } = prepared;
  const fleet: NodeOutcome[] = runs.map((run) => ({
    node: run.plan.name,
    ekAlg: run.plan.ekAlg,
    release: run.plan.release,
    tamper: run.plan.tamper,
    ...run.observed,
    ...(run.verdict ? { verdict: run.verdict } : {}),
    earVerified: run.earVerified,
    unmet: run.unmet,
  }));
  const count = (status: Verdict['status']): number => fleet.filter((n) => n.status === status).length;
  return {
    seed,
    server,
    releases: references.releases.map((r) => summarizeRelease(references, r.version)),
    unreleasedImage: { name: references.unreleasedImage.name, composefsDigest: references.unreleasedImage.digest },
    store: prepared.store,
    fleet,
    summary: {
      nodes: fleet.length,
      affirming: count('affirming'),
      contraindicated: count('contraindicated'),
      keysReleased: fleet.filter((n) => n.secrets?.decrypted && n.secrets.diskKeyMatches).length,
      asExpected: fleet.filter((n) => n.unmet.length === 0).length,
    },
  };
}
