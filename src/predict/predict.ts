// PCR prediction: from a boot profile and the bytes of its artifacts, the events firmware, shim,
// GRUB, the Linux EFI stub and systemd-stub will log, and the PCR values they produce.
// Pure: no I/O, no clock. The caller reads the files the profile names (profileArtifacts()).
import { bytesEqual, concatBytes, fromHex, toHex, utf8 } from '../bytes/index.ts';
import { authenticodeHash, EfiGuid, guidFromString, parsePe, parseSignatureDatabaseFile } from '../secureboot/index.ts';
import { shimDefaults, type ShimDefaults } from './shim.ts';
import { dbAuthority, dbAuthorizes, vendorCertAuthorizes } from './authority.ts';
import { encodeUefiVariableData, extendPcr, initialPcrValue } from '../eventlog/index.ts';
import type { PcrBank } from './banks.ts';
import { isVouchError } from '../errors/index.ts';
import { PredictError } from './errors.ts';
import {
  asciiEventText,
  dataIsMeasured,
  efiAction,
  espFilePath,
  imageLoadEventData,
  separator,
  SYSTEMD_STUB_KERNEL_PATH,
  taggedEventData,
  ucs2EventText,
  type Measured,
  type Measurement,
  type PredictedEvent,
} from './events.ts';
import type { BlobSource, BootProfile, BootStage, ImageSource } from './profile.ts';
import { ukiSections } from './systemd-stub.ts';
import { parseVariableStore } from './varstore.ts';
import { hashBytes } from '../hash/index.ts';

/** File contents by the names the profile uses. */
export type ArtifactSet = ReadonlyMap<string, Uint8Array>;

export interface Prediction {
  /** Final values, bank → PCR index → hex, for every PCR the boot chain is modeled to touch. */
  readonly banks: Readonly<Partial<Record<PcrBank, Readonly<Record<string, string>>>>>;
  readonly pcrs: readonly number[];
  /** The expected event log entries of those PCRs, in the order they are logged. */
  readonly events: readonly PredictedEvent[];
  /**
   * What the prediction assumed because the profile left it open (defaults read from a binary,
   * behaviour of a component version not checked against a real boot): review these before
   * trusting the values as reference values.
   */
  readonly assumptions: readonly string[];
}

/** The systemd-stub releases whose measurements a real boot here has confirmed. */
const VERIFIED_STUB_VERSIONS: ReadonlySet<number> = new Set([252]);

const PcrIndex = {
  bootApplications: 4,
  secureBootPolicy: 7,
  grubCommands: 8,
  loadedFiles: 9,
  kernelImage: 11,
  kernelParameters: 12,
  systemExtensions: 13,
  mokLists: 14,
} as const;

/** The Linux EFI stub's EV_EVENT_TAG ids (drivers/firmware/efi/libstub/efi-stub-helper.c). */
const LinuxTag = {
  initrd: { id: 0x8f3b22ec, text: 'Linux initrd' },
  loadOptions: { id: 0x8f3b22ed, text: 'LOADED_IMAGE::LoadOptions' },
} as const;

function byteCount(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}

function artifact(artifacts: ArtifactSet, name: string, field: string): Uint8Array {
  const bytes = artifacts.get(name);
  if (bytes === undefined)
    throw new PredictError('ERR_PREDICT_ARTIFACT', `${field}: artifact ${JSON.stringify(name)} was not provided`, { field, artifact: name });
  return bytes;
}

function blobBytes(artifacts: ArtifactSet, source: BlobSource, field: string): Uint8Array {
  if ('file' in source) return artifact(artifacts, source.file, field);
  if ('hex' in source) return fromHex(source.hex);
  return new Uint8Array(0);
}

/**
 * The VariableData firmware measures for a signature database given as a file in any usual form
 * (`.esl`, efivarfs export, `.auth`): src/secureboot reads the form, and in all of them the
 * EFI_SIGNATURE_LISTs are the file's tail, so the measured bytes are that tail, byte for byte.
 */
