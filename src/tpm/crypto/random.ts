import { randomBytes } from 'node:crypto';

/**
 * Where fresh randomness comes from: node:crypto by default; a seeded generator in the software
 * TPM and in tests, so that seeds, ephemeral keys and OAEP padding are reproducible there.
 */
export type RandomSource = (length: number) => Uint8Array;

export const systemRandom: RandomSource = (length) => new Uint8Array(randomBytes(length));
