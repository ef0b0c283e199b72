// Hash algorithms (one table of TCG ids, names and sizes) and the one PCR-values shape.
export { HashAlgorithm, hashAlgorithmById, isHashAlgorithmName, hashBytes } from './algorithms.ts';
export type { HashAlgorithmName } from './algorithms.ts';
export { pcrNumbers, pcrBanks } from './pcr-values.ts';
export type { PcrValues } from './pcr-values.ts';
