/** PCR selections as the software TPM reads them (Part 2, 10.6): bitmaps to indices and values. */
import { pcrsOf } from '../pcr-selection.ts';
import type { TPML_PCR_SELECTION } from '../structures.ts';
import { PCR_COUNT } from './model.ts';
import type { SoftwareTpm } from './simulator.ts';

/** The PCRs a bitmap selects, ascending; bits beyond the TPM's 24 PCRs select nothing. */
export function selectedPcrs(bitmap: Uint8Array): number[] {
  return pcrsOf(bitmap).filter((i) => i < PCR_COUNT);
}

/** The values a selection names, in selection order (banks as listed, PCRs ascending): what quotes and PolicyPCR digest. */
export function selectedValues(tpm: SoftwareTpm, selection: TPML_PCR_SELECTION): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of selection) {
    const bank = tpm.pcrs.get(s.hash);
    if (!bank) continue;
    for (const i of selectedPcrs(s.pcrSelect)) out.push(bank[i]!);
  }
  return out;
}
