// The tpm2-tools file formats Vouch reads: PCR values (serialized, as tpm2_quote -o writes them),
// credential blobs (tpm2_makecredential -o), and PCR selection lists.
import { parseCredentialFile, parsePcrList } from '../../src/tpm/index.ts';
import { pcrSelectionFromList, pcrValuesFromSerializedFile } from '../../src/verifier/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  typed(() => pcrValuesFromSerializedFile(data));
  typed(() => parseCredentialFile(data));
  const text = new TextDecoder().decode(data);
  typed(() => parsePcrList(text));
  pcrSelectionFromList(text);
}
