// PCR banks and the extend operation (TPM 2.0 Part 1 §17.7: PCR_new = H(PCR_old ‖ digest)).
import { createHash } from 'node:crypto';
import { concatBytes } from '../bytes/index.ts';

/** The PCR banks prediction supports: the hash algorithms PC Client firmware allocates. */
export const PcrBank = { sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' } as const;
export type PcrBank = (typeof PcrBank)[keyof typeof PcrBank];

export const PCR_BANKS: readonly PcrBank[] = Object.values(PcrBank);

export function isPcrBank(name: unknown): name is PcrBank {
  return typeof name === 'string' && (PCR_BANKS as readonly string[]).includes(name);
}

export const DIGEST_SIZE: Readonly<Record<PcrBank, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export function hashBytes(bank: PcrBank, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(bank).update(data).digest());
}

export function extendPcr(bank: PcrBank, current: Uint8Array, digest: Uint8Array): Uint8Array {
  return hashBytes(bank, concatBytes(current, digest));
}

/**
 * PCRs 0-15 reset to zeros; PCR 0 is the exception when the S-CRTM starts at locality 3 or 4
 * (PC Client PFP §10.4.5.3, StartupLocality event), which boot prediction never models because
 * it concerns PCR 0 only.
 */
export function resetValue(bank: PcrBank): Uint8Array {
  return new Uint8Array(DIGEST_SIZE[bank]);
}
