// The demo fleet: N simulated nodes, each with its own software TPM (`sim:`), firmware and boot
// entry. A node boots a release (or a tampered variant of it): every measurement is extended into
// its TPM and written to a real binary_bios_measurements log. What the fleet looks like is pure
// (planFleet, nodeBoot); a SimulatedNode holds the node's TPM, its only I/O.
import { createHash } from 'node:crypto';
import { encodeEventLog, type EventToEncode } from '../eventlog/index.ts';
import type { Prediction } from '../predict/index.ts';
import type { PcrValues } from '../hash/index.ts';
import { TPM_ALG, Tpm, encode, structures, type KeyAlg, type Loaded, type PcrSelection } from '../tpm/index.ts';
import type { ReleaseCatalog } from '../verifier/index.ts';
import {
  DEMO_BANKS,
  buildRelease,
  certificateDatabase,
  demoFirmware,
  kernelCommandLine,
  predictBoot,
  releaseReferences,
  signRelease,
  type FirmwareKeys,
  type Release,
  type ReleaseReference,
} from './boot-chain.ts';
import { DEMO_UNLISTED_SIGNER } from './demo-keys.ts';
import { DemoError } from './errors.ts';
import { extendEvents, logEventsOf } from './measured-boot.ts';
import { buildRootImage, debugShellFile, releaseFiles, type RootImage } from './root-images.ts';

/** A fleet the demo boots in a minute or two: each node's software TPM makes its EK (RSA-2048 or P-256) and AK. */
export const MAX_FLEET_NODES = 256;
export const DEFAULT_FLEET_NODES = 6;
/**
 * The quote covers all 24 PCRs of the sha256 bank (docs/design.md): a PCR left out of the quote could
 * hold anything, including the debug or DRTM measurements a policy would want to refuse.
 */
export const QUOTED_PCRS: readonly PcrSelection[] = [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
/** PCRs whose events carry the kernel command line: 9 (Linux EFI stub load options), 12 (systemd-stub). */
const COMMAND_LINE_PCRS = [9, 12];

/** What goes wrong on a node (null: nothing; it boots a reference release as shipped). */
export const Tamper = {
  /** The boot entry's options were edited: composefs= names an image with an extra binary. */
  commandLine: 'tampered-cmdline',
  /** The node's firmware db holds its owner's own key, which signed the UKI it boots: PCR 7 differs. */
  unlistedSigner: 'unlisted-signer',
  /** The node booted the tampered command line, then rewrote its log to show the release's. */
  editedLog: 'edited-log',
} as const;
export type Tamper = (typeof Tamper)[keyof typeof Tamper];

/** What each tampering is, for people reading the fleet table. */
export const TAMPER_DESCRIPTIONS: Readonly<Record<Tamper, string>> = {
  [Tamper.commandLine]: 'boot entry edited: composefs= names an image with an extra binary',
  [Tamper.unlistedSigner]: 'firmware db re-enrolled with its own key, which signed the UKI',
  [Tamper.editedLog]: 'booted the edited command line, then rewrote the log to look like v1',
};

export interface NodePlan {
  readonly name: string;
  readonly ekAlg: KeyAlg;
  readonly release: string;
  readonly tamper: Tamper | null;
}

/**
 * The fleet: the first six nodes show every outcome (v1, v1, v2 rolled out, then one of each
 * tampering); nodes beyond six are healthy, every third on v2. EKs alternate RSA-2048 / ECC P-256.
 */
export function planFleet(nodes: number): NodePlan[] {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_FLEET_NODES) {
    throw new DemoError('ERR_DEMO_FLEET_SIZE', `a demo fleet has 1..${MAX_FLEET_NODES} nodes, not ${nodes}`, { nodes, max: MAX_FLEET_NODES });
  }
  const showcase: readonly Pick<NodePlan, 'release' | 'tamper'>[] = [
    { release: 'v1', tamper: null },
    { release: 'v1', tamper: null },
    { release: 'v2', tamper: null },
    { release: 'v1', tamper: Tamper.commandLine },
    { release: 'v1', tamper: Tamper.unlistedSigner },
    { release: 'v1', tamper: Tamper.editedLog },
  ];
  return Array.from({ length: nodes }, (_, i) => ({
    name: `node-${i + 1}`,
    ekAlg: i % 2 === 0 ? 'rsa' : 'ecc',
    ...(showcase[i] ?? { release: i % 3 === 2 ? 'v2' : 'v1', tamper: null }),
  }));
}

/** Everything the demo's reference value provider publishes. */
export interface DemoReferences {
  readonly releases: readonly Release[];
  readonly references: readonly ReleaseReference[];
  readonly catalog: ReleaseCatalog;
  /** The root image of the tampered nodes: v1 plus a debug shell, never released. */
  readonly unreleasedImage: RootImage;
}

/** Builds the releases (v1 and its A/B successor v2) and their reference values. */
export function createReferences(stub: Uint8Array): DemoReferences {
  const releases = [buildRelease(stub, 'v1', 1), buildRelease(stub, 'v2', 2)];
  const { releases: references, values } = releaseReferences(releases);
  const unreleasedImage = buildRootImage('v1+debug-shell', [...releaseFiles('v1', 1), debugShellFile()]);
  return {
    releases,
    references,
    catalog: { values, composefsDigests: Object.fromEntries(references.map((r) => [r.version, r.composefsDigest])) },
    unreleasedImage,
  };
}

