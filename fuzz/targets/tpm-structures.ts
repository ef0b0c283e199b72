// Every TPM structure schema through the one schema engine: the first byte chooses the structure,
// the rest is decoded as it; whatever decodes must encode back to exactly the same bytes (a
// structure with two encodings would let a signed blob mean two things).
import { decode, encode, structures } from '../../src/tpm/index.ts';
import type { AnySchema } from '../../src/tpm/schema/index.ts';
import { bytesEqual } from '../../src/bytes/index.ts';

export { VouchError } from './typed.ts';

/** Structure schemas in name order, so an input's first byte means the same structure in every run. */
export const structureSchemas: readonly AnySchema[] = Object.entries(structures as Record<string, unknown>)
  .filter((entry): entry is [string, AnySchema] => typeof entry[1] === 'object' && entry[1] !== null && 'read' in entry[1] && 'kind' in entry[1])
  .sort(([a], [b]) => (a < b ? -1 : 1))
  .map(([, schema]) => schema);

export function fuzzOne(data: Uint8Array): void {
  if (data.length === 0) return;
  const schema = structureSchemas[data[0]! % structureSchemas.length]!;
  const body = data.subarray(1);
  const value = decode(schema, body);
  const again = encode(schema, value);
  if (!bytesEqual(again, body)) throw new Error(`${schema.name}: decoded value encodes to other bytes (${String(again.length)} vs ${String(body.length)})`);
}
