// Random values of any TPM schema, derived from the declaration itself (so every structure gets
// a property test without a hand-written generator). Unions pick their selector's value from
// the union's cases; sized structures are wrapped with their exact encoding.
import fc from 'fast-check';
import { wrap, type AnySchema } from '../../src/tpm/schema/index.ts';

/** Keeps generated buffers and lists small enough for quick runs while still reaching maxima sometimes. */
const MAX_BYTES = 80;
const MAX_LIST = 3;

function unionsBySelector(fields: readonly (readonly [string, AnySchema])[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const [, s] of fields) {
    if (s.kind !== 'union') continue;
    const keys = new Set(s.cases.keys());
    const prior = out.get(s.selector);
    out.set(s.selector, prior ? new Set([...prior].filter((k) => keys.has(k))) : keys);
  }
  return out;
}

export function arbitraryOf(schema: AnySchema): fc.Arbitrary<unknown> {
  return build(schema, undefined);
}

function build(schema: AnySchema, selected: Readonly<Record<string, unknown>> | undefined): fc.Arbitrary<unknown> {
  switch (schema.kind) {
    case 'uint':
      return fc.integer({ min: 0, max: 2 ** (8 * schema.size) - 1 });
    case 'u64':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'bool':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...schema.values);
    case 'fixed':
      return fc.uint8Array({ minLength: schema.length, maxLength: schema.length });
    case 'bytes':
      return fc.oneof(
        { weight: 5, arbitrary: fc.uint8Array({ maxLength: Math.min(schema.max, MAX_BYTES) }) },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: schema.max, maxLength: schema.max }) },
      );
    case 'sized': {
      const max = schema.max;
      const inner = schema.inner;
      const sized = build(inner, undefined)
        .map((v) => wrap(inner, v))
        .filter((s) => s.bytes.length > 0 && s.bytes.length <= max);
      return schema.optional ? fc.option(sized, { nil: null }) : sized;
    }
    case 'list':
      return fc.array(build(schema.element, undefined), { maxLength: Math.min(schema.max, MAX_LIST) });
    case 'bits': {
      const rec: Record<string, fc.Arbitrary<unknown>> = {};
      for (const k of Object.keys(schema.flags)) rec[k] = fc.boolean();
      for (const [k, f] of Object.entries(schema.fields)) rec[k] = fc.integer({ min: 0, max: 2 ** f.width - 1 });
      return fc.record(rec, { noNullPrototype: true });
    }
    case 'empty':
      return fc.constant(null);
    case 'union': {
      const sel = selected?.[schema.selector];
      const member = typeof sel === 'number' ? schema.cases.get(sel) : undefined;
      if (!member) throw new Error(`union ${schema.name}: selector ${schema.selector} not generated first`);
      return build(member, selected);
    }
    case 'struct': {
      const selectors = unionsBySelector(schema.fields);
      if (selectors.size === 0) {
        const rec: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [k, s] of schema.fields) rec[k] = build(s, undefined);
        return fc.record(rec, { noNullPrototype: true });
      }
      const selectorArbs: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, keys] of selectors) selectorArbs[name] = fc.constantFrom(...keys);
      return fc.record(selectorArbs, { noNullPrototype: true }).chain((chosen) => {
        const rec: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [k, s] of schema.fields) rec[k] = k in chosen ? fc.constant(chosen[k]) : build(s, chosen);
        return fc.record(rec, { noNullPrototype: true });
      });
    }
  }
}
