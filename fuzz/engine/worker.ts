// The fuzz loop, in a worker thread so the supervisor stays free to watch it: pick a corpus entry,
// mutate it, run the target, keep the input when it reached new coverage, report every input that
// raised anything but a VouchError. Before each execution the input is copied into shared memory,
// so when the supervisor has to stop a hung or bloated worker it still knows what was running.
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { COVERAGE_VARIABLE } from './build.ts';
import { CoverageMap } from './coverage.ts';
import { allocationGuard } from './memory.ts';
import { Mutator, Random } from './mutate.ts';
import { Control, errorSignature, type WorkerData, type WorkerMessage } from './protocol.ts';

interface TargetModule {
  readonly fuzzOne: (data: Uint8Array) => unknown;
  readonly prepare?: (setup: unknown) => void;
  readonly VouchError: abstract new (...args: never[]) => Error;
}

interface CorpusEntry {
  readonly data: Uint8Array;
  readonly weight: number;
}

type Outcome = { readonly kind: 'ok' } | { readonly kind: 'crash'; readonly error: unknown } | { readonly kind: 'memory'; readonly bytes: number };

const data = workerData as WorkerData;
const port = parentPort;
if (!port) throw new Error('fuzz/engine/worker.ts runs as a worker thread');
const post = (message: WorkerMessage): void => {
  port.postMessage(message);
};

process.setSourceMapsEnabled(true);
const guard = allocationGuard(data.mallocLimitBytes);
const target = (await import(pathToFileURL(data.bundle).href)) as TargetModule;
const coverage = CoverageMap.adopt(COVERAGE_VARIABLE);
target.prepare?.(data.setup);
coverage.reset();
post({ type: 'loaded' });

const control = new Int32Array(data.control);
const current = new Uint8Array(data.current);
const random = new Random(data.seed);
const mutator = new Mutator(random, { maxLen: data.maxLen, dictionary: data.dictionary });
const corpus: CorpusEntry[] = [];
let totalWeight = 0;
const knownSignatures = new Set<string>(data.knownSignatures);
let findings = 0;

function isTyped(error: unknown): boolean {
  return error instanceof target.VouchError;
}

// Capturing a stack trace is most of what a typed error costs, and parsers refuse most mutated
// inputs with one: traces are off while fuzzing, and an input that crashed runs once more with them
// on. An async target keeps them: an error it throws later, outside any input's promise, has no
// second run to take its stack from.
const STACK_TRACE_LIMIT = Error.stackTraceLimit;
let fuzzingTraceLimit = 0;
Error.stackTraceLimit = fuzzingTraceLimit;

async function run(input: Uint8Array): Promise<unknown> {
  try {
    const result = target.fuzzOne(input);
    if (result instanceof Promise) {
      fuzzingTraceLimit = STACK_TRACE_LIMIT;
      Error.stackTraceLimit = fuzzingTraceLimit;
      await result;
    }
    return undefined;
  } catch (error) {
    return error ?? new Error('thrown: nothing');
  }
}

async function execute(input: Uint8Array): Promise<Outcome> {
  current.set(input);
  Atomics.store(control, Control.currentLength, input.length);
  Atomics.add(control, Control.executions, 1);
  guard.reset();
  Atomics.store(control, Control.running, 1);
  const error = await run(input);
  Atomics.store(control, Control.running, 0);
  const bytes = guard.exceeded();
  if (bytes !== 0) return { kind: 'memory', bytes };
  if (error === undefined || isTyped(error)) return { kind: 'ok' };
  Error.stackTraceLimit = STACK_TRACE_LIMIT;
  try {
    Atomics.store(control, Control.running, 1);
    const again = await run(input);
    Atomics.store(control, Control.running, 0);
    return { kind: 'crash', error: again !== undefined && !isTyped(again) ? again : error };
  } finally {
    Error.stackTraceLimit = fuzzingTraceLimit;
  }
}

function signatureOf(outcome: Outcome): string | undefined {
  if (outcome.kind === 'crash') return errorSignature(outcome.error);
  if (outcome.kind === 'memory') return 'memory: single allocation over the limit';
  return undefined;
}

