// PCR values, in the one shape every layer uses: bank name → PCR number (decimal string, as JSON
// keys are) → lower-case hex. The TPM client reads into it, quotes are verified over it, event logs
// replay into it, predictions and reference sets are written in it, and the server stores and
// shows it — so nothing converts between look-alike types on the way.
import { HashAlgorithm, type HashAlgorithmName } from './algorithms.ts';

export type PcrValues = Readonly<Partial<Record<HashAlgorithmName, Readonly<Record<string, string>>>>>;

/** The PCR numbers of a bank that a PcrValues holds, ascending. */
export function pcrNumbers(values: PcrValues, bank: HashAlgorithmName): number[] {
  return Object.keys(values[bank] ?? {})
    .map(Number)
    .sort((a, b) => a - b);
}

/** The banks a PcrValues holds, in the table's order. */
export function pcrBanks(values: PcrValues): HashAlgorithmName[] {
  return (Object.keys(HashAlgorithm) as HashAlgorithmName[]).filter((bank) => values[bank] !== undefined);
}