function variableContent(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length === 0) return bytes;
  let lists;
  try {
    lists = parseSignatureDatabaseFile(bytes).lists;
  } catch (e) {
    throw new PredictError('ERR_PREDICT_ARTIFACT', `${field}: not a signature database (.esl, efivarfs or .auth): ${(e as Error).message}`, { field });
  }
  const listBytes = lists.reduce((n, l) => n + 28 + l.header.length + l.signatures.length * l.signatureSize, 0);
  return bytes.subarray(bytes.length - listBytes);
}

class Recorder {
  readonly measurements: Measurement[] = [];
  readonly assumptions: string[] = [];
  /** Authorities the firmware has logged: edk2 logs each one once per boot. */
  private readonly firmwareAuthorities: Uint8Array[] = [];
  /** Authorities shim has logged (shim keeps its own list). */
  private readonly shimAuthorities: Uint8Array[] = [];

  add(m: Measurement): void {
    this.measurements.push(m);
  }

  authority(by: 'firmware' | 'shim', variable: string, vendorGuid: string, data: Uint8Array, description: string): void {
    const seen = by === 'firmware' ? this.firmwareAuthorities : this.shimAuthorities;
    const bytes = encodeUefiVariableData(vendorGuid, variable, data);
    if (seen.some((b) => bytesEqual(b, bytes))) return;
    seen.push(bytes);
    this.add(dataIsMeasured(PcrIndex.secureBootPolicy, 'EV_EFI_VARIABLE_AUTHORITY', by, `${variable}: ${description}`, bytes));
  }
}

interface FirmwareState {
  readonly db: Uint8Array;
  readonly dbx: Uint8Array;
}

function secureBootVariables(profile: BootProfile, artifacts: ArtifactSet, rec: Recorder): FirmwareState {
  const fw = profile.firmware;
  const stored = fw.variableStore === undefined ? [] : parseVariableStore(artifact(artifacts, fw.variableStore, 'firmware.variableStore'));
  const fromStore = (name: string, guid: string): Uint8Array | undefined => stored.find((v) => v.name === name && v.vendorGuid === guid)?.data;
  const value = (name: 'PK' | 'KEK' | 'db' | 'dbx' | 'dbt', guid: string): Uint8Array | undefined => {
    const given = fw.variables[name];
    if (given !== undefined)
      return 'absent' in given ? undefined : variableContent(blobBytes(artifacts, given, `firmware.variables.${name}`), `firmware.variables.${name}`);
    return fromStore(name, guid);
  };
  const g = EfiGuid.globalVariable;
  const sec = EfiGuid.imageSecurityDatabase;
  // edk2 Tcg2Dxe MeasureAllSecureVariables: SecureBoot, PK, KEK, db, dbx, each measured even when
  // absent (zero-length data, PFP §3.3.4.8), then dbt only when it exists.
  const order: Array<{ name: 'PK' | 'KEK' | 'db' | 'dbx'; guid: string }> = [
    { name: 'PK', guid: g },
    { name: 'KEK', guid: g },
    { name: 'db', guid: sec },
    { name: 'dbx', guid: sec },
  ];
  const measure = (name: string, guid: string, data: Uint8Array): void => {
    rec.add(
      dataIsMeasured(
        PcrIndex.secureBootPolicy,
        'EV_EFI_VARIABLE_DRIVER_CONFIG',
        'firmware',
        `${name} (${byteCount(data.length)})`,
        encodeUefiVariableData(guid, name, data),
      ),
    );
  };
  measure('SecureBoot', g, new Uint8Array([fw.secureBoot ? 1 : 0]));
  const measuredData: Partial<Record<string, Uint8Array>> = {};
  for (const { name, guid } of order) {
    const data = value(name, guid) ?? new Uint8Array(0);
    measuredData[name] = data;
    measure(name, guid, data);
  }
  const dbt = value('dbt', sec);
  if (dbt !== undefined) measure('dbt', sec, dbt);
  rec.add(separator(PcrIndex.secureBootPolicy));
  return { db: measuredData.db ?? new Uint8Array(0), dbx: measuredData.dbx ?? new Uint8Array(0) };
}

