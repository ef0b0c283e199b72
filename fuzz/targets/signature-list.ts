// EFI signature lists in every file form Vouch reads (--db/--dbx: a bare .esl, an efivarfs file
// with its attribute word, a signed .auth update, or auto-detected), then flattened into entries.
import { parseSignatureDatabaseFile, signatureEntries, SignatureDatabaseFormat } from '../../src/secureboot/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  for (const format of Object.values(SignatureDatabaseFormat)) {
    typed(() => signatureEntries(parseSignatureDatabaseFile(data, format).lists));
  }
}
