// The declarative boot profile (docs/boot-profile.md): what the firmware holds and which chain of
// images boots. Parsed from JSON/YAML values into typed data here; file contents are not read
// here — a profile names artifacts, and the caller passes their bytes to predict().
import type { PcrBank } from './banks.ts';
import { isPcrBank } from './banks.ts';
import { PredictError } from './errors.ts';

/** Bytes of a UEFI variable (or other blob): an artifact file, inline hex, or absent (measured as empty). */
export type BlobSource = { readonly file: string } | { readonly hex: string } | { readonly absent: true };

/** An image by its bytes (an artifact) or only by its Authenticode digests (hex per bank). */
export type ImageSource = { readonly file: string } | { readonly authenticode: Readonly<Partial<Record<PcrBank, string>>> };

/**
 * Which entry authorizes an image under Secure Boot, for the PCR 7 authority event:
 * `auto` (the db X.509 entry whose certificate the image's signature carries), `none` (the stage
 * that loads it measures no authority, e.g. Secure Boot off), or the exact variable entry.
 */
export type AuthoritySource =
  | { readonly kind: 'auto' }
  | { readonly kind: 'none' }
  | { readonly kind: 'entry'; readonly variable: string; readonly vendorGuid: string; readonly data: BlobSource };

export const SECURE_BOOT_VARIABLES = ['PK', 'KEK', 'db', 'dbx'] as const;
export type SecureBootVariable = (typeof SECURE_BOOT_VARIABLES)[number];

export interface FirmwareProfile {
  readonly secureBoot: boolean;
  /** An edk2/OVMF variable store (VARS.fd) the Secure Boot variables are read from. */
  readonly variableStore?: string;
  /** Variables given one by one; they override the store. */
  readonly variables: Readonly<Partial<Record<SecureBootVariable | 'dbt', BlobSource>>>;
  /**
   * Boot attempts before the one that boots: every boot option the boot manager tries signals
   * ReadyToBoot, even one that then fails to load (OVMF tries an empty CD-ROM drive first).
   */
  readonly earlierBootAttempts: number;
  /** Whether the firmware logs "Calling EFI Application from Boot Option" (some omit it). */
  readonly logsCallingAction: boolean;
}

export interface ImageStage {
  readonly image: ImageSource;
  readonly authority: AuthoritySource;
  /**
   * The image's path on the ESP (`\EFI\BOOT\BOOTX64.EFI`): the file path node of its logged
   * device path when firmware or shim loads it from the disk.
   */
  readonly path?: string;
}

export type BootStage =
  | (ImageStage & { readonly kind: 'efi-application' })
  | (ImageStage & { readonly kind: 'systemd-boot' })
  | (ImageStage & {
      readonly kind: 'shim';
      readonly mokList?: BlobSource;
      readonly mokListX?: BlobSource;
      readonly mokListTrusted?: BlobSource;
      readonly sbatLevel?: BlobSource;
      /** The certificate built into shim (default: its .vendor_cert). */
      readonly vendorCert?: BlobSource;
      /** How shim logs that certificate authorizing an image: MokListRT (shim >= 15.3) or Shim (older). */
      readonly vendorCertAuthority: 'MokListRT' | 'Shim';
    })
  | (ImageStage & {
      readonly kind: 'grub';
      /** Every command GRUB runs, in order, as its tpm module logs them. */
      readonly commands: readonly string[];
      /** Files GRUB reads and measures into PCR 9 (grub.cfg, kernel, initrd), in order. */
      readonly files: readonly { readonly path: string; readonly content: BlobSource }[];
      /** upstream: `grub_cmd: X`, digest H(X). rhel: `grub_cmd X`, digest H(X‖NUL). */
      readonly dialect: 'upstream' | 'rhel';
      /** On shim, GRUB starts the kernel with LoadImage after shim verified it (Debian 12): measured twice in PCR 4. */
      readonly kernelLoadImage: boolean;
    })
  | (ImageStage & {
      readonly kind: 'linux';
      readonly cmdline?: string;
      readonly initrd?: BlobSource;
      /** Linux EFI stub tagged events into PCR 9 (kernels with efistub measurement support). */
      readonly measureLoadOptions: boolean;
      readonly measureInitrd: boolean;
    })
  | (ImageStage & {
      readonly kind: 'uki';
      /** systemd-stub version, which decides the sections it measures into PCR 11. */
      readonly stubVersion: number;
      /** Load options passed to the UKI; the stub uses (and measures into PCR 12) them only without .cmdline or Secure Boot. */
      readonly loadOptions?: string;
      /** The kernel inside measures its load options and initrd into PCR 9 (Linux >= 6.1 EFI stub). */
      readonly kernelMeasuresLoadOptions: boolean;
      readonly kernelMeasuresInitrd: boolean;
      /** systemd-pcrphase words extended into PCR 11 later in boot, in order. */
      readonly phases: readonly string[];
    });

