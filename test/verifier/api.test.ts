// Pins the verifier's public API: appraise() is pure and synchronous (evidence + inputs → Verdict),
// verdict statuses and reason names are stable strings tooling can rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as verifier from '../../src/verifier/index.ts';
import type { AppraisalInputs, AttestationEvidence, Verdict } from '../../src/verifier/index.ts';
import type { Equal } from '../helpers/type-equal.ts';

const pinned: [
  Equal<Parameters<typeof verifier.appraise>, [evidence: AttestationEvidence, inputs: AppraisalInputs]>,
  Equal<ReturnType<typeof verifier.appraise>, Verdict>,
  Equal<Verdict['status'], 'affirming' | 'warning' | 'contraindicated'>,
  Equal<AppraisalInputs['now'], Date>,
] = [true, true, true, true];

test('public API: appraise is synchronous with an injected clock; statuses and reason names are stable', () => {
  assert.ok(pinned.every(Boolean));
  assert.deepEqual(Object.values(verifier.VerdictStatus), ['affirming', 'warning', 'contraindicated']);
  assert.deepEqual(Object.values(verifier.VerdictReason), [
    'not-enrolled',
    'quote-invalid',
    'event-log-malformed',
    'log-does-not-replay',
    'event-data-forged',
    'pcr-not-in-reference',
    'unknown-root-image',
    'claim-conflict',
    'policy-failed',
  ]);
  for (const name of ['appraise', 'verifyQuote', 'checkQuote', 'deriveClaims', 'attestationKeyProblems', 'issueCredential', 'credentialMatches', 'earClaims']) {
    assert.equal(typeof (verifier as Record<string, unknown>)[name], 'function', name);
  }
});
