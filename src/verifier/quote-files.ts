/**
 * PCR values from tpm2-tools files (`tpm2_quote -o` serialized, `tpm2_pcrread -o` raw values),
 * in the one PcrValues shape. The byte layouts are decoded by src/tpm/tpm2-tools-files.ts; this
 * adapter turns their errors into ERR_QUOTE_PCR_FILE so a bad file is a "not verified" verdict
 * with its reason, like any other defect of the evidence.
 */
import { isVouchError } from '../errors/index.ts';
import type { PcrValues } from '../hash/index.ts';
import { fromPcrSelection, toPcrSelection, type PcrSelection } from '../tpm/pcr-selection.ts';
import { parsePcrList, parsePcrsSerialized, parsePcrValues } from '../tpm/tpm2-tools-files.ts';
import { VerifierError } from './errors.ts';

function fileError(what: string, e: unknown): never {
  if (!isVouchError(e)) throw e;
  throw new VerifierError('ERR_QUOTE_PCR_FILE', `${what}: ${e.message}`, { cause: e.code }, { cause: e });
}

/** A "serialized" PCR file: the values and the selection the file itself declares. */
export function pcrValuesFromSerializedFile(bytes: Uint8Array): { values: PcrValues; selection: PcrSelection[] } {
  try {
    const file = parsePcrsSerialized(bytes);
    return { values: file.values, selection: fromPcrSelection(file.selection) };
  } catch (e) {
    return fileError('PCR file (tpm2-tools serialized format)', e);
  }
}

/** Raw concatenated values read with `selection` (tpm2_pcrread -o). */
export function pcrValuesFromRawFile(bytes: Uint8Array, selection: readonly PcrSelection[]): PcrValues {
  try {
    return parsePcrValues(bytes, toPcrSelection(selection)).values;
  } catch (e) {
    return fileError('PCR values file (raw digests)', e);
  }
}

/** "sha256:0,1,2-7+sha1:0" (tpm2-tools syntax). */
export function pcrSelectionFromList(text: string): PcrSelection[] {
  try {
    return parsePcrList(text);
  } catch (e) {
    return fileError(`PCR list ${JSON.stringify(text)}`, e);
  }
}
