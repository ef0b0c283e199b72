// Runs one target: builds its instrumented bundle, starts the fuzz worker, and watches it the way
// libFuzzer's -timeout and -rss_limit_mb do. A worker whose current input runs past the time bound
// or whose heap or the process's RSS grows past the memory bound is stopped; its current input
// (in shared memory) becomes a finding, and a new worker carries on with the corpus found so far.
import { Worker } from 'node:worker_threads';
import { buildTarget } from './build.ts';
import type { CoverageTotals } from './coverage.ts';
import { Control, errorSignature, type FindingReport, type WorkerData, type WorkerMessage } from './protocol.ts';

export interface FuzzTarget {
  readonly name: string;
  /** Module (under fuzz/targets/) exporting `fuzzOne(data)`, optionally `prepare(setup)`, and `VouchError`. */
  readonly entry: string;
  /** Upper bound on input size (libFuzzer's -max_len); seeds longer than this are cut. */
  readonly maxLen: number;
  readonly seeds: () => Promise<Uint8Array[]>;
  /** Data computed once outside the instrumented bundle and handed to the target's prepare(). */
  readonly setup?: () => Promise<unknown>;
  readonly dictionary?: readonly (string | Uint8Array)[];
  /** Directory whose modules count coverage (default src/). */
  readonly instrumented?: string;
}

export interface FuzzOptions {
  readonly runs: number;
  readonly seed: number;
  /** Per-input time bound (libFuzzer's -timeout). */
  readonly timeoutMs: number;
  /** Heap of the worker (V8 old generation), MiB. */
  readonly heapLimitMb: number;
  /** Whole-process resident memory, MiB (libFuzzer's -rss_limit_mb). */
  readonly rssLimitMb: number;
  /** Largest single allocation, MiB (libFuzzer's -malloc_limit_mb). */
  readonly mallocLimitMb: number;
  readonly minimiseBudget: number;
  /** Time bound of the whole run, seconds, start-up included (libFuzzer's -max_total_time); the run ends at this or `runs`, whichever comes first. */
  readonly maxSeconds?: number;
  /** Stop at the first finding, as libFuzzer does by default (`make fuzz` goes on, as its -fork mode). */
  readonly stopOnFinding?: boolean;
  /** Inputs from an earlier run to start from, besides the seeds. */
  readonly corpus?: readonly Uint8Array[];
  readonly onProgress?: (p: FuzzProgress) => void;
  /** Called as soon as a finding is known (libFuzzer writes its crash file at once, too). */
  readonly onFinding?: (finding: FindingReport) => void;
}

/** A worker stopped (hang, memory) before this many executions made no progress; after a few such, the target's run ends. */
const MIN_PROGRESS_PER_PASS = 1000;
const MAX_STALLED_PASSES = 3;

export const defaultFuzzOptions: Omit<FuzzOptions, 'runs'> = {
  seed: 1,
  timeoutMs: 10_000,
  heapLimitMb: 1024,
  rssLimitMb: 3072,
  // Inputs are at most a few hundred KiB: 64 MiB from one of them is an amplification worth a look.
  mallocLimitMb: 64,
  minimiseBudget: 4000,
};

export interface FuzzProgress {
  readonly target: string;
  readonly executions: number;
  readonly corpus: number;
  readonly findings: number;
  readonly covered: CoverageTotals;
  readonly totals: CoverageTotals;
  /** Wall time since the start, build and seed preparation included. */
  readonly seconds: number;
  /** Executions per second of fuzzing proper (after the first worker ran its seeds). */
  readonly executionsPerSecond: number;
}

export interface FuzzReport extends FuzzProgress {
  readonly findingReports: readonly FindingReport[];
  /** Inputs kept for new coverage (not the seeds): the corpus to start the next run from. */
  readonly discovered: readonly Uint8Array[];
}

const toBytes = (word: string | Uint8Array): Uint8Array => (typeof word === 'string' ? new TextEncoder().encode(word) : word);

