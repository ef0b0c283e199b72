// Findings that are reproduced by a regression test but not fixed yet, because the fix belongs to
// code another change is rewriting. Each names the test that will pass once it is fixed; the
// short fuzz runs of the suite accept these and nothing else.
export const knownFindings: Readonly<Record<string, readonly { readonly signature: string; readonly test: string }[]>> = {};