function bootManagerActions(profile: BootProfile, rec: Recorder): void {
  const pcr = PcrIndex.bootApplications;
  const calling = 'Calling EFI Application from Boot Option';
  // edk2 Tcg2Dxe OnReadyToBoot: the first ReadyToBoot logs "Calling" and the separators of PCRs
  // 0-6; each later one (the boot manager trying the next option after one failed or returned)
  // logs "Returning" then "Calling" again.
  if (profile.firmware.logsCallingAction) rec.add(efiAction(pcr, calling));
  rec.add(separator(pcr));
  for (let i = 0; i < profile.firmware.earlierBootAttempts; i++) {
    rec.add(efiAction(pcr, 'Returning from EFI Application from Boot Option'));
    if (profile.firmware.logsCallingAction) rec.add(efiAction(pcr, calling));
  }
}

/**
 * An image's PCR 4 event. `path` is the device path logged: the stage's ESP path when the image is
 * loaded from a file, none when it is verified or loaded from a buffer in memory. An image given
 * by digest has an unknown length, logged as 0.
 */
function imageMeasurement(source: ImageSource, artifacts: ArtifactSet, field: string, by: string, label: string, path: string | undefined): Measurement {
  const measured: Measured =
    'file' in source
      ? { kind: 'pe-image', image: artifact(artifacts, source.file, `${field}.image`), name: source.file }
      : {
          kind: 'digests',
          digests: Object.fromEntries(Object.entries(source.authenticode).map(([bank, hex]) => [bank, fromHex(hex)])),
          name: '(by digest)',
        };
  const length = measured.kind === 'pe-image' ? measured.image.length : 0;
  return {
    pcr: PcrIndex.bootApplications,
    type: 'EV_EFI_BOOT_SERVICES_APPLICATION',
    by,
    description: `${label} ${measured.name}`,
    measured,
    eventData: imageLoadEventData(length, espFilePath(path)),
  };
}

interface Loader {
  /** Who verifies and measures the next image: firmware's LoadImage, shim's verifier, or nobody. */
  readonly kind: 'firmware' | 'shim' | 'none';
  /** After shim verified it, the image is also started with LoadImage: firmware measures it again. */
  readonly thenFirmware?: boolean;
  /** The image comes from a buffer in memory (GRUB's kernel), so its event has no device path. */
  readonly fromMemory?: boolean;
  /** systemd-boot hands a UKI its .cmdline as load options and measures them into PCR 12. */
  readonly passesUkiCmdline?: boolean;
}

interface ShimState {
  readonly vendorCert?: Uint8Array;
  readonly vendorCertAuthority: 'MokListRT' | 'Shim';
}

/** What every stage needs: the inputs, the firmware's Secure Boot state, and the log being built. */
interface Context {
  readonly artifacts: ArtifactSet;
  readonly rec: Recorder;
  readonly fw: FirmwareState;
  readonly secureBoot: boolean;
}

