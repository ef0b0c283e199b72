// Every fuzz target runs briefly on each test run: its seeds (real vectors) and a fixed number of
// mutations from a fixed seed, so a run is the same on every machine. `make fuzz` runs them long.
// Any finding fails the test with the input, unless it is a known one (fuzz/known-findings.ts)
// that a regression test already reproduces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultFuzzOptions, fuzzTarget } from '../../fuzz/engine/supervisor.ts';
import { knownFindings } from '../../fuzz/known-findings.ts';
import { targets } from '../../fuzz/targets.ts';

/** Enough to take each target a few seconds past its seeds on an idle 2-core machine. */
const RUNS = 2000;

for (const target of targets) {
  test(`fuzz ${target.name}: ${String(RUNS)} mutations of the real seeds raise only typed errors`, async (t) => {
    const report = await fuzzTarget(target, { ...defaultFuzzOptions, runs: RUNS, seed: 0x5eed });
    const known = new Set((knownFindings[target.name] ?? []).map((k) => k.signature));
    const unexpected = report.findingReports.filter((f) => !known.has(f.signature));
    for (const f of report.findingReports.filter((f) => known.has(f.signature))) t.diagnostic(`known finding (regression test pending a fix): ${f.signature}`);
    t.diagnostic(
      `${String(report.executions)} executions, branches ${String(report.covered.branches)}/${String(report.totals.branches)}, corpus ${String(report.corpus)}`,
    );
    assert.deepEqual(
      unexpected.map((f) => `${f.kind} ${f.signature}: input (base64) ${Buffer.from(f.minimised).toString('base64')}\n${f.error}`),
      [],
      'every finding becomes a regression test (docs/fuzzing.md)',
    );
    assert.ok(report.executions >= RUNS);
  });
}
