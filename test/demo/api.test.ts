// Pins the part of src/demo the future verifier grows from: appraise() is pure and synchronous
// (evidence + inputs → Verdict), verdict statuses and reason names are stable strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as demo from '../../src/demo/index.ts';
import type { AppraisalInputs, AttestationEvidence, Verdict } from '../../src/demo/index.ts';
import type { Equal } from '../helpers/type-equal.ts';

const pinned: [
  Equal<Parameters<typeof demo.appraise>, [evidence: AttestationEvidence, inputs: AppraisalInputs]>,
  Equal<ReturnType<typeof demo.appraise>, Verdict>,
  Equal<Verdict['status'], 'affirming' | 'contraindicated'>,
] = [true, true, true];

test('public API: appraise is synchronous; statuses and reason names are stable', () => {
  assert.ok(pinned.every(Boolean));
  assert.deepEqual(Object.values(demo.VerdictStatus), ['affirming', 'contraindicated']);
  assert.deepEqual(Object.values(demo.VerdictReason), [
    'not-enrolled',
    'quote-invalid',
    'event-log-malformed',
    'log-does-not-replay',
    'event-data-forged',
    'pcr-not-in-reference',
    'unknown-root-image',
  ]);
  for (const name of ['runDemo', 'appraise', 'planFleet', 'createReferences', 'runNode', 'enrollNode', 'logEventsOf', 'writeDemoArtifacts', 'renderDemo']) {
    assert.equal(typeof (demo as Record<string, unknown>)[name], 'function', name);
  }
});