function recordAuthority(ctx: Context, loader: Loader, stage: BootStage, field: string, shim: ShimState | undefined): void {
  const { rec, artifacts, fw } = ctx;
  const authority = stage.authority;
  if (!ctx.secureBoot || loader.kind === 'none' || authority.kind === 'none') return;
  const by = loader.kind;
  if (authority.kind === 'entry') {
    rec.authority(by, authority.variable, authority.vendorGuid, blobBytes(artifacts, authority.data, `${field}.authority.data`), 'given by the profile');
    return;
  }
  if (!('file' in stage.image)) {
    throw new PredictError('ERR_PREDICT_NO_AUTHORITY', `${field}: an image given by digest needs an explicit authority (or authority: none)`, { field });
  }
  const image = artifact(artifacts, stage.image.file, `${field}.image`);
  // shim checks db before its built-in certificate (shim.c verify_buffer_authenticode), and
  // logs whichever authorized the image; firmware knows only db.
  // shim >= 15.3 finds its certificate in the MokListRT it mirrored (logged as that entry's
  // EFI_SIGNATURE_DATA); older shims logged the bare certificate as "Shim".
  if (by === 'shim' && shim?.vendorCert && !dbAuthorizes(image, fw.db, fw.dbx) && vendorCertAuthorizes(image, shim.vendorCert)) {
    const data = shim.vendorCertAuthority === 'Shim' ? shim.vendorCert : concatBytes(guidFromString(EfiGuid.shimLock), shim.vendorCert);
    rec.authority(by, shim.vendorCertAuthority, EfiGuid.shimLock, data, 'shim vendor certificate');
    return;
  }
  const entry = dbAuthority(image, fw.db, fw.dbx, field);
  rec.authority(by, 'db', EfiGuid.imageSecurityDatabase, entry.signatureData, entry.description);
}

/** Linux EFI stub tagged event: TCG_PCClientTaggedEvent {id, size, "text\0"} over H(data). */
function linuxTag(tag: (typeof LinuxTag)[keyof typeof LinuxTag], data: Uint8Array): Measurement {
  return {
    pcr: PcrIndex.loadedFiles,
    type: 'EV_EVENT_TAG',
    by: 'linux',
    description: `${tag.text} (0x${tag.id.toString(16)})`,
    measured: { kind: 'bytes', bytes: data },
    eventData: taggedEventData(tag.id, tag.text),
  };
}

/** An EV_IPL whose data is its text and whose digest covers other bytes (a GRUB command's payload, a file, a MOK list). */
function iplEvent(pcr: number, by: string, description: string, eventData: Uint8Array, hashed: Uint8Array): Measurement {
  return { pcr, type: 'EV_IPL', by, description, measured: { kind: 'bytes', bytes: hashed }, eventData };
}

/** UEFI LoadOptions as the Linux stub receives them from a loader: UTF-16LE with the NUL. */
function loadOptionsBytes(cmdline: string): Uint8Array {
  return new Uint8Array(Buffer.from(cmdline + '\0', 'utf16le'));
}

const GRUB_PREFIXES = ['grub_cmd: ', 'kernel_cmdline: ', 'module_cmdline: ', 'grub_cmd ', 'grub_kernel_cmdline ', 'grub_module_cmdline '] as const;

/**
 * A GRUB PCR 8 event from its logged text. Upstream logs `grub_cmd: X` / `kernel_cmdline: X` over
 * H(X). RHEL 8's GRUB logs `grub_cmd X` over H(X‖NUL) but `grub_kernel_cmdline X` over H(X)
 * (observed in a real RHEL 8 log). A bare command gets the dialect's `grub_cmd` prefix.
 */
function grubCommand(text: string, dialect: 'upstream' | 'rhel'): Measurement {
  const prefix = GRUB_PREFIXES.find((p) => text.startsWith(p));
  const logged = prefix ? text : `${dialect === 'rhel' ? 'grub_cmd ' : 'grub_cmd: '}${text}`;
  const payload = prefix ? text.slice(prefix.length) : text;
  const withNul = logged.startsWith('grub_cmd ');
  const bytes = withNul ? asciiEventText(payload) : utf8(payload);
  return iplEvent(PcrIndex.grubCommands, 'grub', logged, asciiEventText(logged), bytes);
}

