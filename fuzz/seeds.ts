// Seeds for the fuzz targets, taken from real data wherever it exists: the real event logs and
// composefs dumps (fuzz/vectors.ts), Debian's signed shim and systemd-boot binaries, OVMF's
// variable stores with Microsoft's Secure Boot keys, layers written by GNU tar, the boot profiles
// of docs/boot-profile.md, and the traffic and evidence of a simulated node (the in-process TPM
// that the suite cross-checks against swtpm). Runs once per target, outside the instrumented bundle.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir, symlink, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { concatBytes } from '../src/bytes/index.ts';
import { parseDump } from '../src/composefs/index.ts';
import { writeImage } from '../src/composefs/erofs/index.ts';
import { createReferences, QUOTED_PCRS, quoteNode } from '../src/demo/index.ts';
import { DEMO_DB_SIGNER } from '../src/demo/demo-keys.ts';
import { encodeUefiVariableData, EventType, parseEventLog } from '../src/eventlog/index.ts';
import { parseVariableStore, type StoredVariable } from '../src/predict/index.ts';
import { parseCertificateTable, parsePe, parseAuthenticodeSignature, peSectionContent, signImage } from '../src/secureboot/index.ts';
import {
  allCommandSchemas,
  decode,
  encode,
  encodePcrsSerialized,
  pcrValuesInOrder,
  publicKeyPem,
  splitCommand,
  structures,
  toPcrSelection,
  Tpm,
} from '../src/tpm/index.ts';
import type { AnySchema } from '../src/tpm/schema/index.ts';
import { openTransport } from '../src/tpm/transport/index.ts';
import { pcrValuesFromSerializedFile } from '../src/verifier/index.ts';
import { syntheticPe } from '../test/secureboot/fixtures.ts';
import { arbitraryOf } from '../test/tpm/schema-arbitrary.ts';
import { REPO_ROOT } from './engine/build.ts';
import { joinSections } from './targets/sections.ts';
import { structureSchemas } from './targets/tpm-structures.ts';
import { vectorFiles } from './vectors.ts';

