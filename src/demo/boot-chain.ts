// The demo's boot chain and the reference values it implies (the reference value provider's job,
// docs/design.md "Roles"): a signed UKI booted by the firmware under Secure Boot, its kernel command
// line from the boot entry naming the composefs root image. One release = one root image + one
// UKI + one command line; predict() turns each release into the PCRs a node booting it must show.
import { X509Certificate } from 'node:crypto';
import { toHex } from '../bytes/index.ts';
import { buildUki, parseBootProfile, predict, referenceValues, type BootProfile, type Prediction, type ReferenceValues } from '../predict/index.ts';
import { encodeSignatureDatabase, signImage, type SigningIdentity } from '../secureboot/index.ts';
import { DEMO_DB_SIGNER, DEMO_PLATFORM_CERTIFICATE } from './demo-keys.ts';
import { buildRootImage, releaseFiles, type RootImage } from './root-images.ts';
import { releaseContent } from './seeded-random.ts';

/** Owner GUID of the demo's signature-list entries (EFI_SIGNATURE_DATA.SignatureOwner). */
const DEMO_SIGNATURE_OWNER = '5d2b9e0c-7f3a-4c1e-9b6d-0a4f8e2c1d37';
/** The PCR banks the demo firmware logs and extends: all the software TPM allocates. */
export const DEMO_BANKS = ['sha1', 'sha256', 'sha384'] as const;

export interface Release {
  readonly version: string;
  readonly rootImage: RootImage;
  /** The unsigned UKI (kernel, initrd, os-release; no .cmdline: the boot entry supplies it). */
  readonly uki: Uint8Array;
  readonly cmdline: string;
}

/** The kernel command line of a node booting `rootImageDigest` (measured by systemd-stub into PCR 12). */
export function kernelCommandLine(rootImageDigest: string): string {
  return `root=composefs composefs=${rootImageDigest} ro console=ttyS0 quiet`;
}

/**
 * A release of the node OS. `stub` is systemd-boot-efi's linuxx64.efi.stub. The UKI carries no
 * .cmdline on purpose: under Secure Boot systemd-stub then takes the boot entry's options and
 * measures them into PCR 12, so the composefs digest is in the log, readable, and bound to a PCR.
 */
export function buildRelease(stub: Uint8Array, version: string, versionId: number): Release {
  const rootImage = buildRootImage(version, releaseFiles(version, versionId));
  const uki = buildUki({
    stub,
    linux: releaseContent(`kernel@${version}`, 256 * 1024),
    initrd: releaseContent(`initrd@${version}`, 64 * 1024),
    osrel: `NAME="Vouch Node"\nID=vouch-node\nVERSION_ID=${versionId}\n`,
    uname: `6.12.${versionId}-vouch`,
  });
  return { version, rootImage, uki, cmdline: kernelCommandLine(rootImage.digest) };
}

/** An EFI_SIGNATURE_LIST database holding one X.509 certificate (PEM). */
export function certificateDatabase(certificatePem: string): Uint8Array {
  const der = new Uint8Array(new X509Certificate(certificatePem).raw);
  return encodeSignatureDatabase([{ type: 'x509', signatures: [{ owner: DEMO_SIGNATURE_OWNER, data: der }] }]);
}

/** What a node's firmware holds: its db decides PCR 7 (the variable and the authority that verified the UKI). */
export interface FirmwareKeys {
  readonly db: Uint8Array;
}

export function demoFirmware(): FirmwareKeys {
  return { db: certificateDatabase(DEMO_DB_SIGNER.certificate) };
}

/** The file name a UKI has on the ESP (and in the profile). */
export function ukiFileName(version: string): string {
  return `vouch-node-${version}.efi`;
}

/** Where the UKI lives on the ESP (systemd-boot's Type #2 entries directory): its logged file path. */
const ESP_UKI_DIRECTORY = '\\EFI\\Linux\\';

/**
 * The boot profile document (docs/boot-profile.md, as `vouch predict` reads it) of a node: its
 * firmware's keys, then a signed UKI started with the boot entry's options.
 */
export function bootProfileDocument(firmware: FirmwareKeys, ukiFile: string, cmdline: string): Record<string, unknown> {
  const platform = toHex(certificateDatabase(DEMO_PLATFORM_CERTIFICATE));
  return {
    banks: [...DEMO_BANKS],
    firmware: {
      secureBoot: true,
      variables: { PK: { hex: platform }, KEK: { hex: platform }, db: { hex: toHex(firmware.db) }, dbx: { absent: true } },
      earlierBootAttempts: 0,
    },
    chain: [{ kind: 'uki', image: ukiFile, path: `${ESP_UKI_DIRECTORY}${ukiFile}`, stubVersion: 252, loadOptions: cmdline, phases: [] }],
  };
}

export function bootProfile(firmware: FirmwareKeys, ukiFile: string, cmdline: string): BootProfile {
  return parseBootProfile(bootProfileDocument(firmware, ukiFile, cmdline));
}

/** Predicts the boot of a signed UKI with a command line on given firmware. */
export function predictBoot(firmware: FirmwareKeys, version: string, signedUki: Uint8Array, cmdline: string): Prediction {
  const file = ukiFileName(version);
  return predict(bootProfile(firmware, file, cmdline), new Map([[file, signedUki]]));
}

export function signRelease(release: Release, signer: SigningIdentity = DEMO_DB_SIGNER): Uint8Array {
  return signImage(release.uki, signer);
}

export interface ReleaseReference {
  readonly version: string;
  readonly composefsDigest: string;
  readonly cmdline: string;
  readonly signedUki: Uint8Array;
  readonly prediction: Prediction;
}

/** Reference values for the releases a fleet may run at once (A/B): one set per release. */
export function releaseReferences(releases: readonly Release[]): { releases: ReleaseReference[]; values: ReferenceValues } {
  const firmware = demoFirmware();
  const out = releases.map((release): ReleaseReference => {
    const signedUki = signRelease(release);
    return {
      version: release.version,
      composefsDigest: release.rootImage.digest,
      cmdline: release.cmdline,
      signedUki,
      prediction: predictBoot(firmware, release.version, signedUki, release.cmdline),
    };
  });
  return { releases: out, values: referenceValues(out.map((r) => ({ version: r.version, prediction: r.prediction }))) };
}
