// Claims: what the verifier believes about a boot, derived only from events it could check
// (docs/design.md "Claims and policy"; go-attestation ParseSecurebootState takes only verified events).
// An event is trusted when its PCR, in the appraised bank, replays to the value the TPM quoted and
// it carries a digest for that bank; its *data* is trusted only when the digest is a hash of that
// data (checkEventDigests says `match`). Where the digest covers something outside the log (a PE
// image, a UKI section), the digest itself is the claim and the data is only a description.
// Nothing the node states about itself is a claim.
import { X509Certificate, createHash } from 'node:crypto';
import { toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { EventType, parseUefiVariableData, type EventDigestCheck, type EventLog, type Finding, type TcgEvent } from '../eventlog/index.ts';
import type { HashAlgorithmName, PcrValues } from '../hash/index.ts';
import { issuerOf, parseSignatureDatabase, signatureEntries, subjectOf } from '../secureboot/index.ts';

/** An X.509 certificate as claims show it; `sha256` is the fingerprint of its DER. */
export interface CertificateClaim {
  readonly subject: string;
  readonly issuer: string;
  readonly sha256: string;
}

export interface SignatureDatabaseClaim {
  readonly certificates: readonly CertificateClaim[];
  /** Hex digests of hash entries (EFI_CERT_SHA256 and the like), lower case. */
  readonly hashes: readonly string[];
}

export interface SecureBootClaim {
  /** The SecureBoot variable measured into PCR 7 (absent from the log: undefined). */
  readonly enabled?: boolean;
  readonly pk?: SignatureDatabaseClaim;
  readonly kek?: SignatureDatabaseClaim;
  readonly db?: SignatureDatabaseClaim;
  readonly dbx?: SignatureDatabaseClaim;
  /** The db certificates (or hashes) that verified boot applications (EV_EFI_VARIABLE_AUTHORITY). */
  readonly authorities: readonly CertificateClaim[];
}

/** A boot application the firmware loaded (PCR 4): its Authenticode hash in the appraised bank. */
export interface BootApplicationClaim {
  readonly event: number;
  readonly authenticodeDigest: string;
}

export interface UkiSectionClaim {
  readonly name: string;
  /** The section's digest in the appraised bank. */
  readonly digest: string;
}

export interface Claims {
  /** The bank claims are taken from (the quoted bank). */
  readonly bank: HashAlgorithmName;
  /** The PCR values the TPM quoted. */
  readonly pcrs: PcrValues;
  readonly secureBoot: SecureBootClaim;
  readonly bootApplications: readonly BootApplicationClaim[];
  readonly grubCommands: readonly string[];
  /** The kernel command line (systemd-stub's PCR 12 or GRUB's PCR 8 event), when exactly one is measured. */
  readonly kernelCmdline?: string;
  readonly ukiSections: readonly UkiSectionClaim[];
  /** systemd-pcrphase words in PCR 11, in order. */
  readonly bootPhases: readonly string[];
  /** The `composefs=` digest of the measured command line. */
  readonly composefsDigest?: string;
  /** The platform firmware's version string (EV_S_CRTM_VERSION), when its data is bound to its digest. */
  readonly firmwareVersion?: string;
  /** Odd firmware behaviour in the log (named findings, with the event they concern). */
  readonly findings: readonly Finding[];
  /** For each claim above (by its key), the log events it was derived from: what a failed policy rule points at. */
  readonly sources: Readonly<Record<string, readonly number[]>>;
}

/** Where the log contradicts itself about something claims would say. */
export interface ClaimConflict {
  readonly what: string;
  readonly values: readonly string[];
  readonly events: readonly number[];
}

export interface DerivedClaims {
  readonly claims: Claims;
  readonly conflicts: readonly ClaimConflict[];
}

/** The value of `composefs=` on a command line, if any. */
export function composefsDigestOf(cmdline: string): string | undefined {
  return /(?:^|\s)composefs=([0-9a-f]{64})(?:\s|$)/.exec(cmdline)?.[1];
}

/** For display and policy: a certificate's subject, issuer and fingerprint; an unparsable one says so. */
export function certificateClaim(der: Uint8Array): CertificateClaim {
  const sha256 = createHash('sha256').update(der).digest('hex');
  try {
    const cert = new X509Certificate(der);
    return { subject: subjectOf(cert), issuer: issuerOf(cert), sha256 };
  } catch {
    return { subject: '(unparsable certificate)', issuer: '', sha256 };
  }
}

/** EFI_SIGNATURE_DATA.SignatureOwner, the GUID before an authority event's certificate. */
const SIGNATURE_OWNER_BYTES = 16;

function signatureDatabase(data: Uint8Array): SignatureDatabaseClaim {
  const entries = signatureEntries(parseSignatureDatabase(data));
  return {
    certificates: entries.flatMap((e) => (e.type === 'x509' ? [certificateClaim(e.certificate)] : [])),
    hashes: entries.flatMap((e) => ('digest' in e ? [toHex(e.digest)] : [])),
  };
}

const SECURE_BOOT_DATABASES = { PK: 'pk', KEK: 'kek', db: 'db', dbx: 'dbx' } as const;

/**
 * Claims decoded from a Secure Boot variable or authority event, remembered by the event's digest in
 * the appraised bank. A fleet shares a handful of db/dbx/KEK values, and decoding them (hundreds of
 * dbx hashes, X.509 parsing) was most of an appraisal's time. Only digests already checked against
 * the data reach the cache, so a digest names exactly one decoding; the cache is bounded.
 */
const decodedByDigest = new Map<string, SignatureDatabaseClaim | CertificateClaim>();
const MAX_DECODED = 256;

function memoized<T extends SignatureDatabaseClaim | CertificateClaim>(key: string, decode: () => T): T {
  const hit = decodedByDigest.get(key);
  if (hit !== undefined) return hit as T;
  const value = decode();
  if (decodedByDigest.size >= MAX_DECODED) decodedByDigest.delete(decodedByDigest.keys().next().value!);
  decodedByDigest.set(key, value);
  return value;
}

/**
 * Derives claims from the events of `log` that are trusted in `bank`.
 *
 * Caller's duties: `replayingPcrs` are the PCRs whose replay in `bank` equals the verified quote;
 * `digestChecks` come from checkEventDigests over the same log.
 */
export function deriveClaims(
  log: EventLog,
  bank: HashAlgorithmName,
  quoted: PcrValues,
  replayingPcrs: ReadonlySet<number>,
  digestChecks: readonly EventDigestCheck[],
): DerivedClaims {
  const checkByEvent = new Map(digestChecks.map((c) => [c.event, c]));
  const trusted = log.events.filter((e) => replayingPcrs.has(e.pcr) && e.digests[bank] !== undefined && e.type !== EventType.EV_NO_ACTION);
  const dataBound = (e: TcgEvent): boolean => checkByEvent.get(e.index)?.status === 'match';
  const digestOf = (e: TcgEvent): string => toHex(e.digests[bank]!);

  const secureBoot: {
    enabled?: boolean;
    pk?: SignatureDatabaseClaim;
    kek?: SignatureDatabaseClaim;
    db?: SignatureDatabaseClaim;
    dbx?: SignatureDatabaseClaim;
  } = {};
  const authorities: CertificateClaim[] = [];
  const bootApplications: BootApplicationClaim[] = [];
  const grubCommands: string[] = [];
  const cmdlines: { value: string; event: number }[] = [];
  const ukiSections: UkiSectionClaim[] = [];
  const bootPhases: string[] = [];
  let firmwareVersion: string | undefined;
  let sectionName: string | undefined;
  const sources: Record<string, number[]> = {};
  const source = (claim: string, e: TcgEvent): void => {
    (sources[claim] ??= []).push(e.index);
  };

  for (const e of trusted) {
    const d = e.decoded;
    if (e.type === EventType.EV_EFI_BOOT_SERVICES_APPLICATION && e.pcr === 4) {
      bootApplications.push({ event: e.index, authenticodeDigest: digestOf(e) });
      source('bootApplications', e);
      continue;
    }
    if (d.kind === 'ipl' && d.role === 'uki-section') {
      // systemd-stub logs each section twice under one description: H(name ‖ NUL) — bound to the
      // data — then H(contents), which is the claim.
      if (dataBound(e)) sectionName = d.value;
      else if (sectionName !== undefined && sectionName === d.value) {
        ukiSections.push({ name: sectionName, digest: digestOf(e) });
        source('ukiSections', e);
        sectionName = undefined;
      }
      continue;
    }
    if (!dataBound(e)) continue;
    if (e.pcr === 7 && e.type === EventType.EV_EFI_VARIABLE_DRIVER_CONFIG && d.kind === 'efi-variable') {
      const data = parseUefiVariableData(e.data).data;
      if (d.name === 'SecureBoot') secureBoot.enabled = data.length > 0 && data[0] === 1;
      const key = SECURE_BOOT_DATABASES[d.name as keyof typeof SECURE_BOOT_DATABASES] as keyof typeof secureBoot | undefined;
      if (key !== undefined && key !== 'enabled') secureBoot[key] = memoized(`db:${bank}:${digestOf(e)}`, () => safeDatabase(data));
      source('secureBoot', e);
    } else if (e.pcr === 7 && e.type === EventType.EV_EFI_VARIABLE_AUTHORITY && d.kind === 'efi-variable') {
      const variable = parseUefiVariableData(e.data);
      authorities.push(memoized(`cert:${bank}:${digestOf(e)}`, () => certificateClaim(variable.data.subarray(SIGNATURE_OWNER_BYTES))));
      source('secureBoot', e);
    } else if (d.kind === 'ipl' && d.role === 'grub-command' && d.value !== undefined) {
      grubCommands.push(d.value);
      source('grubCommands', e);
    } else if (d.kind === 'ipl' && (d.role === 'kernel-cmdline' || d.role === 'grub-kernel-cmdline')) {
      // GRUB logs `kernel_cmdline: /vmlinuz root=…`: the kernel's path first, as argv[0].
      const text = d.value ?? d.text;
      cmdlines.push({ value: d.role === 'grub-kernel-cmdline' ? text.replace(/^\S+\s*/, '') : text, event: e.index });
      source('kernelCmdline', e);
    } else if (d.kind === 'ipl' && d.role === 'pcrphase' && d.value !== undefined) {
      bootPhases.push(d.value);
      source('bootPhases', e);
    } else if (e.type === EventType.EV_S_CRTM_VERSION && d.kind === 'text') {
      firmwareVersion = d.text;
      source('firmwareVersion', e);
    }
  }

  const conflicts: ClaimConflict[] = [];
  const distinctCmdlines = [...new Set(cmdlines.map((c) => c.value))];
  if (distinctCmdlines.length > 1) conflicts.push({ what: 'kernel command line', values: distinctCmdlines, events: cmdlines.map((c) => c.event) });
  const kernelCmdline = distinctCmdlines.length === 1 ? distinctCmdlines[0] : undefined;
  const composefsDigest = kernelCmdline === undefined ? undefined : composefsDigestOf(kernelCmdline);
  if (composefsDigest !== undefined && sources.kernelCmdline) sources.composefsDigest = sources.kernelCmdline;
  const trustedEvents = new Set(trusted.map((e) => e.index));
  const findings = log.findings.filter((f) => f.event === undefined || trustedEvents.has(f.event));

  return {
    claims: {
      bank,
      pcrs: quoted,
      secureBoot: { ...secureBoot, authorities },
      bootApplications,
      grubCommands,
      ...(kernelCmdline !== undefined ? { kernelCmdline } : {}),
      ukiSections,
      bootPhases,
      ...(composefsDigest !== undefined ? { composefsDigest } : {}),
      ...(firmwareVersion !== undefined ? { firmwareVersion } : {}),
      findings,
      sources,
    },
    conflicts,
  };
}

/** A signature database that does not parse is shown empty: its digest decided PCR 7 already. */
function safeDatabase(data: Uint8Array): SignatureDatabaseClaim {
  try {
    return signatureDatabase(data);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { certificates: [], hashes: [] };
  }
}
