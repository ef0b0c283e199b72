// The demo fleet: N simulated nodes, each with its own software TPM, enrolled, booted and attested
// in-process. Nodes are the attesters (TPM, firmware, log); the "server" half here issues
// challenges and hands the evidence to the pure appraise(). Only I/O: the software TPMs.
import { createHash } from 'node:crypto';
import { toHex } from '../bytes/index.ts';
import { encodeEventLog, type EventToEncode } from '../eventlog/index.ts';
import type { Prediction } from '../predict/index.ts';
import {
  TPM_ALG,
  Tpm,
  encode,
  structures,
  toPcrSelection,
  encodePcrsSerialized,
  pcrValuesInOrder,
  publicKeyPem,
  type KeyAlg,
  type PcrSelection,
} from '../tpm/index.ts';
import type { PcrValues } from '../hash/index.ts';
import { appraise, type ReleaseCatalog, type Verdict } from '../verifier/index.ts';
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
import { enrollNode, type EnrollmentRecord } from './enrollment.ts';
import { DemoError } from './errors.ts';
import { extendEvents, logEventsOf } from './measured-boot.ts';
import { buildRootImage, debugShellFile, releaseFiles, type RootImage } from './root-images.ts';
import { seededRandom } from './seeded-random.ts';

export const MAX_FLEET_NODES = 64;
export const DEFAULT_FLEET_NODES = 6;
/**
 * The quote covers all 24 PCRs of the sha256 bank (DESIGN.md): a PCR left out of the quote could
 * hold anything, including the debug or DRTM measurements a policy would want to refuse.
 */
export const QUOTED_PCRS: readonly PcrSelection[] = [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
const NONCE_BYTES = 32;
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

/** The files a node's attestation produced, in the formats tpm2-tools and `vouch` read. */
export interface NodeEvidenceFiles {
  /** TPM2B_PUBLIC of the EK (what enrollment's MakeCredential encrypts to). */
  readonly ekPublic: Uint8Array;
  /** TPM2B_PUBLIC of the AK (tpm2_checkquote -u, vouch verify quote --ak). */
  readonly akPublic: Uint8Array;
  readonly akPublicPem: string;
  readonly nonce: Uint8Array;
  /** TPMS_ATTEST (tpm2_quote -m). */
  readonly quoteMessage: Uint8Array;
  /** TPMT_SIGNATURE (tpm2_quote -s). */
  readonly quoteSignature: Uint8Array;
  /** tpm2-tools serialized TPML_PCR_SELECTION + TPML_DIGEST values (tpm2_quote -o). */
  readonly quotePcrs: Uint8Array;
  /** Quoted values as {bank: {pcr: hex}} (vouch eventlog replay --expect). */
  readonly quotedPcrs: PcrValues;
  /** binary_bios_measurements. */
  readonly eventLog: Uint8Array;
}

export interface NodeOutcome {
  readonly node: string;
  readonly ekAlg: KeyAlg;
  readonly release: string;
  readonly tamper: Tamper | null;
  readonly enrollment: EnrollmentRecord;
  readonly nonce: string;
  readonly verdict: Verdict;
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

/** Enrolls, boots and attests one node; returns the server's record and the evidence files. */
export async function runNode(plan: NodePlan, refs: DemoReferences, seed: string, now: Date): Promise<{ outcome: NodeOutcome; evidence: NodeEvidenceFiles }> {
  const serverRandom = seededRandom(seed, `server/${plan.name}`);
  const tpm = await Tpm.open(`sim:seed=${tpmSeed(seed, plan.name)}`);
  try {
    await using ek = await tpm.createEK(plan.ekAlg);
    // The software TPM has three object slots, like swtpm: the SRK goes once the AK is loaded.
    const srk = await tpm.createSRK('ecc');
    const created = await tpm.createAK(srk, plan.ekAlg).finally(() => srk.flush());
    await using ak = created.key;
    const enrollment = await enrollNode(tpm, ek, ak, serverRandom);

    const boot = nodeBoot(plan, refs);
    const events = logEventsOf(boot.prediction);
    await extendEvents(tpm, events);
    const eventLog = encodeEventLog({ banks: [...DEMO_BANKS], events: boot.logged(events) });

    const nonce = serverRandom(NONCE_BYTES);
    const quote = await tpm.quote(ak.ref, nonce, QUOTED_PCRS);
    const pcrs = await tpm.pcrRead(QUOTED_PCRS);
    const verdict = appraise(
      { untrustedAttest: quote.quoted.bytes, untrustedSignature: quote.signatureBytes, untrustedPcrs: pcrs, untrustedEventLog: eventLog },
      { boundAk: enrollment.bound ? ak.public.value : undefined, qualifyingData: nonce, selection: QUOTED_PCRS, references: refs.catalog, now },
    );
    return {
      outcome: { node: plan.name, ekAlg: plan.ekAlg, release: plan.release, tamper: plan.tamper, enrollment, nonce: toHex(nonce), verdict },
      evidence: {
        ekPublic: encode(structures.TPM2B_PUBLIC, ek.public),
        akPublic: encode(structures.TPM2B_PUBLIC, ak.public),
        akPublicPem: publicKeyPem(ak.public.value),
        nonce,
        quoteMessage: quote.quoted.bytes,
        quoteSignature: quote.signatureBytes,
        quotePcrs: encodePcrsSerialized(toPcrSelection(QUOTED_PCRS), pcrValuesInOrder(pcrs, QUOTED_PCRS)),
        quotedPcrs: pcrs,
        eventLog,
      },
    };
  } finally {
    await tpm.close();
  }
}
