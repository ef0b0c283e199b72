// `vouch demo` end to end, in-process: reference values (composefs images, signed UKIs, predicted
// PCRs for v1 and v2), then the fleet — enroll, boot, attest, appraise — node by node.
import { X509Certificate } from 'node:crypto';
import { toHex } from '../bytes/index.ts';
import { ObjectStore, verifyObjects } from '../composefs/index.ts';
import { authenticodeHash, subjectOf } from '../secureboot/index.ts';
import type { Verdict } from '../verifier/index.ts';
import { ukiFileName } from './boot-chain.ts';
import { DEMO_DB_SIGNER } from './demo-keys.ts';
import { createReferences, planFleet, runNode, type DemoReferences, type NodeEvidenceFiles, type NodeOutcome } from './fleet.ts';

export interface DemoOptions {
  readonly nodes: number;
  readonly seed: string;
  /** systemd-stub (linuxx64.efi.stub), the base of every UKI. */
  readonly stub: Uint8Array;
  /** The composefs object store the releases' files are published to. */
  readonly storeDir: string;
  /** The appraisal clock. */
  readonly now: Date;
  /** Progress lines (one per step and node). */
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

export interface DemoResult {
  readonly seed: string;
  readonly releases: readonly ReleaseSummary[];
  readonly unreleasedImage: { readonly name: string; readonly composefsDigest: string };
  readonly store: { readonly objects: number; readonly problems: number };
  readonly fleet: readonly NodeOutcome[];
  readonly summary: { readonly nodes: number; readonly affirming: number; readonly contraindicated: number };
}

export interface DemoRun {
  readonly result: DemoResult;
  readonly references: DemoReferences;
  readonly evidence: ReadonlyMap<string, NodeEvidenceFiles>;
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

function summarizeRelease(references: DemoReferences, version: string): ReleaseSummary {
  const reference = references.references.find((r) => r.version === version)!;
  return {
    version,
    composefsDigest: reference.composefsDigest,
    cmdline: reference.cmdline,
    uki: {
      file: ukiFileName(version),
      authenticodeSha256: toHex(authenticodeHash(reference.signedUki, 'sha256')),
      signer: subjectOfPem(DEMO_DB_SIGNER.certificate),
    },
    pcrs: reference.prediction.banks.sha256 ?? {},
  };
}

function subjectOfPem(pem: string): string {
  return subjectOf(new X509Certificate(pem));
}

export async function runDemo(options: DemoOptions): Promise<DemoRun> {
  const progress = options.progress ?? ((): void => undefined);
  const plans = planFleet(options.nodes);
  progress('building releases v1 and v2: composefs images, UKIs signed with the demo db key, predicted PCRs');
  const references = createReferences(options.stub);
  const store = await publishReleases(references, options.storeDir);
  progress(`published ${store.objects} objects to ${options.storeDir}`);
  const fleet: NodeOutcome[] = [];
  const evidence = new Map<string, NodeEvidenceFiles>();
  for (const plan of plans) {
    progress(`${plan.name}: enroll (${plan.ekAlg} EK), boot ${plan.release}${plan.tamper ? ` (${plan.tamper})` : ''}, attest`);
    const node = await runNode(plan, references, options.seed, options.now);
    fleet.push(node.outcome);
    evidence.set(plan.name, node.evidence);
  }
  const count = (status: Verdict['status']): number => fleet.filter((n) => n.verdict.status === status).length;
  return {
    result: {
      seed: options.seed,
      releases: references.releases.map((r) => summarizeRelease(references, r.version)),
      unreleasedImage: { name: references.unreleasedImage.name, composefsDigest: references.unreleasedImage.digest },
      store,
      fleet,
      summary: { nodes: fleet.length, affirming: count('affirming'), contraindicated: count('contraindicated') },
    },
    references,
    evidence,
  };
}