export async function fuzzTarget(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const bundle = await buildTarget(target.entry, target.instrumented);
  const allSeeds = await target.seeds();
  const setup = target.setup ? await target.setup() : undefined;
  const maxLen = Math.max(target.maxLen, 1);
  const control = new SharedArrayBuffer(Control.size * 4);
  const controlWords = new Int32Array(control);
  const current = new SharedArrayBuffer(maxLen);
  const discovered: Uint8Array[] = [...(options.corpus ?? [])];
  const findings: FindingReport[] = [];
  const started = performance.now();
  let totals: CoverageTotals = { statements: 0, branches: 0, functions: 0 };
  let last: Omit<FuzzProgress, 'target' | 'totals' | 'seconds' | 'executionsPerSecond'> = { executions: 0, corpus: 0, findings: 0, covered: totals };
  let fuzzingFrom: { readonly at: number; readonly executions: number } | undefined;
  const progress = (): FuzzProgress => {
    const now = performance.now();
    const fuzzingSeconds = fuzzingFrom ? (now - fuzzingFrom.at) / 1000 : 0;
    const executionsPerSecond = fuzzingSeconds > 0 ? (last.executions - fuzzingFrom!.executions) / fuzzingSeconds : 0;
    return { target: target.name, ...last, findings: findings.length, totals, seconds: (now - started) / 1000, executionsPerSecond };
  };

  // One worker per pass; a pass ends when the runs are done or when the watchdog stopped a worker.
  let stalledPasses = 0;
  for (let pass = 0; ; pass++) {
    const executionsBefore = Atomics.load(controlWords, Control.executions);
    // An input that hung or exhausted a worker is not run again by the next one.
    const stoppers = findings.filter((f) => f.kind !== 'crash').map((f) => Buffer.from(f.input));
    const seeds = allSeeds.filter((s) => !stoppers.some((input) => input.equals(s)));
    const stoppedFor = await new Promise<'done' | FindingReport>((resolve, reject) => {
      const workerData: WorkerData = {
        bundle,
        seeds,
        corpus: discovered,
        dictionary: (target.dictionary ?? []).map(toBytes),
        setup,
        maxLen,
        runs: options.runs,
        seed: options.seed + pass,
        mallocLimitBytes: options.mallocLimitMb * 1024 * 1024,
        minimiseBudget: options.minimiseBudget,
        stopOnFinding: options.stopOnFinding ?? false,
        knownSignatures: findings.map((f) => f.signature),
        control,
        current,
      };
      const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData, resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb } });
      let settled = false;
      let loaded = false;
      let lastExecutions = -1;
      let lastChange = performance.now();
      const currentInput = (): Uint8Array => new Uint8Array(current, 0, Atomics.load(controlWords, Control.currentLength)).slice();
      const stop = (finding: FindingReport): void => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        void worker.terminate().then(() => {
          resolve(finding);
        });
      };
      const watchdog = setInterval(
        () => {
          const executions = Atomics.load(controlWords, Control.executions);
          const now = performance.now();
          if (options.maxSeconds !== undefined && now - started > options.maxSeconds * 1000) Atomics.store(controlWords, Control.stop, 1);
          // Only time spent inside one input counts: loading the bundle and preparing are not a hang.
          if (executions !== lastExecutions || Atomics.load(controlWords, Control.running) === 0) {
            lastExecutions = executions;
            lastChange = now;
          } else if (now - lastChange > options.timeoutMs) {
            const input = currentInput();
            stop({ kind: 'hang', signature: 'hang', input, minimised: input, error: `one input ran longer than ${String(options.timeoutMs)} ms` });
          }
          const rss = process.memoryUsage.rss();
          if (rss > options.rssLimitMb * 1024 * 1024) {
            const input = currentInput();
            stop({
              kind: 'memory',
              signature: 'memory: rss',
              input,
              minimised: input,
              error: `process RSS ${String(Math.round(rss / 2 ** 20))} MiB over ${String(options.rssLimitMb)} MiB`,
            });
          }
        },
        Math.min(250, options.timeoutMs / 4),
      );
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'loaded':
            loaded = true;
            break;
          case 'ready':
            totals = message.totals;
            fuzzingFrom ??= { at: performance.now(), executions: message.executions };
            break;
          case 'progress':
            last = message;
            options.onProgress?.(progress());
            break;
          case 'corpus':
            discovered.push(message.input);
            break;
          case 'finding':
            findings.push(message.finding);
            options.onFinding?.(message.finding);
            break;
          case 'done':
            settled = true;
            clearInterval(watchdog);
            void worker.terminate().then(() => {
              resolve('done');
            });
            break;
        }
      });
      worker.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          const input = currentInput();
          stop({ kind: 'memory', signature: 'memory: heap', input, minimised: input, error: `worker heap over ${String(options.heapLimitMb)} MiB` });
          return;
        }
        // Once fuzzing, an error nothing caught (a stream's 'error' event, a rejection no one
        // awaited) is the current input's doing: a crash, as in libFuzzer. Before, setup failed.
        if (!loaded) {
          settled = true;
          clearInterval(watchdog);
          reject(error);
          return;
        }
        const input = currentInput();
        stop({ kind: 'crash', signature: `${errorSignature(error)} (uncaught)`, input, minimised: input, error: error.stack ?? String(error) });
      });
      worker.on('exit', (code) => {
        if (settled) return;
        if (loaded) {
          const input = currentInput();
          stop({ kind: 'crash', signature: `exit ${String(code)}`, input, minimised: input, error: `the target ended the worker (exit code ${String(code)})` });
          return;
        }
        settled = true;
        clearInterval(watchdog);
        reject(new Error(`fuzz worker for ${target.name} exited with code ${String(code)} before the target was loaded`));
      });
    });
    if (stoppedFor === 'done') break;
    if (!findings.some((f) => f.signature === stoppedFor.signature)) {
      findings.push(stoppedFor);
      options.onFinding?.(stoppedFor);
    }
    // Carry on to the runs asked for, unless workers keep being stopped before getting anywhere.
    const executions = Atomics.load(controlWords, Control.executions);
    stalledPasses = executions - executionsBefore < MIN_PROGRESS_PER_PASS ? stalledPasses + 1 : 0;
    if (stalledPasses >= MAX_STALLED_PASSES || options.stopOnFinding || executions >= options.runs || Atomics.load(controlWords, Control.stop) === 1) break;
  }
  return { ...progress(), findingReports: findings, discovered };
}