/** shim's own measurements (PCR 14 MOK lists, PCR 7 SbatLevel) and what it trusts next. */
function runShim(ctx: Context, stage: Extract<BootStage, { kind: 'shim' }>, field: string): { next: Loader; shim: ShimState } {
  const { rec, artifacts } = ctx;
  // Defaults come from the shim binary itself; the profile overrides any of them (a machine
  // with enrolled MOKs or a newer SbatLevel applied).
  const defaults: Partial<ShimDefaults> = 'file' in stage.image ? shimDefaults(parsePe(artifact(artifacts, stage.image.file, `${field}.image`))) : {};
  const pick = (source: BlobSource | undefined, fallback: Uint8Array | undefined, name: string): Uint8Array | undefined =>
    source !== undefined ? ('absent' in source ? undefined : blobBytes(artifacts, source, `${field}.${name}`)) : fallback;
  const sbatLevel = pick(stage.sbatLevel, defaults.sbatLevel, 'sbatLevel');
  const moks: Array<[string, Uint8Array | undefined]> = [
    ['MokList', pick(stage.mokList, defaults.mokList, 'mokList')],
    ['MokListX', pick(stage.mokListX, defaults.mokListX, 'mokListX')],
  ];
  const trusted = pick(stage.mokListTrusted, defaults.mokListTrusted, 'mokListTrusted');
  // shim's order: MokList, MokListX into PCR 14, SbatLevel into PCR 7, then MokListTrusted.
  // Each PCR 14 event is EV_IPL "<name>\0" over H(variable data).
  for (const [name, data] of moks) {
    if (data !== undefined) rec.add(iplEvent(PcrIndex.mokLists, 'shim', name, asciiEventText(name), data));
  }
  if (sbatLevel !== undefined) rec.authority('shim', 'SbatLevel', EfiGuid.shimLock, sbatLevel, 'SBAT revocation level');
  if (trusted !== undefined) rec.add(iplEvent(PcrIndex.mokLists, 'shim', 'MokListTrusted', asciiEventText('MokListTrusted'), trusted));
  const defaulted = (['mokList', 'mokListX', 'mokListTrusted', 'sbatLevel'] as const).filter((k) => stage[k] === undefined && defaults[k] !== undefined);
  if (defaulted.length > 0) {
    rec.assumptions.push(`${field} (shim): ${defaulted.join(', ')} as a fresh machine gets them from this shim (no MOKs enrolled, default SBAT policy)`);
  }
  const vendorCert = pick(stage.vendorCert, defaults.vendorCert, 'vendorCert');
  return { next: { kind: 'shim' }, shim: { ...(vendorCert ? { vendorCert } : {}), vendorCertAuthority: stage.vendorCertAuthority } };
}

