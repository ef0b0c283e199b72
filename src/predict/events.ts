// The events a boot is predicted to log. Each says what is measured: bytes to hash (the digest is
// H(bytes) in each bank), or a PE image (its Authenticode hash in each bank, PC Client PFP
// §10.4.8: firmware measures EV_EFI_BOOT_SERVICES_APPLICATION as the PE image hash), or digests
// already known per bank (from a log, a vendor's published hashes).
import { utf8 } from '../bytes/index.ts';
import type { PcrBank } from './banks.ts';

/** The TCG event types prediction emits (PC Client PFP §10.4.1 and the EFI types). */
export const PredictedEventType = {
  EV_IPL: 'EV_IPL',
  EV_SEPARATOR: 'EV_SEPARATOR',
  EV_EVENT_TAG: 'EV_EVENT_TAG',
  EV_EFI_ACTION: 'EV_EFI_ACTION',
  EV_EFI_VARIABLE_DRIVER_CONFIG: 'EV_EFI_VARIABLE_DRIVER_CONFIG',
  EV_EFI_VARIABLE_AUTHORITY: 'EV_EFI_VARIABLE_AUTHORITY',
  EV_EFI_BOOT_SERVICES_APPLICATION: 'EV_EFI_BOOT_SERVICES_APPLICATION',
} as const;
export type PredictedEventType = (typeof PredictedEventType)[keyof typeof PredictedEventType];

export type Measured =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'pe-image'; readonly image: Uint8Array; readonly name: string }
  | { readonly kind: 'digests'; readonly digests: Readonly<Partial<Record<PcrBank, Uint8Array>>>; readonly name: string };

/** One measurement before digests are computed: what gets extended into which PCR, and why. */
export interface Measurement {
  readonly pcr: number;
  readonly type: PredictedEventType;
  /** Which stage of the boot chain logs it: firmware, shim, grub, linux, systemd-stub. */
  readonly by: string;
  /** A short human account: the action string, variable name, section name, file. */
  readonly description: string;
  readonly measured: Measured;
}

/** An event of the predicted log, with its digest in every requested bank (hex). */
export interface PredictedEvent {
  readonly pcr: number;
  readonly type: PredictedEventType;
  readonly by: string;
  readonly description: string;
  readonly digests: Readonly<Partial<Record<PcrBank, string>>>;
  /** The event data the log will carry (hex), for the types whose data is exactly what is hashed. */
  readonly data?: string;
}

/** Event types whose logged data is the measured bytes (PC Client PFP §10.4.2, §10.4.4). */
export const DATA_IS_MEASURED: ReadonlySet<PredictedEventType> = new Set(['EV_EFI_VARIABLE_DRIVER_CONFIG', 'EV_EFI_VARIABLE_AUTHORITY', 'EV_EFI_ACTION', 'EV_SEPARATOR']);

export function bytesMeasured(bytes: Uint8Array): Measured {
  return { kind: 'bytes', bytes };
}

/** EV_SEPARATOR's data is the UINT32 0 on a normal boot (PFP §10.4.4: 0xFFFFFFFF means an error). */
export const SEPARATOR_DATA = new Uint8Array(4);

export function separator(pcr: number): Measurement {
  return { pcr, type: 'EV_SEPARATOR', by: 'firmware', description: 'separator', measured: bytesMeasured(SEPARATOR_DATA) };
}

/** EV_EFI_ACTION: the digest is over the ASCII action string without a NUL (PFP §10.4.4). */
export function efiAction(pcr: number, action: string, by = 'firmware'): Measurement {
  return { pcr, type: 'EV_EFI_ACTION', by, description: action, measured: bytesMeasured(utf8(action)) };
}
