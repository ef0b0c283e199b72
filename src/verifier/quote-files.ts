/**
 * PCR values from tpm2-tools files (`tpm2_quote -o` serialized, `tpm2_pcrread -o` raw values),
 * as the verifier's PcrBankValues. The byte layouts are decoded by src/tpm/tpm2-tools-files.ts;
 * this adapter turns their errors into ERR_QUOTE_PCR_FILE so a bad file is a "not verified"
 * verdict with its reason, like any other defect of the evidence.
 */
import { isVouchError } from '../errors/index.ts';
import { parsePcrList, parsePcrsSerialized, parsePcrValues, type ParsedPcrFile } from '../tpm/tpm2-tools-files.ts';
import { VerifierError } from './errors.ts';
import { toPcrSelection } from '../tpm/pcr-selection.ts';
import type { PcrBankSelection, PcrBankValues } from './quote.ts';

function asBanks(file: ParsedPcrFile): PcrBankValues[] {
  return [...file.banks].map(([hash, values]) => ({ hash, values }));
}

function fileError(what: string, e: unknown): never {
  if (!isVouchError(e)) throw e;
  throw new VerifierError('ERR_QUOTE_PCR_FILE', `${what}: ${e.message}`, { cause: e.code }, { cause: e });
}

/** A "serialized" PCR file: its own selection and the values. */
export function pcrValuesFromSerializedFile(bytes: Uint8Array): PcrBankValues[] {
  try {
    return asBanks(parsePcrsSerialized(bytes));
  } catch (e) {
    return fileError('PCR file (tpm2-tools serialized format)', e);
  }
}

/** Raw concatenated values read with `selection` (tpm2_pcrread -o). */
export function pcrValuesFromRawFile(bytes: Uint8Array, selection: readonly PcrBankSelection[]): PcrBankValues[] {
  try {
    return asBanks(parsePcrValues(bytes, toPcrSelection(selection)));
  } catch (e) {
    return fileError('PCR values file (raw digests)', e);
  }
}

/** "sha256:0,1,2-7+sha1:0" (tpm2-tools syntax). */
export function pcrSelectionFromList(text: string): PcrBankSelection[] {
  try {
    return parsePcrList(text);
  } catch (e) {
    return fileError(`PCR list ${JSON.stringify(text)}`, e);
  }
}
