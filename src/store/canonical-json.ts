// Canonical JSON (the RFC 8785 rules for the values Vouch logs): object keys sorted by UTF-16 code
// units, no whitespace, numbers and strings as ECMAScript's JSON.stringify writes them. Two
// equal values always give the same text, so a hash over it survives a round trip through any
// database's text column.
import { StoreError } from './errors.ts';

/** Deeper nesting than this is no audit detail but an attempt to exhaust the stack. */
const MAX_DEPTH = 64;

export function canonicalJson(value: unknown, path = '$', depth = 0): string {
  if (depth > MAX_DEPTH) throw new StoreError('ERR_STORE_INVALID', `${path} nests deeper than ${MAX_DEPTH} levels`, { field: path });
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new StoreError('ERR_STORE_INVALID', `${path} is not a finite number`, { field: path });
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`, depth + 1)).join(',')}]`;
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new StoreError('ERR_STORE_INVALID', `${path} is not a plain JSON object`, { field: path });
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`, depth + 1)}`).join(',')}}`;
  }
  throw new StoreError('ERR_STORE_INVALID', `${path} is ${typeof value}, which JSON cannot carry`, { field: path });
}