/** systemd-stub's measurements of a UKI (PCR 11, 12), then the kernel's own (PCR 9), then pcrphase. */
function runUki(ctx: Context, stage: Extract<BootStage, { kind: 'uki' }>, field: string, loader: Loader): void {
  const { rec, artifacts, secureBoot } = ctx;
  if (!('file' in stage.image)) throw new PredictError('ERR_PREDICT_PROFILE', `${field}.image: a UKI must be a file`, { field });
  const uki = ukiSections(parsePe(artifact(artifacts, stage.image.file, `${field}.image`)), stage.stubVersion);
  if (!VERIFIED_STUB_VERSIONS.has(stage.stubVersion)) {
    rec.assumptions.push(
      `${field} (uki): systemd-stub ${stage.stubVersion}'s measured sections are taken from systemd's source, not confirmed by a boot here (confirmed: ${[...VERIFIED_STUB_VERSIONS].join(', ')})`,
    );
  }
  for (const { name, content } of uki.measured) {
    // Both events are logged under the section name in UTF-16; the first hashes the ASCII name with its NUL.
    const logged = ucs2EventText(name);
    rec.add(iplEvent(PcrIndex.kernelImage, 'systemd-stub', `${name} (name)`, logged, asciiEventText(name)));
    rec.add(iplEvent(PcrIndex.kernelImage, 'systemd-stub', `${name} (${byteCount(content.length)})`, logged, content));
  }
  // Load options arrive as UTF-16LE with the NUL (what LoadOptions holds). systemd-boot (v251+)
  // measures those it passes into PCR 12, as seen booting a UKI entry under OVMF.
  const passed = stage.loadOptions ?? (loader.passesUkiCmdline ? uki.cmdline : undefined);
  if (loader.passesUkiCmdline && passed !== undefined && passed !== '') {
    rec.add(dataIsMeasured(PcrIndex.kernelParameters, 'EV_IPL', 'systemd-boot', `load options: ${passed}`, loadOptionsBytes(passed)));
  }
  // The stub honours load options only when the UKI has no .cmdline or Secure Boot is off,
  // and then measures them into PCR 12 itself.
  const overridden = passed !== undefined && passed !== '' && (uki.cmdline === undefined || !secureBoot);
  const cmdline = overridden ? passed : uki.cmdline;
  if (overridden) {
    rec.add(dataIsMeasured(PcrIndex.kernelParameters, 'EV_IPL', 'systemd-stub', `load options: ${passed}`, loadOptionsBytes(passed)));
  }
  // systemd-stub 252 starts the kernel with LoadImage when Secure Boot is off (with it on,
  // LoadImage would refuse the unsigned inner kernel and it uses the EFI handover protocol):
  // firmware then measures .linux into PCR 4, as a real boot with Secure Boot off shows.
  if (!secureBoot) {
    if (!VERIFIED_STUB_VERSIONS.has(stage.stubVersion))
      rec.assumptions.push(
        `${field} (uki): with Secure Boot off, systemd-stub ${stage.stubVersion} assumed to start .linux with LoadImage (measured in PCR 4) as 252 does`,
      );
    const linux = uki.measured.find((m) => m.name === '.linux')!.content;
    rec.add({
      pcr: PcrIndex.bootApplications,
      type: 'EV_EFI_BOOT_SERVICES_APPLICATION',
      by: 'firmware',
      description: 'uki .linux (started with LoadImage)',
      measured: { kind: 'pe-image', image: linux, name: '.linux' },
      eventData: imageLoadEventData(linux.length, SYSTEMD_STUB_KERNEL_PATH),
    });
  }
  if (cmdline !== undefined && cmdline !== '' && stage.kernelMeasuresLoadOptions) rec.add(linuxTag(LinuxTag.loadOptions, loadOptionsBytes(cmdline)));
  if (uki.initrd !== undefined && stage.kernelMeasuresInitrd) rec.add(linuxTag(LinuxTag.initrd, uki.initrd));
  // systemd-pcrphase extends H(word) from userspace, after ExitBootServices: nothing in the
  // firmware log (systemd >= 255 records it in its own /run/log/systemd/tpm2-measure.log).
  for (const phase of stage.phases) {
    rec.add({
      pcr: PcrIndex.kernelImage,
      type: 'EV_IPL',
      by: 'systemd-pcrphase',
      description: phase,
      measured: { kind: 'bytes', bytes: utf8(phase) },
      eventData: undefined,
    });
  }
}

/**
 * A stage's image that src/secureboot cannot read (not a PE, a damaged header) fails under the
 * stage's field and file name: a profile names several images, and the parser's message alone
 * does not say which one.
 */
function runStage(ctx: Context, stage: BootStage, index: number, loader: Loader, shimState: ShimState | undefined): { next: Loader; shim?: ShimState } {
  const field = `chain[${index}]`;
  try {
    return measureStage(ctx, stage, field, loader, shimState);
  } catch (e) {
    if (!isVouchError(e) || e instanceof PredictError) throw e;
    const image = 'file' in stage.image ? ` ${stage.image.file}` : '';
    throw new PredictError('ERR_PREDICT_ARTIFACT', `${field} (${stage.kind}${image}): ${e.code}: ${e.message}`, { field, cause: e.code }, { cause: e });
  }
}

