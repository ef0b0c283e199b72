// Pins the public API of src/predict: these assignments stop compiling (npx tsc) if a signature
// changes, and the runtime test checks the index exports exactly this set of values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/predict/index.ts';
import type { EventToEncode } from '../../src/eventlog/index.ts';
import type { ArtifactSet, BootProfile, Prediction, ReferenceMatch, ReferenceValues, UkiParts } from '../../src/predict/index.ts';
import type { PcrValues } from '../../src/hash/index.ts';

const pinned: {
  parseBootProfile: (value: unknown) => BootProfile;
  predict: (profile: BootProfile, artifacts: ArtifactSet) => Prediction;
  profileArtifacts: (profile: BootProfile) => string[];
  referenceValues: (versions: readonly { readonly version: string; readonly prediction: Prediction }[]) => ReferenceValues;
  matchPcrValues: (refs: ReferenceValues, actual: PcrValues) => ReferenceMatch;
  matchEventLog: (refs: ReferenceValues, log: Uint8Array) => ReferenceMatch;
  buildUki: (parts: UkiParts) => Uint8Array;
  measuredSections: (stubVersion: number) => readonly string[];
  expectedLogEvents: (prediction: Prediction) => EventToEncode[];
  encodeExpectedEventLog: (prediction: Prediction) => Uint8Array;
} = api;

// A prediction is plain JSON-able data: hex strings, numbers, strings.
const sample: Prediction = {
  banks: { sha256: { '4': '00' } },
  pcrs: [4],
  events: [{ pcr: 4, type: 'EV_SEPARATOR', by: 'firmware', description: 'separator', digests: { sha256: '00' }, data: '00000000' }],
  assumptions: [],
};

test('the predict module exports its documented API', () => {
  assert.deepEqual(Object.keys(api).sort(), [
    'DEFAULT_STUB_VERSION',
    'MAX_VARSTORE_SIZE',
    'PCR_BANKS',
    'PCR_COUNT',
    'PcrBank',
    'PredictError',
    'PredictErrorCode',
    'PredictedEventType',
    'SECURE_BOOT_VARIABLES',
    'buildUki',
    'completePcrRules',
    'defaultPcrRule',
    'describePcrRule',
    'encodeExpectedEventLog',
    'expectedLogEvents',
    'isPcrBank',
    'matchEventLog',
    'matchPcrValues',
    'measuredSections',
    'parseBootProfile',
    'parseVariableStore',
    'predict',
    'profileArtifacts',
    'referenceValues',
    'ruleAccepts',
  ]);
  assert.equal(typeof pinned.predict, 'function');
  assert.deepEqual(JSON.parse(JSON.stringify(sample)), sample);
});
