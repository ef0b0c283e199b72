// One PCR value as bytes from the PcrValues shape (what TPM reads and quotes give), for assertions.
import { fromHex } from '../../src/bytes/index.ts';
import type { HashAlgorithmName, PcrValues } from '../../src/hash/index.ts';

export function pcrBytes(values: PcrValues, bank: HashAlgorithmName, pcr: number): Uint8Array {
  const hex = values[bank]?.[String(pcr)];
  if (hex === undefined) throw new Error(`no ${bank} PCR ${pcr} in ${JSON.stringify(values)}`);
  return fromHex(hex);
}