function measureStage(ctx: Context, stage: BootStage, field: string, loader: Loader, shimState: ShimState | undefined): { next: Loader; shim?: ShimState } {
  const { rec, artifacts } = ctx;
  recordAuthority(ctx, loader, stage, field, shimState);
  const path = loader.fromMemory ? undefined : stage.path;
  if (loader.kind !== 'none') rec.add(imageMeasurement(stage.image, artifacts, field, loader.kind, stage.kind, path));
  // shim's policy hook approves it for LoadImage, so firmware logs no authority, only PCR 4.
  if (loader.thenFirmware) rec.add(imageMeasurement(stage.image, artifacts, field, 'firmware', stage.kind, path));

  switch (stage.kind) {
    case 'efi-application':
      // It starts the next image with LoadImage, so firmware verifies and measures it.
      return { next: { kind: 'firmware' } };
    case 'systemd-boot':
      // LoadImage too; for a UKI entry it passes the UKI's own .cmdline as load options.
      return { next: { kind: 'firmware', passesUkiCmdline: true } };
    case 'shim':
      return runShim(ctx, stage, field);
    case 'grub': {
      for (const command of stage.commands) rec.add(grubCommand(command, stage.dialect));
      for (const [i, file] of stage.files.entries()) {
        const bytes = blobBytes(artifacts, file.content, `${field}.files[${i}]`);
        rec.add(iplEvent(PcrIndex.loadedFiles, 'grub', file.path, asciiEventText(file.path), bytes));
      }
      // GRUB on shim verifies the kernel through shim's protocol, which measures it into PCR 4;
      // Debian 12's GRUB then starts it with LoadImage, and firmware measures it again. GRUB
      // without shim boots Linux with its own loader, which firmware does not measure.
      if (loader.kind !== 'shim') return { next: { kind: 'none' } };
      if (stage.kernelLoadImage)
        rec.assumptions.push(`${field} (grub): starts the kernel with LoadImage after shim verified it, as Debian 12's GRUB does (kernel twice in PCR 4)`);
      return { next: { kind: 'shim', fromMemory: true, ...(stage.kernelLoadImage ? { thenFirmware: true } : {}) } };
    }
    case 'linux': {
      if (stage.cmdline !== undefined && stage.cmdline !== '' && stage.measureLoadOptions) {
        rec.add(linuxTag(LinuxTag.loadOptions, loadOptionsBytes(stage.cmdline)));
      }
      if (stage.initrd !== undefined && stage.measureInitrd) {
        rec.add(linuxTag(LinuxTag.initrd, blobBytes(artifacts, stage.initrd, `${field}.initrd`)));
      }
      return { next: { kind: 'none' } };
    }
    case 'uki':
      runUki(ctx, stage, field, loader);
      return { next: { kind: 'none' } };
  }
}

/** PCRs boot loaders extend (PC Client PFP §3.3.4 and systemd's TPM2_PCR_MEASUREMENTS): GRUB/systemd-boot < 251, loaded files, system extensions, shim's MOK lists. */
const BOOT_LOADER_PCRS = [PcrIndex.grubCommands, PcrIndex.loadedFiles, PcrIndex.systemExtensions, PcrIndex.mokLists] as const;

/** PCRs a stage is modeled to own: predicted even when nothing is extended (then they stay zero). */
const STAGE_PCRS: Readonly<Record<BootStage['kind'], readonly number[]>> = {
  'efi-application': [],
  'systemd-boot': [PcrIndex.kernelParameters],
  shim: [PcrIndex.mokLists],
  grub: [PcrIndex.grubCommands, PcrIndex.loadedFiles],
  linux: [PcrIndex.loadedFiles],
  uki: [PcrIndex.loadedFiles, PcrIndex.kernelImage, PcrIndex.kernelParameters],
};

function digestOf(m: Measurement, bank: PcrBank, index: number): Uint8Array {
  switch (m.measured.kind) {
    case 'bytes':
      return hashBytes(bank, m.measured.bytes);
    case 'pe-image':
      return authenticodeHash(m.measured.image, bank);
    case 'digests': {
      const d = m.measured.digests[bank];
      if (d === undefined) {
        throw new PredictError('ERR_PREDICT_DIGEST_MISSING', `event #${index} (${m.description}): no ${bank} digest given for bank ${bank}`, {
          bank,
          event: index,
        });
      }
      return d;
    }
  }
}