/** libFuzzer's -minimize_crash, in short: drop ever smaller chunks while the same finding remains. */
async function minimise(input: Uint8Array, signature: string): Promise<Uint8Array> {
  let best = input;
  let budget = data.minimiseBudget;
  for (let chunk = best.length >> 1; chunk >= 1 && budget > 0; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.length && budget > 0;) {
      const candidate = new Uint8Array(best.length - chunk);
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + chunk), at);
      budget--;
      if (signatureOf(await execute(candidate)) === signature) best = candidate;
      else at += chunk;
    }
  }
  coverage.reset();
  return best;
}

async function report(input: Uint8Array, outcome: Outcome): Promise<void> {
  const signature = signatureOf(outcome);
  if (signature === undefined || knownSignatures.has(signature)) return;
  knownSignatures.add(signature);
  findings++;
  const original = input.slice();
  const minimised = await minimise(original, signature);
  const error =
    outcome.kind === 'crash' ? describeError(outcome.error) : `a single allocation of ${String(outcome.kind === 'memory' ? outcome.bytes : 0)} bytes`;
  post({ type: 'finding', finding: { kind: outcome.kind === 'crash' ? 'crash' : 'memory', signature, input: original, minimised, error } });
}

/**
 * An error nothing caught (thrown by a callback, a rejection nobody awaited) surfaces after its
 * input's promise settled. It is a crash of the input running when it surfaced, and the worker
 * lives on; it is not minimised, since running the input again need not repeat it.
 */
function reportUncaught(error: unknown): void {
  const signature = `${errorSignature(error)} (uncaught)`;
  if (knownSignatures.has(signature)) return;
  knownSignatures.add(signature);
  findings++;
  const input = current.slice(0, Atomics.load(control, Control.currentLength));
  post({ type: 'finding', finding: { kind: 'crash', signature, input, minimised: input, error: describeError(error) } });
}
process.on('uncaughtException', reportUncaught);
process.on('unhandledRejection', reportUncaught);

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `thrown non-Error: ${String(error)}`;
}

/** Entries that brought more features are picked more often, and small ones more than large ones (cheaper to run, as libFuzzer prefers). */
function add(input: Uint8Array, fresh: number): void {
  const weight = Math.max(1, Math.round(16 * (Math.min(fresh, 32) + 1) * Math.min(1, 4096 / Math.max(input.length, 1))));
  corpus.push({ data: input.slice(), weight });
  totalWeight += weight;
}

function pick(): CorpusEntry {
  let ticket = random.below(totalWeight);
  for (const entry of corpus) {
    if (ticket < entry.weight) return entry;
    ticket -= entry.weight;
  }
  return corpus[corpus.length - 1]!;
}

function progress(): void {
  const covered = coverage.covered();
  post({ type: 'progress', executions: Atomics.load(control, Control.executions), corpus: corpus.length, findings, covered });
}

// Seeds first: each one runs once and is kept when it reaches something new. An empty input is
// always tried, so a target with no seed still has a corpus to mutate.
const seeds = [new Uint8Array(0), ...data.seeds.map((s) => s.subarray(0, data.maxLen))];
for (const seed of seeds) {
  if (data.stopOnFinding && findings > 0) break;
  const outcome = await execute(seed);
  const fresh = coverage.collect();
  if (outcome.kind === 'ok' && fresh > 0) add(seed, fresh);
  await report(seed, outcome);
}
for (const entry of data.corpus) {
  const outcome = await execute(entry);
  const fresh = coverage.collect();
  if (outcome.kind === 'ok' && fresh > 0) add(entry, fresh);
}
if (corpus.length === 0) add(new Uint8Array(0), 1);
post({ type: 'ready', totals: coverage.totals(), executions: Atomics.load(control, Control.executions) });
progress();

const scratch = new Uint8Array(data.maxLen);
const runs = data.runs;
while (Atomics.load(control, Control.executions) < runs && Atomics.load(control, Control.stop) === 0 && !(data.stopOnFinding && findings > 0)) {
  const parent = pick();
  scratch.set(parent.data);
  mutator.crossWith = corpus[random.below(corpus.length)]!.data;
  const size = mutator.mutate(scratch, parent.data.length);
  const input = scratch.subarray(0, size);
  const outcome = await execute(input);
  const fresh = coverage.collect();
  if (outcome.kind === 'ok') {
    if (fresh > 0) {
      add(input, fresh);
      post({ type: 'corpus', input: input.slice() });
    }
  } else {
    await report(input, outcome);
  }
  if ((Atomics.load(control, Control.executions) & 0x3fff) === 0) progress();
}
progress();
post({ type: 'done' });
