// The fuzz engine itself, on small targets of test/fuzz/fixtures/ whose defects are known: it must
// find a defect only coverage feedback reaches, report crashes with a minimised input, stop hangs,
// oversized allocations and heap exhaustion without dying, count typed errors as no finding, and
// repeat itself exactly for the same seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultFuzzOptions, fuzzTarget, type FuzzOptions, type FuzzTarget } from '../../fuzz/engine/supervisor.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

function fixture(name: string, seeds: Uint8Array[]): FuzzTarget {
  return { name, entry: join(fixtures, `${name}.ts`), maxLen: 64, seeds: () => Promise.resolve(seeds), instrumented: fixtures };
}

const options = (overrides: Partial<FuzzOptions>): FuzzOptions => ({ ...defaultFuzzOptions, runs: 2000, seed: 7, ...overrides });

test('fuzz engine: coverage feedback finds a defect behind two byte comparisons (blind mutation needs ~65,000 tries per hit)', async () => {
  const report = await fuzzTarget(fixture('magic', [bytes(0, 0)]), options({ runs: 200_000, stopOnFinding: true }));
  assert.equal(report.findings, 1);
  const [finding] = report.findingReports;
  assert.equal(finding!.kind, 'crash');
  assert.match(finding!.signature, /^TypeError at test\/fuzz\/fixtures\/magic\.ts:\d+$|^TypeError at .*magic\.ts:\d+$/);
  assert.deepEqual([...finding!.minimised.subarray(0, 2)], [0x46, 0x5a]);
  assert.equal(finding!.minimised.length, 2, 'minimised to the two bytes that matter');
  assert.ok(report.executions < 200_000);
});

test('fuzz engine: typed errors are no finding; a crash is minimised to the byte that causes it', async () => {
  const seed = new Uint8Array(40).fill(0x20);
  seed[17] = 0x99;
  const report = await fuzzTarget(fixture('misbehave', [bytes(0x20, 0x21), seed]), options({ stopOnFinding: true }));
  assert.equal(report.findings, 1);
  assert.equal(report.findingReports[0]!.kind, 'crash');
  assert.match(report.findingReports[0]!.signature, /^RangeError at test\/fuzz\/fixtures\/misbehave\.ts:\d+$/);
  assert.deepEqual([...report.findingReports[0]!.minimised], [0x99]);
  const quiet = await fuzzTarget(fixture('misbehave', [bytes(0x20)]), options({ runs: 300, stopOnFinding: true }));
  assert.ok(
    quiet.findingReports.every((f) => f.kind === 'crash' && f.minimised.includes(0x99)),
    'only the 0x99 crash can be found from here',
  );
});

test('fuzz engine: a hang is stopped at the time bound and reported with its input', async () => {
  const report = await fuzzTarget(fixture('misbehave', [bytes(0x48)]), options({ timeoutMs: 300, stopOnFinding: true }));
  assert.equal(report.findingReports[0]?.kind, 'hang');
  assert.deepEqual([...report.findingReports[0].input], [0x48]);
});

test('fuzz engine: one allocation over the limit, and heap exhaustion, are memory findings', async () => {
  const oversized = await fuzzTarget(fixture('misbehave', [bytes(0x4d)]), options({ mallocLimitMb: 16, stopOnFinding: true }));
  assert.equal(oversized.findingReports[0]?.kind, 'memory');
  assert.match(oversized.findingReports[0].error, /1073741824 bytes/);
  const exhausted = await fuzzTarget(fixture('misbehave', [bytes(0x41)]), options({ heapLimitMb: 64, stopOnFinding: true }));
  assert.equal(exhausted.findingReports[0]?.kind, 'memory');
  assert.equal(exhausted.findingReports[0].signature, 'memory: heap');
});

test('fuzz engine: an error no one caught, thrown after the input settled, is a crash and the run goes on', async () => {
  const report = await fuzzTarget(fixture('late', [bytes(0x55)]), options({ runs: 300 }));
  const [finding] = report.findingReports;
  assert.equal(finding?.kind, 'crash');
  assert.match(finding.signature, /^TypeError at test\/fuzz\/fixtures\/late\.ts:\d+ \(uncaught\)$/);
  assert.equal(report.findings, 1);
  assert.ok(report.executions >= 300, 'the run went on');
});

test('fuzz engine: the same seed gives the same run', async () => {
  const run = () => fuzzTarget(fixture('magic', [bytes(1, 2, 3)]), options({ runs: 3000 }));
  const [a, b] = [await run(), await run()];
  assert.deepEqual(
    a.discovered.map((d) => Buffer.from(d).toString('hex')),
    b.discovered.map((d) => Buffer.from(d).toString('hex')),
  );
  assert.deepEqual(a.covered, b.covered);
});

test('fuzz engine: a time budget ends a run before its runs are done (libFuzzer -max_total_time)', async () => {
  const report = await fuzzTarget(fixture('misbehave', [bytes(0x20)]), options({ runs: 1_000_000_000, maxSeconds: 2 }));
  assert.ok(report.executions > 0 && report.executions < 1_000_000_000);
});
