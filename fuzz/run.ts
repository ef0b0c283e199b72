// `make fuzz`: runs every target (or those named) for --runs executions each and prints, per
// target, the executions, executions/s, branch coverage, corpus size and findings. Like libFuzzer
// with a corpus directory, each target starts from the seeds plus the inputs earlier runs kept
// (--fresh ignores them), and every finding's input is written next to that corpus.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CACHE_DIR } from './engine/build.ts';
import type { FindingReport } from './engine/protocol.ts';
import { defaultFuzzOptions, fuzzTarget, type FuzzReport } from './engine/supervisor.ts';
import { targets } from './targets.ts';

const usage = `usage: node fuzz/run.ts [--runs N] [--max-seconds S] [--seed S] [--timeout-ms MS] [--jobs N] [--fresh] [TARGET...]
--max-seconds bounds each target's run (libFuzzer's -max_total_time): it ends at --runs or then, whichever comes first
targets: ${targets.map((t) => t.name).join(' ')}`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: String(defaultFuzzOptions.timeoutMs) },
    jobs: { type: 'string', default: '1' },
    'max-seconds': { type: 'string' },
    fresh: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const unknown = positionals.filter((name) => !targets.some((t) => t.name === name));
if (unknown.length > 0) {
  console.error(`unknown target ${unknown.join(', ')}\n${usage}`);
  process.exit(2);
}
// In the order named: with --jobs, the slow ones first keep both jobs busy to the end.
const chosen = positionals.length ? positionals.map((name) => targets.find((t) => t.name === name)!) : targets;
const runs = Number(values.runs);
const seed = Number(values.seed);
const timeoutMs = Number(values['timeout-ms']);
const jobs = Number(values.jobs);
const maxSeconds = values['max-seconds'] === undefined ? undefined : Number(values['max-seconds']);
if (![runs, seed, timeoutMs, jobs, maxSeconds ?? 1].every((n) => Number.isSafeInteger(n) && n > 0)) {
  console.error(`--runs, --max-seconds, --seed, --timeout-ms and --jobs take positive integers\n${usage}`);
  process.exit(2);
}

const digestName = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

async function readCorpus(dir: string): Promise<Uint8Array[]> {
  const names = await readdir(dir).catch(() => []);
  return Promise.all(names.sort().map(async (name) => new Uint8Array(await readFile(join(dir, name)))));
}

async function writeInputs(dir: string, inputs: readonly Uint8Array[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(inputs.map((input) => writeFile(join(dir, digestName(input)), input)));
}

/** The minimised input, the original and a .txt with the error, written as soon as the finding is known. */
async function writeFinding(targetName: string, finding: FindingReport): Promise<void> {
  const dir = join(CACHE_DIR, 'findings', targetName);
  const name = `${finding.kind}-${digestName(finding.minimised)}`;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), finding.minimised);
  await writeFile(join(dir, `${name}.original`), finding.input);
  await writeFile(join(dir, `${name}.txt`), `${finding.signature}\n\n${finding.error}\n`);
  console.log(
    `${targetName}: ${finding.kind} ${finding.signature}\n  input ${join(dir, name)} (${String(finding.minimised.length)} bytes, minimised from ${String(finding.input.length)})`,
  );
  console.log(`  ${finding.error.split('\n').slice(0, 4).join('\n  ')}`);
}

async function fuzzOne(target: (typeof targets)[number]): Promise<FuzzReport> {
  const corpusDir = join(CACHE_DIR, 'corpus', target.name);
  const report = await fuzzTarget(target, {
    ...defaultFuzzOptions,
    runs,
    seed,
    timeoutMs,
    ...(maxSeconds !== undefined && { maxSeconds }),
    corpus: values.fresh ? [] : await readCorpus(corpusDir),
    onFinding: (finding) => {
      void writeFinding(target.name, finding);
    },
    onProgress: (p) => {
      if (process.stderr.isTTY || p.executions % 262144 < 16384) {
        process.stderr.write(
          `${p.target}: ${String(p.executions)} execs, ${String(Math.round(p.executionsPerSecond))}/s, branches ${String(p.covered.branches)}/${String(p.totals.branches)}, corpus ${String(p.corpus)}, findings ${String(p.findings)}\n`,
        );
      }
    },
  });
  await writeInputs(corpusDir, report.discovered);
  console.log(
    `done ${target.name}: ${String(report.executions)} executions, ${String(Math.round(report.executionsPerSecond))}/s, branches ${String(report.covered.branches)}/${String(report.totals.branches)}, statements ${String(report.covered.statements)}/${String(report.totals.statements)}, corpus ${String(report.corpus)}, findings ${String(report.findings)}, ${report.seconds.toFixed(0)} s`,
  );
  return report;
}

// --jobs targets at a time, each in its own worker thread (libFuzzer's -jobs).
const reports: FuzzReport[] = [];
const queue = [...chosen];
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) reports.push(await fuzzOne(next));
  }),
);
reports.sort((a, b) => chosen.findIndex((t) => t.name === a.target) - chosen.findIndex((t) => t.name === b.target));

const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);
const rows = reports.map((r) => [
  r.target,
  String(r.executions),
  String(Math.round(r.executionsPerSecond)),
  `${String(r.covered.branches)}/${String(r.totals.branches)} (${pct(r.covered.branches, r.totals.branches)})`,
  `${String(r.covered.statements)}/${String(r.totals.statements)}`,
  String(r.corpus),
  String(r.findings),
  `${r.seconds.toFixed(0)} s`,
]);
const header = ['target', 'executions', 'exec/s', 'branches hit/total', 'statements', 'corpus', 'findings', 'time'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const row of [header, ...rows]) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
process.exit(reports.some((r) => r.findings > 0) ? 1 : 0);
