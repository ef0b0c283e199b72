// Reference sets as the server keeps them: one per release, imported from `vouch predict --json`
// (one profile's prediction) with the release's composefs digest, checked against one schema before
// it is stored, and turned into the verifier's ReleaseCatalog when a node is appraised.
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { PredictedEventType, referenceValues, type ReferenceSet } from '../predict/index.ts';
import { ProtocolError } from '../protocol/index.ts';
import type { ReferenceSetRecord } from '../store/index.ts';
import type { ReleaseCatalog } from '../verifier/index.ts';

const Banks = '^(sha1|sha256|sha384|sha512|sm3_256)$';
const PcrNumber = '^([0-9]|1[0-9]|2[0-3])$';
const HexValue = Type.String({ pattern: '^[0-9a-f]{40,128}$' });
const Rule = Type.Union([
  HexValue,
  Type.Object({ oneOf: Type.Array(HexValue, { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
  Type.Object({ notAppraised: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
]);
const PredictedEventSchema = Type.Object(
  {
    pcr: Type.Integer({ minimum: 0, maximum: 23 }),
    type: Type.Enum(Object.values(PredictedEventType)),
    by: Type.String({ maxLength: 256 }),
    description: Type.String({ maxLength: 4096 }),
    digests: Type.Record(Type.String({ pattern: Banks }), HexValue),
    data: Type.Optional(Type.String({ pattern: '^[0-9a-f]*$', maxLength: 2 * 1024 * 1024 })),
  },
  { additionalProperties: false },
);
const MAX_EVENTS = 4096;

/** One prediction, as `vouch predict PROFILE --json` prints it in `result`. */
const PredictionSchema = Type.Object(
  {
    banks: Type.Record(Type.String({ pattern: Banks }), Type.Record(Type.String({ pattern: PcrNumber }), HexValue)),
    pcrs: Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { maxItems: 24 }),
    events: Type.Array(PredictedEventSchema, { maxItems: MAX_EVENTS }),
    assumptions: Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 }),
  },
  { additionalProperties: true },
);

/** A stored reference set: a rule for every PCR of every predicted bank (docs/design.md: nothing unappraised silently). */
export const StoredReferenceSet = Type.Object(
  {
    pcrs: Type.Record(Type.String({ pattern: Banks }), Type.Record(Type.String({ pattern: PcrNumber }), Rule)),
    events: Type.Array(PredictedEventSchema, { maxItems: MAX_EVENTS }),
    assumptions: Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 }),
  },
  { additionalProperties: false },
);
export type StoredReferenceSet = Static<typeof StoredReferenceSet>;

const checkPrediction = Compile(PredictionSchema);
const checkStored = Compile(StoredReferenceSet);

function invalid(message: string): ProtocolError {
  return new ProtocolError('ERR_REQUEST_INVALID', message, { field: 'prediction' });
}

/**
 * The reference set of release `name` from `vouch predict --json` output: the `{result, error}`
 * document or its result, holding one prediction (or a reference-values document with exactly one
 * set). Every PCR the prediction does not cover gets its default rule with the reason.
 */
export function referenceSetFromPrediction(name: string, untrusted: unknown): StoredReferenceSet {
  let document = untrusted;
  if (typeof document === 'object' && document !== null && 'result' in document && 'error' in document) {
    if ((document as { error: unknown }).error !== null) throw invalid('the vouch predict output holds an error, not a prediction');
    document = (document as { result: unknown }).result;
  }
  if (typeof document === 'object' && document !== null && 'sets' in document) {
    const sets = document.sets;
    if (!Array.isArray(sets) || sets.length !== 1) throw invalid('import one release at a time: run vouch predict with one profile per release');
    const set = { ...(sets[0] as Record<string, unknown>) };
    delete set.version;
    if (!checkStored.Check(set)) throw invalid(`the reference set does not match its schema: ${firstError(checkStored, set)}`);
    return set;
  }
  if (!checkPrediction.Check(document)) throw invalid(`not vouch predict --json output: ${firstError(checkPrediction, document)}`);
  const [set] = referenceValues([{ version: name, prediction: document }]).sets;
  const stored = { pcrs: set!.pcrs, events: set!.events, assumptions: set!.assumptions };
  if (!checkStored.Check(stored)) throw invalid(`the prediction gives an unusable reference set: ${firstError(checkStored, stored)}`);
  return stored;
}

function firstError(checker: { Errors(value: unknown): Iterable<{ instancePath: string; message: string }> }, value: unknown): string {
  const [first] = checker.Errors(value);
  return first ? `${first.instancePath || '(document)'} ${first.message}` : 'unknown shape';
}

/** The bare hex digest of `composefs=sha256:<hex>`, `sha256:<hex>` or `<hex>`: what the measured command line names. */
export function composefsDigestValue(text: string): string {
  return text.replace(/^composefs=/, '').replace(/^[a-z0-9]+:/, '');
}

/** The verifier's catalogue of the accepted releases. */
export function releaseCatalog(records: readonly ReferenceSetRecord[]): ReleaseCatalog {
  const sets: ReferenceSet[] = records.map((r) => ({ version: r.name, ...(r.content as StoredReferenceSet) }));
  const composefsDigests: Record<string, string> = {};
  for (const r of records) if (r.composefsDigest !== null) composefsDigests[r.name] = r.composefsDigest;
  return { values: { sets }, composefsDigests };
}
