// The PCR banks prediction computes: the hash algorithms PC Client firmware allocates and
// Authenticode can be computed with (an image's PCR 4 digest is its Authenticode hash in the bank's
// algorithm). Extending and hashing are the event log's (src/eventlog replay), so prediction and
// replay cannot drift apart. The names are the hash table's (src/hash).
import type { HashAlgorithmName } from '../hash/index.ts';

export const PcrBank = { sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' } as const satisfies Record<string, HashAlgorithmName>;
export type PcrBank = (typeof PcrBank)[keyof typeof PcrBank];

export const PCR_BANKS: readonly PcrBank[] = Object.values(PcrBank);

export function isPcrBank(name: unknown): name is PcrBank {
  return typeof name === 'string' && (PCR_BANKS as readonly string[]).includes(name);
}
