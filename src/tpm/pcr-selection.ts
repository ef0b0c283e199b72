/**
 * PCR selections in readable form ({bank, PCR indices}) and as TPMS_PCR_SELECTION bitmaps
 * (Part 2, 10.6.1: PCR n is bit n % 8 of byte n / 8; at least PCR_SELECT_MIN = 3 bytes).
 */
import { TPM_LIMITS } from './constants.ts';
import { TpmError } from './errors.ts';
import type { TPML_PCR_SELECTION, TpmHashAlg } from './structures.ts';

export interface PcrSelection {
  readonly hash: TpmHashAlg;
  readonly pcrs: readonly number[];
}

export function toPcrSelection(sel: readonly PcrSelection[]): TPML_PCR_SELECTION {
  return sel.map(({ hash, pcrs }) => {
    const size = Math.max(3, Math.ceil((Math.max(-1, ...pcrs) + 1) / 8));
    const bitmap = new Uint8Array(size);
    for (const p of pcrs) {
      if (!Number.isInteger(p) || p < 0 || p >= 8 * TPM_LIMITS.PCR_SELECT_MAX) {
        throw new TpmError('ERR_TPM_ENCODE', `PCR index ${p} out of range 0..${8 * TPM_LIMITS.PCR_SELECT_MAX - 1}`, { pcr: p });
      }
      bitmap[p >> 3]! |= 1 << (p & 7);
    }
    return { hash, pcrSelect: bitmap };
  });
}

/** The PCR indices a selection bitmap names, ascending. */
export function pcrsOf(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

export function fromPcrSelection(sel: TPML_PCR_SELECTION): PcrSelection[] {
  return sel.map((s) => ({ hash: s.hash, pcrs: pcrsOf(s.pcrSelect) }));
}