/** A node's evidence from one local quote (no server): what the verifier's own tests appraise. */
export interface NodeEvidence {
  /** TPM2B_PUBLIC of the EK. */
  readonly ekPublic: Uint8Array;
  /** TPM2B_PUBLIC of the AK. */
  readonly akPublic: Uint8Array;
  /** The quote's qualifying data. */
  readonly nonce: Uint8Array;
  /** TPMS_ATTEST (tpm2_quote -m). */
  readonly quoteMessage: Uint8Array;
  /** TPMT_SIGNATURE (tpm2_quote -s). */
  readonly quoteSignature: Uint8Array;
  /** Quoted values as {bank: {pcr: hex}}. */
  readonly quotedPcrs: PcrValues;
  /** binary_bios_measurements. */
  readonly eventLog: Uint8Array;
}

function tpmSeed(seed: string, node: string): string {
  // The sim: URI splits on ',' and '=': pass a hex digest of whatever the user typed.
  return createHash('sha256').update(`${seed}\0${node}`).digest('hex');
}

/** What the node's boot looks like, from its firmware and boot entry; and what its log shows. */
function nodeBoot(plan: NodePlan, refs: DemoReferences): { prediction: Prediction; logged: (events: EventToEncode[]) => EventToEncode[] } {
  const release = refs.releases.find((r) => r.version === plan.release)!;
  const reference = refs.references.find((r) => r.version === plan.release)!;
  let firmware: FirmwareKeys = demoFirmware();
  let signedUki = reference.signedUki;
  let cmdline = release.cmdline;
  if (plan.tamper === Tamper.unlistedSigner) {
    firmware = { db: certificateDatabase(DEMO_UNLISTED_SIGNER.certificate) };
    signedUki = signRelease(release, DEMO_UNLISTED_SIGNER);
  }
  if (plan.tamper === Tamper.commandLine || plan.tamper === Tamper.editedLog) cmdline = kernelCommandLine(refs.unreleasedImage.digest);
  const prediction = predictBoot(firmware, plan.release, signedUki, cmdline);
  const logged = (events: EventToEncode[]): EventToEncode[] => {
    if (plan.tamper !== Tamper.editedLog) return events;
    // The attacker's edit: every event that records the command line (the Linux EFI stub's tag
    // in PCR 9, systemd-stub's PCR 12 event) replaced in place by the release's own, data and
    // digests, so the log reads (and replays to) an untouched release — but the TPM saw the real one.
    const genuine = logEventsOf(reference.prediction);
    const genuineByPcr = new Map(COMMAND_LINE_PCRS.map((pcr) => [pcr, genuine.filter((e) => e.pcr === pcr)]));
    return events.map((e) => genuineByPcr.get(e.pcr)?.shift() ?? e);
  };
  return { prediction, logged };
}

/**
 * One simulated node: its software TPM (seeded by the demo seed and the node's name, so a seed
 * gives the same EKs every run) with the EK and an AK loaded, and — once booted — the event log
 * its firmware wrote. The agent's enroll() and attest() run over it as over a real TPM.
 */
export class SimulatedNode {
  readonly plan: NodePlan;
  readonly tpm: Tpm;
  readonly ek: Loaded;
  readonly ak: Loaded;
  #eventLog: Uint8Array | undefined;

  private constructor(plan: NodePlan, tpm: Tpm, ek: Loaded, ak: Loaded) {
    this.plan = plan;
    this.tpm = tpm;
    this.ek = ek;
    this.ak = ak;
  }

  /** Powers the node's TPM on and creates its EK and AK (the AK under the SRK, which is then flushed). */
  static async create(plan: NodePlan, seed: string): Promise<SimulatedNode> {
    const tpm = await Tpm.open(`sim:seed=${tpmSeed(seed, plan.name)}`);
    try {
      const ek = await tpm.createEK(plan.ekAlg);
      // The software TPM has three object slots, like swtpm: the SRK goes once the AK is loaded.
      const srk = await tpm.createSRK('ecc');
      const created = await tpm.createAK(srk, plan.ekAlg).finally(() => srk.flush());
      return new SimulatedNode(plan, tpm, ek, created.key);
    } catch (e) {
      await tpm.close();
      throw e;
    }
  }

  /** Boots the node's release (as tampered by its plan): extends the TPM, writes the log. */
  async boot(refs: DemoReferences): Promise<Uint8Array> {
    if (this.#eventLog) throw new DemoError('ERR_DEMO_BOOT', `${this.plan.name} has booted already: its PCRs hold that boot`, { node: this.plan.name });
    const boot = nodeBoot(this.plan, refs);
    const events = logEventsOf(boot.prediction);
    await extendEvents(this.tpm, events);
    this.#eventLog = encodeEventLog({ banks: [...DEMO_BANKS], events: boot.logged(events) });
    return this.#eventLog;
  }

  /** binary_bios_measurements as the node's firmware left it (after boot()). */
  get eventLog(): Uint8Array {
    if (!this.#eventLog) throw new DemoError('ERR_DEMO_BOOT', `${this.plan.name} has not booted`, { node: this.plan.name });
    return this.#eventLog;
  }

  async close(): Promise<void> {
    await this.tpm.close();
  }
}

/** Boots one node and quotes it locally with `nonce` as qualifying data: evidence without a server. */
export async function quoteNode(plan: NodePlan, refs: DemoReferences, seed: string, nonce: Uint8Array): Promise<NodeEvidence> {
  const node = await SimulatedNode.create(plan, seed);
  try {
    const eventLog = await node.boot(refs);
    const quote = await node.tpm.quote(node.ak.ref, nonce, QUOTED_PCRS);
    return {
      ekPublic: encode(structures.TPM2B_PUBLIC, node.ek.public),
      akPublic: encode(structures.TPM2B_PUBLIC, node.ak.public),
      nonce,
      quoteMessage: quote.quoted.bytes,
      quoteSignature: quote.signatureBytes,
      quotedPcrs: await node.tpm.pcrRead(QUOTED_PCRS),
      eventLog,
    };
  } finally {
    await node.close();
  }
}