/** A file a Debian package installs (scripts/install-deps.sh): missing means the machine is not set up. */
async function debianFile(path: string, debianPackage: string): Promise<Uint8Array> {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${debianPackage} (scripts/install-deps.sh)`);
  return new Uint8Array(await readFile(path));
}

const once = <T>(make: () => Promise<T>): (() => Promise<T>) => {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
};

export const realEventLogs = once(() => vectorFiles('eventlogs', (name) => name.endsWith('.bin')));

/**
 * libFuzzer works best on small inputs (its -max_len defaults to 4 KiB): a real 30 KiB log costs
 * a full parse and replay per execution. So each real log gives short seeds, its header followed
 * by a few consecutive events, which together reach every event the real logs have.
 */
export function eventLogWindows(log: Uint8Array, eventsPerWindow = 4): Uint8Array[] {
  const parsed = parseEventLog(log);
  const offsets = [...parsed.events.map((e) => e.offset), log.length];
  const header = log.subarray(0, offsets[1]);
  const windows: Uint8Array[] = [];
  for (let first = 1; first < parsed.events.length; first += eventsPerWindow) {
    const last = Math.min(first + eventsPerWindow, parsed.events.length);
    windows.push(concatBytes(header, log.subarray(offsets[first], offsets[last])));
  }
  return windows;
}

function distinct(inputs: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return inputs.filter((input) => {
    const key = Buffer.from(input).toString('base64');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The data of every event of these types in the real logs. */
export async function realEventData(types: readonly number[]): Promise<Uint8Array[]> {
  const logs = await realEventLogs();
  return distinct(
    logs.flatMap((log) =>
      parseEventLog(log)
        .events.filter((e) => types.includes(e.type))
        .map((e) => e.data),
    ),
  );
}

const VARIABLE_EVENTS = [
  EventType.EV_EFI_VARIABLE_DRIVER_CONFIG,
  EventType.EV_EFI_VARIABLE_BOOT,
  EventType.EV_EFI_VARIABLE_BOOT2,
  EventType.EV_EFI_VARIABLE_AUTHORITY,
];

/** Debian's OVMF variable stores: the plain one and the one enrolled with Microsoft's PK/KEK/db/dbx. */
export const ovmfVariableStores = once(async () => [
  await debianFile('/usr/share/OVMF/OVMF_VARS.fd', 'ovmf'),
  await debianFile('/usr/share/OVMF/OVMF_VARS.ms.fd', 'ovmf'),
]);

async function ovmfVariables(): Promise<StoredVariable[]> {
  return (await ovmfVariableStores()).flatMap((store) => parseVariableStore(store));
}

/** UEFI_VARIABLE_DATA from the real logs' variable events and from OVMF's stored variables. */
export async function uefiVariableSeeds(): Promise<Uint8Array[]> {
  const stored = (await ovmfVariables()).map((v) => encodeUefiVariableData(v.vendorGuid, v.name, v.data));
  return distinct([...(await realEventData(VARIABLE_EVENTS)), ...stored]);
}

/** Signature databases in the three file forms: bare ESL, efivarfs (attribute word first), .auth (a real signed update is made below). */
export async function signatureListSeeds(): Promise<Uint8Array[]> {
  const secureBootNames = new Set(['PK', 'KEK', 'db', 'dbx']);
  const lists = (await ovmfVariables()).filter((v) => secureBootNames.has(v.name) && v.data.length > 0).map((v) => v.data);
  const efivarfs = lists.map((esl) => concatBytes(new Uint8Array([0x27, 0, 0, 0]), esl));
  return distinct([...lists, ...efivarfs, ...(await signedAuthUpdates(lists[0]))]);
}

/** A .auth update made by efitools' sign-efi-sig-list around a real ESL (the form `efi-updatevar -f` takes). */
async function signedAuthUpdates(esl: Uint8Array | undefined): Promise<Uint8Array[]> {
  if (!esl) return [];
  return withTempDir(async (dir) => {
    const pk = await writeTestSigner(dir);
    await writeFile(join(dir, 'db.esl'), esl);
    run('sign-efi-sig-list', ['-t', '2024-01-01 00:00:00', '-k', pk.key, '-c', pk.cert, 'db', join(dir, 'db.esl'), join(dir, 'db.auth')]);
    return [new Uint8Array(await readFile(join(dir, 'db.auth')))];
  });
}

/** Device paths: those in the real logs' boot-application events and in every Boot#### load option. */
export async function devicePathSeeds(): Promise<Uint8Array[]> {
  // UEFI_IMAGE_LOAD_EVENT: four UINT64 fields (location, length, link-time address, path length), then the path.
  const images = (await realEventData([EventType.EV_EFI_BOOT_SERVICES_APPLICATION, EventType.EV_EFI_BOOT_SERVICES_DRIVER])).map((d) => d.subarray(32));
  const options = (await ovmfVariables()).filter((v) => /^Boot[0-9A-F]{4}$/.test(v.name)).map((v) => loadOptionFilePath(v.data));
  return distinct([...images, ...options].filter((p) => p.length > 0));
}

/** EFI_LOAD_OPTION (UEFI 2.10 §3.1.3): UINT32 attributes, UINT16 path length, NUL-terminated UTF-16 description, then the path. */
function loadOptionFilePath(option: Uint8Array): Uint8Array {
  const view = new DataView(option.buffer, option.byteOffset, option.length);
  if (option.length < 6) return new Uint8Array(0);
  const length = view.getUint16(4, true);
  let at = 6;
  while (at + 1 < option.length && view.getUint16(at, true) !== 0) at += 2;
  return option.subarray(at + 2, at + 2 + length);
}

/**
 * The demo's public test signer (src/demo/demo-keys.ts) written out for sign-efi-sig-list: a fixed
 * RSA key, whose PKCS#1 v1.5 signatures are deterministic, so the signed seeds — and with them the
 * suite's short fuzz runs — are the same on every machine.
 */
async function writeTestSigner(dir: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'signer.key');
  const cert = join(dir, 'signer.crt');
  await writeFile(key, DEMO_DB_SIGNER.privateKey);
  await writeFile(cert, DEMO_DB_SIGNER.certificate);
  return { key, cert };
}

/**
 * Small PE images, as a real binary costs a hash of 100 KiB or more per execution: PE32 and PE32+
 * carrying the real .sbat of Debian's signed fallback loader (fbx64), each unsigned and signed.
 * Signed by Vouch's Authenticode signer (whose output sbverify accepts, test/secureboot) rather than
 * sbsign, whose signatures carry the signing time: the seeds must be the same on every run.
 * (Debian's own signatures are the pkcs7 target's seeds.)
 */
export async function peSeeds(): Promise<Uint8Array[]> {
  const sbat = peSectionContent(parsePe(await debianFile('/usr/lib/shim/fbx64.efi.signed', 'shim-helpers-amd64-signed (with shim-signed)')), '.sbat');
  if (!sbat) throw new Error("Debian's fbx64.efi.signed has no .sbat section to seed from");
  const sections = [
    { name: '.text', data: new Uint8Array(64).fill(0xc3) },
    { name: '.sbat', data: sbat },
  ];
  return (['PE32', 'PE32+'] as const).flatMap((format) => {
    const image = syntheticPe(format, sections);
    return [image, signImage(image, DEMO_DB_SIGNER)];
  });
}

/** PKCS#7 Authenticode signatures of Debian's signed shim, MokManager and GRUB, and every certificate in them. */
export async function pkcs7Seeds(): Promise<Uint8Array[]> {
  const signed = [
    await debianFile('/usr/lib/shim/fbx64.efi.signed', 'shim-helpers-amd64-signed (with shim-signed)'),
    await debianFile('/usr/lib/shim/shimx64.efi.signed', 'shim-signed'),
    await debianFile('/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed', 'grub-efi-amd64-signed'),
  ];
  const seeds: Uint8Array[] = [];
  for (const image of signed) {
    for (const entry of parseCertificateTable(parsePe(image))) {
      seeds.push(entry.data);
      for (const certificate of parseAuthenticodeSignature(entry.data).certificates) seeds.push(certificate.der);
    }
  }
  return distinct(seeds);
}

export const composefsDumps = once(() => vectorFiles('composefs', (name) => name.endsWith('.dump')));

/** composefs images written from every dump vector that builds (the writer is byte-identical to mkcomposefs). */
export async function composefsImageSeeds(): Promise<Uint8Array[]> {
  const images: Uint8Array[] = [];
  for (const dump of await composefsDumps()) {
    try {
      images.push(writeImage(parseDump(dump)));
    } catch {
      // the should-fail vectors build no image
    }
  }
  return images;
}

function run(command: string, args: readonly string[], options: { cwd?: string } = {}): Uint8Array {
  try {
    return new Uint8Array(execFileSync(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    throw new Error(`seed preparation: ${command} failed (${(e as Error).message}); scripts/install-deps.sh installs it`, { cause: e });
  }
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-fuzz-seed-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Layers written by GNU tar (ustar, GNU and pax with xattrs, plus gzip) from a small tree with whiteouts, links and a long name. */
export async function tarSeeds(): Promise<Uint8Array[]> {
  return withTempDir(async (dir) => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'etc/deep'), { recursive: true });
    await writeFile(join(tree, 'etc/hostname'), 'node\n');
    await writeFile(join(tree, 'etc/deep', 'x'.repeat(120)), 'long name\n');
    await writeFile(join(tree, '.wh.removed'), '');
    await writeFile(join(tree, 'etc/deep/.wh..wh..opq'), '');
    await symlink('hostname', join(tree, 'etc/link'));
    await link(join(tree, 'etc/hostname'), join(tree, 'etc/hardlink'));
    // Everything that would differ between runs pinned: times, owners, order, pax atime/ctime, the gzip header's time.
    const common = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', tree];
    const pax = ['--format=pax', '--pax-option=delete=atime,delete=ctime'];
    return [
      run('tar', ['--format=ustar', ...common, '-cf', '-', 'etc/hostname', 'etc/link', 'etc/hardlink', '.wh.removed']),
      run('tar', ['--format=gnu', ...common, '-cf', '-', '.']),
      run('tar', [...pax, '--xattrs', ...common, '-cf', '-', '.']),
      run('tar', [...pax, ...common, '--use-compress-program=gzip -n', '-cf', '-', 'etc']),
    ];
  });
}

/** The YAML and JSON examples of docs/boot-profile.md. */
export async function bootProfileSeeds(): Promise<Uint8Array[]> {
  const doc = await readFile(join(REPO_ROOT, 'docs/boot-profile.md'), 'utf8');
  const blocks = [...doc.matchAll(/```(?:yaml|json)\n([\s\S]*?)```/g)].map((m) => new TextEncoder().encode(m[1]));
  if (blocks.length === 0) throw new Error('docs/boot-profile.md has no yaml/json example to seed from');
  return blocks;
}

const SEED_TIME = new Date('2026-01-01T00:00:00Z');

/** One node of the demo fleet, booted and quoted on the in-process TPM: its evidence and the fleet's reference values. */
export const simulatedNode = once(async () => {
  const references = createReferences(await debianFile('/usr/lib/systemd/boot/efi/linuxx64.efi.stub', 'systemd-boot-efi'));
  const quoted = await quoteNode({ name: 'fuzz-seed', ekAlg: 'ecc', release: 'v1', tamper: null }, references, 'fuzz-seed', new Uint8Array(32).fill(0x5e));
  const evidence = {
    ...quoted,
    // The forms the CLI's files carry: tpm2_quote's serialized PCRs and the AK as PEM.
    quotePcrs: encodePcrsSerialized(toPcrSelection(QUOTED_PCRS), pcrValuesInOrder(quoted.quotedPcrs, QUOTED_PCRS)),
    akPublicPem: publicKeyPem(decode(structures.TPM2B_PUBLIC, quoted.akPublic).value),
  };
  return { references, evidence, now: SEED_TIME, selection: QUOTED_PCRS };
});

/** The quote of the simulated node, minus the AK (which the ak-key target supplies). */
export async function quoteSetup(): Promise<unknown> {
  const { evidence } = await simulatedNode();
  return {
    untrustedAttest: evidence.quoteMessage,
    untrustedSignature: evidence.quoteSignature,
    pcrs: pcrValuesFromSerializedFile(evidence.quotePcrs).values,
    expectedExtraData: evidence.nonce,
    expectedSelection: QUOTED_PCRS,
  };
}

/** The AK in every form --ak accepts. */
export async function akKeySeeds(): Promise<Uint8Array[]> {
  const { evidence } = await simulatedNode();
  const { createPublicKey } = await import('node:crypto');
  const pem = evidence.akPublicPem;
  return [
    evidence.akPublic,
    evidence.akPublic.subarray(2),
    new TextEncoder().encode(pem),
    new Uint8Array(createPublicKey(pem).export({ type: 'spki', format: 'der' })),
  ];
}

export async function appraiseSetup(): Promise<unknown> {
  const { references, evidence, now, selection } = await simulatedNode();
  return {
    inputs: {
      boundAk: decode(structures.TPM2B_PUBLIC, evidence.akPublic).value,
      qualifyingData: evidence.nonce,
      selection,
      references: references.catalog,
      now,
    },
    pcrs: evidence.quotedPcrs,
  };
}

export async function appraiseSeeds(): Promise<Uint8Array[]> {
  const { evidence } = await simulatedNode();
  return [joinSections([evidence.quoteMessage, evidence.quoteSignature, evidence.eventLog])];
}

export async function tpm2ToolsFileSeeds(): Promise<Uint8Array[]> {
  const { evidence } = await simulatedNode();
  const { encodeCredentialFile } = await import('../src/tpm/index.ts');
  const credential = encodeCredentialFile({ credentialBlob: new Uint8Array(68).fill(7), secret: new Uint8Array(66).fill(9) });
  return [evidence.quotePcrs, credential, new TextEncoder().encode('sha256:0,1,2-7+sha1:all')];
}

/**
 * Responses of the in-process TPM to a node's working day (start-up, capabilities, EK/SRK/AK,
 * quote, PCR reads, NV), each as the tpm-responses target reads it: command index, session count, frame.
 */
export const tpmResponseSeeds = once(async () => {
  const seeds: Uint8Array[] = [];
  const inner = await openTransport('sim:seed=fuzz-seed');
  const commandIndex = new Map<number, number>(allCommandSchemas.map((c, i) => [c.code, i]));
  const tpm = new Tpm({
    async send(command) {
      const response = await inner.send(command);
      const frame = splitCommand(command);
      const index = commandIndex.get(frame.code);
      if (index !== undefined) seeds.push(concatBytes(new Uint8Array([index, frame.sessions.length]), response));
      return response;
    },
    close: () => inner.close(),
  });
  try {
    await tpm.info();
    await tpm.pcrBanks();
    await tpm.getRandom(16);
    const ek = await tpm.createEK('ecc');
    const srk = await tpm.createSRK('ecc');
    const ak = await tpm.createAK(srk, 'ecc');
    await tpm.readPublic(ak.key.handle);
    await tpm.quote(ak.key, new Uint8Array(32).fill(1), [{ hash: 0x000b, pcrs: [0, 1, 2, 3, 7] }]);
    await tpm.pcrRead([{ hash: 0x000b, pcrs: [0, 7] }]);
    await tpm.nvDefine(0x01500000, 32);
    await tpm.nvWrite(0x01500000, new Uint8Array(32).fill(5));
    await tpm.nvRead(0x01500000);
    await tpm.nvReadPublic(0x01500000);
    await ek.flush();
  } finally {
    await tpm.transport.close();
  }
  return distinct(seeds);
});

/** Every structure: real ones from the node's evidence, and a few encoded from random values of each schema (fixed seed). */
export async function tpmStructureSeeds(): Promise<Uint8Array[]> {
  const { evidence } = await simulatedNode();
  const indexOf = (schema: AnySchema): number => structureSchemas.indexOf(schema);
  const tagged = (schema: AnySchema, bytes: Uint8Array): Uint8Array => concatBytes(new Uint8Array([indexOf(schema)]), bytes);
  const seeds = [
    tagged(structures.TPM2B_PUBLIC, evidence.akPublic),
    tagged(structures.TPM2B_PUBLIC, evidence.ekPublic),
    tagged(structures.TPMS_ATTEST, evidence.quoteMessage),
    tagged(structures.TPMT_SIGNATURE, evidence.quoteSignature),
  ];
  for (const schema of structureSchemas) {
    for (const value of fc.sample(arbitraryOf(schema), { numRuns: 3, seed: 7 })) seeds.push(tagged(schema, encode(schema, value)));
  }
  return distinct(seeds);
}
