// Keeps a demo run's artefacts in --data-dir, in the formats the real tools read, so that every
// verdict can be re-checked without Vouch's word for it: quotes with tpm2_checkquote or
// `vouch verify quote`, logs with tpm2_eventlog or `vouch eventlog replay`, images with fsck.erofs
// or `vouch composefs verify`, predictions with `vouch predict --match-log`.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../bytes/index.ts';
import { bootProfileDocument, demoFirmware, ukiFileName } from './boot-chain.ts';
import type { DemoResult } from './run-demo.ts';
import type { DemoReferences } from './fleet.ts';
import type { NodeRun } from './story.ts';
import { makeDirectory } from '../io/index.ts';

/** The layout below the data directory. */
export const ArtifactLayout = {
  /** The server's data directory (vouch serve --data-dir). */
  server: 'server',
  store: 'store',
  images: 'images',
  boot: 'boot',
  nodes: 'nodes',
  references: 'references.json',
  result: 'demo.json',
} as const;

export interface NodeArtifactPaths {
  readonly dir: string;
  readonly ekPublic: string;
  readonly akPublic: string;
  readonly akPublicPem: string;
  readonly quoteMessage: string;
  readonly quoteSignature: string;
  readonly quotePcrs: string;
  readonly quotedPcrs: string;
  readonly eventLog: string;
  readonly verdict: string;
  /** The quote's qualifying data, hex (what tpm2_checkquote -q and vouch verify quote --nonce take). */
  readonly nonce: string;
}

export interface WrittenArtifacts {
  readonly dataDir: string;
  readonly images: Readonly<Record<string, string>>;
  readonly profiles: Readonly<Record<string, string>>;
  readonly nodes: Readonly<Record<string, NodeArtifactPaths>>;
  /** Commands that re-check the run with the CLI and the real peers. */
  readonly commands: readonly { readonly what: string; readonly command: string }[];
}

export function nodeArtifactPaths(dataDir: string, node: string, nonce: string): NodeArtifactPaths {
  const dir = join(dataDir, ArtifactLayout.nodes, node);
  return {
    dir,
    ekPublic: join(dir, 'ek.pub'),
    akPublic: join(dir, 'ak.pub'),
    akPublicPem: join(dir, 'ak.pub.pem'),
    quoteMessage: join(dir, 'quote.msg'),
    quoteSignature: join(dir, 'quote.sig'),
    quotePcrs: join(dir, 'quote.pcrs'),
    quotedPcrs: join(dir, 'pcrs.json'),
    eventLog: join(dir, 'eventlog.bin'),
    verdict: join(dir, 'verdict.json'),
    nonce,
  };
}

const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v), 2) + '\n';

/** What a run leaves to keep: the references, its result and each node's run with its evidence. */
export interface DemoRun {
  readonly references: DemoReferences;
  readonly result: DemoResult;
  readonly runs: readonly NodeRun[];
}

/** Writes the run's artefacts below `dataDir` (the object store and the server's data are already there). */
export async function writeDemoArtifacts(dataDir: string, run: DemoRun): Promise<WrittenArtifacts> {
  const { references, result, runs } = run;
  const imagesDir = join(dataDir, ArtifactLayout.images);
  const bootDir = join(dataDir, ArtifactLayout.boot);
  await makeDirectory(imagesDir);
  await makeDirectory(bootDir);

  const images: Record<string, string> = {};
  for (const image of [...references.releases.map((r) => r.rootImage), references.unreleasedImage]) {
    const path = join(imagesDir, `${image.name}.cfs`);
    await writeFile(path, image.image);
    images[image.name] = path;
  }
  const profiles: Record<string, string> = {};
  for (const reference of references.references) {
    const uki = ukiFileName(reference.version);
    await writeFile(join(bootDir, uki), reference.signedUki);
    const path = join(bootDir, `${reference.version}.profile.json`);
    await writeFile(path, json(bootProfileDocument(demoFirmware(), uki, reference.cmdline)));
    profiles[reference.version] = path;
  }
  await writeFile(
    join(dataDir, ArtifactLayout.references),
    json({ sets: references.catalog.values.sets, composefsDigests: references.catalog.composefsDigests }),
  );
  await writeFile(join(dataDir, ArtifactLayout.result), json(result));

  const nodes: Record<string, NodeArtifactPaths> = {};
  for (const [i, outcome] of result.fleet.entries()) {
    const files = runs[i]?.evidence;
    if (!files) continue;
    const paths = nodeArtifactPaths(dataDir, outcome.node, files.qualifyingData);
    await makeDirectory(paths.dir);
    await Promise.all([
      writeFile(paths.ekPublic, files.ekPublic),
      writeFile(paths.akPublic, files.akPublic),
      writeFile(paths.akPublicPem, files.akPublicPem),
      writeFile(paths.quoteMessage, files.quoteMessage),
      writeFile(paths.quoteSignature, files.quoteSignature),
      writeFile(paths.quotePcrs, files.quotePcrs),
      writeFile(paths.quotedPcrs, json(files.quotedPcrs)),
      writeFile(paths.eventLog, files.eventLog),
      writeFile(paths.verdict, json(outcome.verdict ?? null)),
    ]);
    nodes[outcome.node] = paths;
  }
  return { dataDir, images, profiles, nodes, commands: recheckCommands(run, { dataDir, images, profiles, nodes }) };
}

function recheckCommands(run: DemoRun, written: Omit<WrittenArtifacts, 'commands'>): { what: string; command: string }[] {
  const fleet = run.result.fleet.filter((n) => written.nodes[n.node] !== undefined);
  const first = fleet[0];
  if (!first) return [];
  const failedLog = fleet.find((n) => n.reasons.some((r) => r.reason === 'log-does-not-replay')) ?? first;
  const onV2 = fleet.find((n) => n.verdict?.matchedReleases.includes('v2')) ?? first;
  const q = written.nodes[first.node]!;
  const store = join(written.dataDir, ArtifactLayout.store);
  const commands = [
    {
      what: `${first.node}'s quote (signature by its AK, nonce, PCR digest)`,
      command: `vouch verify quote --ak ${q.akPublic} --msg ${q.quoteMessage} --sig ${q.quoteSignature} --pcrs ${q.quotePcrs} --nonce ${q.nonce}`,
    },
    {
      what: 'the same with tpm2-tools',
      command: `tpm2_checkquote -u ${q.akPublicPem} -m ${q.quoteMessage} -s ${q.quoteSignature} -f ${q.quotePcrs} -g sha256 -q ${q.nonce}`,
    },
    {
      what: `${failedLog.node}'s event log against its quoted PCRs${failedLog === first ? '' : ' (exit 3: it does not replay)'}`,
      command: `vouch eventlog replay ${written.nodes[failedLog.node]!.eventLog} --bank sha256 --expect ${written.nodes[failedLog.node]!.quotedPcrs}`,
    },
    { what: 'the same log decoded by tpm2-tools', command: `tpm2_eventlog ${written.nodes[failedLog.node]!.eventLog}` },
    { what: 'the v1 root image against the object store', command: `vouch composefs verify ${written.images.v1} --store ${store}` },
    {
      what: "the server again, on the demo's store (the demo printed its admin token)",
      command: `vouch serve --data-dir ${join(written.dataDir, ArtifactLayout.server)}`,
    },
    {
      what: `which release ${onV2.node}'s log matches (A/B reference sets)`,
      command: `vouch predict ${written.profiles.v1} ${written.profiles.v2} --match-log ${written.nodes[onV2.node]!.eventLog} --bank sha256`,
    },
  ];
  return commands;
}
