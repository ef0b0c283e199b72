// Findings that are reproduced by a regression test but not fixed yet, because the fix belongs to
// code another change is rewriting. Each names the test that will pass once it is fixed; the
// short fuzz runs of the suite accept these and nothing else.
export const knownFindings: Readonly<Record<string, readonly { readonly signature: string; readonly test: string }[]>> = {
  // One defect, two faces: a VirtualSize over the allocation limit, or just under it and then parsed for seconds.
  pe: [
    { signature: 'memory: single allocation over the limit', test: 'test/secureboot/fuzz-findings.test.ts: a .sbat VirtualSize past SizeOfImage' },
    { signature: 'hang', test: 'test/secureboot/fuzz-findings.test.ts: a .sbat VirtualSize past SizeOfImage' },
  ],
  tar: [{ signature: 'Error [Z_DATA_ERROR] in Node', test: 'test/composefs/fuzz-regressions.test.ts: a corrupt gzip layer' }],
};