export type BootStageKind = BootStage['kind'];

export interface BootProfile {
  readonly banks: readonly PcrBank[];
  readonly firmware: FirmwareProfile;
  readonly chain: readonly BootStage[];
}

type Obj = Record<string, unknown>;

function fail(field: string, message: string): never {
  throw new PredictError('ERR_PREDICT_PROFILE', `profile ${field}: ${message}`, { field });
}

function object(value: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be a mapping');
  const unknownKeys = Object.keys(value).filter((k) => !allowed.includes(k));
  // A misspelt key would silently fall back to a default and predict the wrong PCRs.
  if (unknownKeys.length > 0) fail(`${field}.${unknownKeys[0]}`, `unknown key (allowed: ${allowed.join(', ')})`);
  return value as Obj;
}

function optString(o: Obj, key: string, field: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(`${field}.${key}`, 'must be a string');
  return v;
}

function optBoolean(o: Obj, key: string, field: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(`${field}.${key}`, 'must be true or false');
  return v;
}

function optCount(o: Obj, key: string, field: string, fallback: number, max: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${field}.${key}`, `must be an integer 0..${max}`);
  return v;
}

function stringList(o: Obj, key: string, field: string): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`${field}.${key}`, 'must be a list of strings');
  return v;
}

function hexString(v: unknown, field: string): string {
  if (typeof v !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(v)) fail(field, 'must be a hex string of whole bytes');
  return v.toLowerCase();
}

/** `path`, `{file: path}`, `{hex: "…"}` or `{absent: true}`. */
function blob(v: unknown, field: string): BlobSource {
  if (typeof v === 'string') return { file: v };
  const o = object(v, field, ['file', 'hex', 'absent']);
  if (typeof o.file === 'string' && o.hex === undefined && o.absent === undefined) return { file: o.file };
  if (o.hex !== undefined && o.file === undefined && o.absent === undefined) return { hex: hexString(o.hex, `${field}.hex`) };
  if (o.absent === true && o.file === undefined && o.hex === undefined) return { absent: true };
  return fail(field, 'needs exactly one of file, hex, absent: true');
}

function optBlob(o: Obj, key: string, field: string): BlobSource | undefined {
  return o[key] === undefined ? undefined : blob(o[key], `${field}.${key}`);
}

function image(o: Obj, field: string): ImageSource {
  const v = o.image;
  if (typeof v === 'string') return { file: v };
  const io = object(v, `${field}.image`, ['file', 'authenticode']);
  if (typeof io.file === 'string' && io.authenticode === undefined) return { file: io.file };
  if (io.authenticode !== undefined && io.file === undefined) {
    const a = object(io.authenticode, `${field}.image.authenticode`, ['sha1', 'sha256', 'sha384', 'sha512']);
    const digests: Partial<Record<PcrBank, string>> = {};
    for (const [bank, hex] of Object.entries(a)) if (isPcrBank(bank)) digests[bank] = hexString(hex, `${field}.image.authenticode.${bank}`);
    return { authenticode: digests };
  }
  return fail(`${field}.image`, 'needs a path, {file} or {authenticode: {sha256: …}}');
}

/** UEFI file paths are short; a device path node must fit its u16 length. */
export const MAX_ESP_PATH_LENGTH = 1024;

function espPath(o: Obj, field: string): { path?: string } {
  const path = optString(o, 'path', field);
  if (path === undefined) return {};
  if (!path.startsWith('\\') || path.length > MAX_ESP_PATH_LENGTH || path.includes('\0')) {
    fail(`${field}.path`, `must be a path on the ESP with backslashes, like \\EFI\\BOOT\\BOOTX64.EFI (at most ${MAX_ESP_PATH_LENGTH} characters)`);
  }
  return { path };
}

function authority(o: Obj, field: string): AuthoritySource {
  const v = o.authority;
  if (v === undefined || v === 'auto') return { kind: 'auto' };
  if (v === 'none') return { kind: 'none' };
  const a = object(v, `${field}.authority`, ['variable', 'vendorGuid', 'data']);
  const variable = optString(a, 'variable', `${field}.authority`) ?? fail(`${field}.authority.variable`, 'is required');
  const vendorGuid = optString(a, 'vendorGuid', `${field}.authority`) ?? fail(`${field}.authority.vendorGuid`, 'is required');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vendorGuid)) fail(`${field}.authority.vendorGuid`, 'must be a GUID');
  return { kind: 'entry', variable, vendorGuid: vendorGuid.toLowerCase(), data: blob(a.data, `${field}.authority.data`) };
}

const STAGE_KEYS: Readonly<Record<BootStageKind, readonly string[]>> = {
  'efi-application': [],
  'systemd-boot': [],
  shim: ['mokList', 'mokListX', 'mokListTrusted', 'sbatLevel', 'vendorCert', 'vendorCertAuthority'],
  grub: ['commands', 'files', 'dialect', 'kernelLoadImage'],
  linux: ['cmdline', 'initrd', 'measureLoadOptions', 'measureInitrd'],
  uki: ['stubVersion', 'loadOptions', 'kernelMeasuresLoadOptions', 'kernelMeasuresInitrd', 'phases'],
};

/** The systemd-stub version Debian 12 ships (systemd 252). */
export const DEFAULT_STUB_VERSION = 252;
/**
 * The oldest systemd-stub modeled: 252, the first release with systemd-pcrphase and the one a real
 * boot here confirms; what earlier stubs measured changed from release to release and is not modeled.
 */
export const MIN_STUB_VERSION = 252;
const PCRPHASE_WORDS = ['enter-initrd', 'leave-initrd', 'sysinit', 'ready', 'shutdown', 'final'];

function stage(v: unknown, field: string): BootStage {
  const raw = object(v, field, ['kind', 'image', 'authority', 'path', ...Object.values(STAGE_KEYS).flat()]);
  const kind = raw.kind;
  if (typeof kind !== 'string' || !(kind in STAGE_KEYS)) fail(`${field}.kind`, `must be one of ${Object.keys(STAGE_KEYS).join(', ')}`);
  const o = object(v, field, ['kind', 'image', 'authority', 'path', ...STAGE_KEYS[kind as BootStageKind]]);
  const base = { image: image(o, field), authority: authority(o, field), ...espPath(o, field) };
  switch (kind as BootStageKind) {
    case 'efi-application':
      return { kind: 'efi-application', ...base };
    case 'systemd-boot':
      return { kind: 'systemd-boot', ...base };
    case 'shim': {
      const vendorCertAuthority = optString(o, 'vendorCertAuthority', field) ?? 'MokListRT';
      if (vendorCertAuthority !== 'MokListRT' && vendorCertAuthority !== 'Shim') fail(`${field}.vendorCertAuthority`, 'must be MokListRT or Shim');
      const extra: Record<string, BlobSource> = {};
      for (const key of ['mokList', 'mokListX', 'mokListTrusted', 'sbatLevel', 'vendorCert'] as const) {
        const b = optBlob(o, key, field);
        if (b) extra[key] = b;
      }
      return { kind: 'shim', ...base, ...extra, vendorCertAuthority };
    }
    case 'grub': {
      const dialect = optString(o, 'dialect', field) ?? 'upstream';
      if (dialect !== 'upstream' && dialect !== 'rhel') fail(`${field}.dialect`, 'must be upstream or rhel');
      const filesRaw = o.files ?? [];
      if (!Array.isArray(filesRaw)) fail(`${field}.files`, 'must be a list');
      const files = filesRaw.map((f, i) => {
        const fo = object(f, `${field}.files[${i}]`, ['path', 'content']);
        const path = optString(fo, 'path', `${field}.files[${i}]`) ?? fail(`${field}.files[${i}].path`, 'is required');
        return { path, content: fo.content === undefined ? { file: path } : blob(fo.content, `${field}.files[${i}].content`) };
      });
      return {
        kind: 'grub',
        ...base,
        commands: stringList(o, 'commands', field),
        files,
        dialect,
        kernelLoadImage: optBoolean(o, 'kernelLoadImage', field, true),
      };
    }
    case 'linux': {
      const cmdline = optString(o, 'cmdline', field);
      const initrd = optBlob(o, 'initrd', field);
      return {
        kind: 'linux',
        ...base,
        ...(cmdline !== undefined ? { cmdline } : {}),
        ...(initrd ? { initrd } : {}),
        measureLoadOptions: optBoolean(o, 'measureLoadOptions', field, true),
        measureInitrd: optBoolean(o, 'measureInitrd', field, true),
      };
    }
    case 'uki': {
      if (!('file' in base.image)) fail(`${field}.image`, 'a UKI must be given as a file: its sections are measured');
      const loadOptions = optString(o, 'loadOptions', field);
      const phases = stringList(o, 'phases', field);
      const stubVersion = optCount(o, 'stubVersion', field, DEFAULT_STUB_VERSION, 10_000);
      if (stubVersion < MIN_STUB_VERSION) fail(`${field}.stubVersion`, `systemd-stub ${stubVersion} is not modeled (${MIN_STUB_VERSION} and later are)`);
      for (const p of phases)
        if (!PCRPHASE_WORDS.includes(p)) fail(`${field}.phases`, `unknown pcrphase word ${JSON.stringify(p)} (known: ${PCRPHASE_WORDS.join(', ')})`);
      return {
        kind: 'uki',
        ...base,
        stubVersion,
        ...(loadOptions !== undefined ? { loadOptions } : {}),
        kernelMeasuresLoadOptions: optBoolean(o, 'kernelMeasuresLoadOptions', field, true),
        kernelMeasuresInitrd: optBoolean(o, 'kernelMeasuresInitrd', field, true),
        phases,
      };
    }
  }
}

/**
 * Validates a profile given as parsed JSON/YAML. Unknown keys are errors (a typo must not
 * silently change the prediction).
 *
 * @example parseBootProfile(YAML.parse(await readFile('node.yaml', 'utf8')))
 */
export function parseBootProfile(value: unknown): BootProfile {
  const o = object(value, 'profile', ['banks', 'firmware', 'chain']);
  const banksRaw = o.banks ?? ['sha1', 'sha256'];
  if (!Array.isArray(banksRaw) || banksRaw.length === 0 || !banksRaw.every(isPcrBank))
    fail('banks', 'must be a non-empty list of sha1, sha256, sha384, sha512');
  const banks = [...new Set(banksRaw)];

  const fw = object(o.firmware ?? {}, 'firmware', ['secureBoot', 'variableStore', 'variables', 'earlierBootAttempts', 'logsCallingAction']);
  const varsRaw = object(fw.variables ?? {}, 'firmware.variables', [...SECURE_BOOT_VARIABLES, 'dbt']);
  const variables: Partial<Record<SecureBootVariable | 'dbt', BlobSource>> = {};
  for (const [name, src] of Object.entries(varsRaw)) variables[name as SecureBootVariable] = blob(src, `firmware.variables.${name}`);
  const variableStore = optString(fw, 'variableStore', 'firmware');
  const firmware: FirmwareProfile = {
    secureBoot: optBoolean(fw, 'secureBoot', 'firmware', true),
    ...(variableStore !== undefined ? { variableStore } : {}),
    variables,
    earlierBootAttempts: optCount(fw, 'earlierBootAttempts', 'firmware', 0, 64),
    logsCallingAction: optBoolean(fw, 'logsCallingAction', 'firmware', true),
  };

  if (!Array.isArray(o.chain) || o.chain.length === 0) fail('chain', 'must be a non-empty list of boot stages');
  const chain = o.chain.map((s, i) => stage(s, `chain[${i}]`));
  return { banks, firmware, chain };
}
