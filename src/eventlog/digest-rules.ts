// Which events' digests must equal a hash of their own data. For those, the logged data is bound
// to the PCR: an attacker who edits the data (a GRUB command, the SecureBoot variable, the kernel
// command line) without changing the digest is caught here even though replay still matches.
// For the rest the digest covers something outside the log (a PE image's Authenticode hash, a
// file, a firmware volume), and the data is a description only a prediction can vouch for.
import { ByteWriter, utf8, bytesEqual, toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { EventType, SeparatorValue, VariableVendor } from './constants.ts';
import { FindingKind, type Finding } from './findings.ts';

import type { EventLog, TcgEvent } from './types.ts';
import { parseUefiVariableDataLenient } from './uefi-variable.ts';
import { utf16leBytes } from './wire.ts';
import { hashBytes, isHashAlgorithmName } from '../hash/index.ts';

/** One accepted pre-image of an event's digest, named by the firmware or loader that uses it. */
export interface DigestCandidate {
  readonly variant: string;
  readonly input: Uint8Array;
}

export type DigestRule =
  /** The digest must equal H(one of the candidates); otherwise the data was forged or corrupted. */
  | { readonly kind: 'data-bound'; readonly candidates: readonly DigestCandidate[] }
  /** The digest may equal H(a candidate) (e.g. a UKI section name) but may also cover external content. */
  | { readonly kind: 'optional'; readonly candidates: readonly DigestCandidate[]; readonly otherwise: string }
  /** The digest covers content not in the log. */
  | { readonly kind: 'external'; readonly covers: string }
  /** EV_NO_ACTION: never extended. */
  | { readonly kind: 'not-extended' };

const eventData = (event: TcgEvent): DigestCandidate => ({ variant: 'event-data', input: event.data });
const nul = new Uint8Array([0]);

/**
 * The digest rule of an event (PFP §10.4 per type, plus the boot loaders' conventions):
 * separators, EFI actions, GPT and DRIVER_CONFIG variables hash their event data; Boot####
 * variables hash either the whole UEFI_VARIABLE_DATA or (edk2) only VariableData; GRUB hashes
 * the command after `grub_cmd: ` (upstream) or the whole string with its NUL (RHEL 8).
 */
export function digestRuleFor(event: TcgEvent): DigestRule {
  const { decoded } = event;
  switch (event.type) {
    case EventType.EV_NO_ACTION:
      return { kind: 'not-extended' };
    case EventType.EV_SEPARATOR:
      // An error separator's digest is H(0x00000001) while its data may carry error information
      // (PFP §3.3.4.2): the value, not the data, is what is bound to the PCR.
      if (decoded.kind === 'separator' && decoded.errorInformation !== undefined) {
        return {
          kind: 'data-bound',
          candidates: [
            { variant: 'error separator (digest of 0x00000001, data is error information)', input: new ByteWriter(4).u32le(SeparatorValue.error).finish() },
          ],
        };
      }
      return { kind: 'data-bound', candidates: [eventData(event)] };
    case EventType.EV_EFI_ACTION:
    case EventType.EV_ACTION:
    case EventType.EV_EFI_GPT_EVENT:
    case EventType.EV_EFI_GPT_EVENT2:
    case EventType.EV_OMIT_BOOT_DEVICE_EVENTS:
    case EventType.EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EventType.EV_EFI_VARIABLE_AUTHORITY:
    case EventType.EV_EFI_SPDM_DEVICE_POLICY:
    case EventType.EV_EFI_SPDM_DEVICE_AUTHORITY:
      return { kind: 'data-bound', candidates: [eventData(event)] };
    case EventType.EV_EFI_VARIABLE_BOOT:
    case EventType.EV_EFI_VARIABLE_BOOT2: {
      const candidates = [eventData(event)];
      if (decoded.kind === 'efi-variable')
        candidates.push({ variant: 'variable-data-only (edk2)', input: parseUefiVariableDataLenient(event.data).variable.data });
      return { kind: 'data-bound', candidates };
    }
    case EventType.EV_S_CRTM_VERSION:
      return { kind: 'optional', candidates: [eventData(event)], otherwise: 'S-CRTM version measured from firmware' };
    case EventType.EV_IPL:
      return iplRule(event);
    case EventType.EV_EVENT_TAG:
      if (decoded.kind === 'event-tag' && decoded.tagName === 'linux-initrd') return { kind: 'external', covers: 'the initrd (Linux EFI stub)' };
      if (decoded.kind === 'event-tag' && decoded.tagName === 'linux-load-options')
        return { kind: 'external', covers: 'the kernel command line as UTF-16LE with its NUL (Linux EFI stub)' };
      return { kind: 'external', covers: 'tagged content' };
    case EventType.EV_EFI_BOOT_SERVICES_APPLICATION:
    case EventType.EV_EFI_BOOT_SERVICES_DRIVER:
    case EventType.EV_EFI_RUNTIME_SERVICES_DRIVER:
      return { kind: 'external', covers: 'the PE image (Authenticode hash)' };
  }
  return { kind: 'external', covers: 'firmware content' };
}

function iplRule(event: TcgEvent): DigestRule {
  const { decoded } = event;
  if (decoded.kind !== 'ipl') return { kind: 'external', covers: 'loader content' };
  switch (decoded.role) {
    case 'grub-command':
    case 'grub-kernel-cmdline':
      return decoded.prefixStyle === 'upstream'
        ? { kind: 'data-bound', candidates: [{ variant: 'grub-upstream (text after prefix)', input: utf8(decoded.value ?? '') }] }
        : {
            // RHEL 8 hashes commands with their NUL but the kernel command line without it.
            kind: 'data-bound',
            candidates: [
              { variant: 'grub-rhel (text after prefix with NUL)', input: event.data.subarray(decoded.text.length - (decoded.value ?? '').length) },
              { variant: 'grub-rhel (text after prefix)', input: utf8(decoded.value ?? '') },
            ],
          };
    case 'uki-section':
      // systemd-stub logs each section twice under the same description: first H(name ‖ NUL),
      // then H(section bytes).
      return {
        kind: 'optional',
        candidates: [{ variant: 'uki-section-name', input: new Uint8Array([...utf8(decoded.value ?? ''), ...nul]) }],
        otherwise: 'the UKI section contents',
      };
    case 'pcrphase':
      return { kind: 'data-bound', candidates: [{ variant: 'pcrphase', input: utf8(decoded.value ?? '') }] };
    case 'file':
      return { kind: 'external', covers: 'the file contents (GRUB)' };
    case 'shim-mok':
      return { kind: 'external', covers: 'the MOK variable contents (shim)' };
    case 'kernel-cmdline':
      // systemd >= 251 (PCR 12) hashes the UCS-2 command line without its NUL; systemd-boot < 251
      // (PCR 8) hashed it with the 2-byte NUL even though the logged event is one byte short.
      // The decoder already set aside the constant descriptions of stub-generated archives.
      return {
        kind: 'data-bound',
        candidates: [
          { variant: 'systemd (UCS-2 without NUL)', input: utf16leBytes(decoded.text, false) },
          { variant: 'systemd-boot < 251 (UCS-2 with NUL)', input: utf16leBytes(decoded.text, true) },
          eventData(event),
        ],
      };
  }
  return { kind: 'external', covers: 'loader content' };
}

export interface EventDigestCheck {
  readonly event: number;
  readonly status: 'match' | 'mismatch' | 'external' | 'not-extended';
  /** Which candidate matched (e.g. `variable-data-only (edk2)`), when one did. */
  readonly variant?: string;
  /** Banks whose digest matched no candidate. */
  readonly mismatchedBanks?: readonly string[];
}

export interface DigestCheckResult {
  readonly events: readonly EventDigestCheck[];
  readonly findings: readonly Finding[];
}

/**
 * Checks every data-bound event's digests (each bank Vouch can compute, or only `options.banks`)
 * against its candidates. A mismatch is an `error` finding (forged or corrupted event data) except
 * where a named firmware quirk explains it: shim < 15.3 logged its PCR 7 authority events with a
 * digest that is not over the logged data, which is reported as `known-digest-quirk` (warning)
 * instead. A verifier passes the quoted bank: only its digests are bound to the TPM, so only they
 * can make the data evidence.
 */
export function checkEventDigests(log: EventLog, options: { readonly banks?: readonly string[] } = {}): DigestCheckResult {
  const events: EventDigestCheck[] = [];
  const findings: Finding[] = [];
  for (const event of log.events) {
    const rule = safeRule(event);
    if (rule.kind === 'not-extended') {
      events.push({ event: event.index, status: 'not-extended' });
      continue;
    }
    if (rule.kind === 'external') {
      events.push({ event: event.index, status: 'external' });
      continue;
    }
    let variant: string | undefined;
    const mismatchedBanks: string[] = [];
    for (const bank in event.digests) {
      if (!isHashAlgorithmName(bank) || (options.banks !== undefined && !options.banks.includes(bank))) continue;
      const digest = event.digests[bank]!;
      const hit = rule.candidates.find((c) => bytesEqual(hashBytes(bank, c.input), digest));
      if (hit) variant ??= hit.variant;
      else mismatchedBanks.push(bank);
    }
    if (mismatchedBanks.length === 0) {
      events.push({ event: event.index, status: 'match', ...(variant ? { variant } : {}) });
      continue;
    }
    if (rule.kind === 'optional' && variant === undefined) {
      events.push({ event: event.index, status: 'external' });
      continue;
    }
    events.push({ event: event.index, status: 'mismatch', mismatchedBanks });
    findings.push(mismatchFinding(event, mismatchedBanks));
  }
  return { events, findings };
}

function safeRule(event: TcgEvent): DigestRule {
  // A Boot#### event whose UEFI_VARIABLE_DATA does not parse can only be checked as a whole.
  try {
    return digestRuleFor(event);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { kind: 'data-bound', candidates: [eventData(event)] };
  }
}

function mismatchFinding(event: TcgEvent, banks: readonly string[]): Finding {
  const { decoded } = event;
  const base = { event: event.index, pcr: event.pcr, bank: banks.join(',') };
  // shim < 15.3 wrote its authority events (its vendor certificate "Shim", or the db entry that
  // verified GRUB) with padding after VariableData and a digest that covers neither form.
  const isShimAuthority =
    event.type === EventType.EV_EFI_VARIABLE_AUTHORITY &&
    decoded.kind === 'efi-variable' &&
    (decoded.vendorGuid === VariableVendor.shimLock || decoded.trailingBytes !== undefined);
  if (isShimAuthority) {
    return {
      kind: FindingKind.knownDigestQuirk,
      severity: 'warning',
      ...base,
      message: `event #${event.index}: shim authority event ${decoded.name}: ${banks.join(', ')} digest is not over the logged data (shim < 15.3 quirk); the data is not bound to PCR 7`,
    };
  }
  const summary = decoded.kind === 'ipl' ? ` ${JSON.stringify(decoded.text)}` : decoded.kind === 'efi-variable' ? ` variable ${decoded.name}` : '';
  return {
    kind: FindingKind.digestMismatch,
    severity: 'error',
    ...base,
    message: `event #${event.index} (${event.typeName}${summary}): ${banks.join(', ')} digest ${toHex(event.digests[banks[0]!]!).slice(0, 16)}… is not the hash of the event data: the data was forged or corrupted`,
  };
}
