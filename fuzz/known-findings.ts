// Findings that are reproduced by a regression test but not fixed yet, because the fix belongs to
// code another change is rewriting. Each names the test that will pass once it is fixed; the
// short fuzz runs of the suite accept these and nothing else.
export const knownFindings: Readonly<Record<string, readonly { readonly signature: string; readonly test: string }[]>> = {
  // No stack can be taken from a worker that is stopped for a hang, so all of a target's hangs share one signature.
  pe: [{ signature: 'hang', test: 'test/secureboot/fuzz-findings.test.ts: a section whose VirtualSize far exceeds the image' }],
  tar: [{ signature: 'Error [Z_DATA_ERROR] in Node', test: 'test/composefs/fuzz-regressions.test.ts: a corrupt gzip layer' }],
};