/**
 * Predicts the events and final PCR values of a boot.
 *
 * @example
 *   const profile = parseBootProfile(YAML.parse(text));
 *   const artifacts = new Map(await Promise.all(profileArtifacts(profile).map(async (f) => [f, await readFile(f)] as const)));
 *   predict(profile, artifacts).banks.sha256?.['4']
 */
export function predict(profile: BootProfile, artifacts: ArtifactSet): Prediction {
  const rec = new Recorder();
  const fw = secureBootVariables(profile, artifacts, rec);
  const ctx: Context = { artifacts, rec, fw, secureBoot: profile.firmware.secureBoot };
  bootManagerActions(profile, rec);
  let loader: Loader = { kind: 'firmware' };
  let shim: ShimState | undefined;
  for (const [i, stage] of profile.chain.entries()) {
    const out = runStage(ctx, stage, i, loader, shim);
    loader = out.next;
    if (out.shim) shim = out.shim;
  }

  const pcrs = new Set<number>([PcrIndex.bootApplications, PcrIndex.secureBootPolicy]);
  for (const s of profile.chain) for (const p of STAGE_PCRS[s.kind]) pcrs.add(p);
  // A chain that ends in a kernel is the whole boot: every boot-loader PCR it does not extend
  // stays at its reset value, and a different value means a stage ran that the profile lacks.
  const last = profile.chain.at(-1)?.kind;
  if (last === 'linux' || last === 'uki') for (const p of BOOT_LOADER_PCRS) pcrs.add(p);
  for (const m of rec.measurements) pcrs.add(m.pcr);
  const sortedPcrs = [...pcrs].sort((a, b) => a - b);

  const events: PredictedEvent[] = rec.measurements.map((m) => ({
    pcr: m.pcr,
    type: m.type,
    by: m.by,
    description: m.description,
    digests: {},
    ...(m.eventData !== undefined ? { data: toHex(m.eventData) } : {}),
  }));
  const banks: Partial<Record<PcrBank, Record<string, string>>> = {};
  for (const bank of profile.banks) {
    const values = new Map<number, Uint8Array>(sortedPcrs.map((p) => [p, initialPcrValue(p, bank)]));
    rec.measurements.forEach((m, i) => {
      const digest = digestOf(m, bank, i);
      (events[i]!.digests as Partial<Record<PcrBank, string>>)[bank] = toHex(digest);
      values.set(m.pcr, extendPcr(bank, values.get(m.pcr)!, digest));
    });
    banks[bank] = Object.fromEntries(sortedPcrs.map((p) => [String(p), toHex(values.get(p)!)]));
  }
  return { banks, pcrs: sortedPcrs, events, assumptions: rec.assumptions };
}

/** Every artifact file a profile names, so the caller can read them before predict(). */
export function profileArtifacts(profile: BootProfile): string[] {
  const names = new Set<string>();
  const blob = (b: BlobSource | undefined): void => {
    if (b && 'file' in b) names.add(b.file);
  };
  if (profile.firmware.variableStore !== undefined) names.add(profile.firmware.variableStore);
  for (const v of Object.values(profile.firmware.variables)) blob(v);
  for (const s of profile.chain) {
    if ('file' in s.image) names.add(s.image.file);
    if (s.authority.kind === 'entry') blob(s.authority.data);
    switch (s.kind) {
      case 'shim':
        [s.mokList, s.mokListX, s.mokListTrusted, s.sbatLevel, s.vendorCert].forEach(blob);
        break;
      case 'grub':
        s.files.forEach((f) => blob(f.content));
        break;
      case 'linux':
        blob(s.initrd);
        break;
      default:
        break;
    }
  }
  return [...names];
}
