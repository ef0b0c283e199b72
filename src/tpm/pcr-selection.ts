/**
 * PCR selections in readable form ({bank, PCR indices}) and as TPMS_PCR_SELECTION bitmaps
 * (Part 2, 10.6.1: PCR n is bit n % 8 of byte n / 8; at least PCR_SELECT_MIN = 3 bytes).
 */
import { fromHex, toHex } from '../bytes/index.ts';
import { HashAlgorithm, hashAlgorithmById, pcrBanks, pcrNumbers, type HashAlgorithmName, type PcrValues } from '../hash/index.ts';
import { TPM_LIMITS, algName } from './constants.ts';
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

/**
 * Binary PCR values keyed by TPM hash algorithm (as TPM2_PCR_Read and tpm2-tools files carry them)
 * in the one PcrValues shape. A bank outside the hash table cannot be named and is an error, never
 * dropped.
 */
export function pcrValuesOf(banks: ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>): PcrValues {
  const out: Partial<Record<HashAlgorithmName, Record<string, string>>> = {};
  for (const [hash, values] of banks) {
    const bank = hashAlgorithmById(hash);
    if (bank === undefined) throw new TpmError('ERR_TPM_BAD_ALG', `PCR bank ${algName(hash)} is not a known hash algorithm`, { hash });
    out[bank] = Object.fromEntries([...values].sort(([a], [b]) => a - b).map(([pcr, value]) => [String(pcr), toHex(value)]));
  }
  return out;
}

/** The selection a PcrValues covers (banks by TPM algorithm id). */
export function selectionOf(values: PcrValues): PcrSelection[] {
  return pcrBanks(values).map((bank) => ({ hash: HashAlgorithm[bank].id as TpmHashAlg, pcrs: pcrNumbers(values, bank) }));
}

/** The values of a selection in selection order (what a quote's pcrDigest hashes and tpm2-tools files list); a missing value is an error. */
export function pcrValuesInOrder(values: PcrValues, selection: readonly PcrSelection[]): Uint8Array[] {
  return selection.flatMap(({ hash, pcrs }) =>
    pcrs.map((pcr) => {
      const bank = hashAlgorithmById(hash);
      const hex = bank === undefined ? undefined : values[bank]?.[String(pcr)];
      if (hex === undefined) throw new TpmError('ERR_TPM_ENCODE', `no ${algName(hash)} value for PCR ${pcr}`, { pcr });
      return fromHex(hex);
    }),
  );
}
