// What the supervisor and the fuzz worker exchange: shared control words, the worker's start-up
// data, and its messages.
import type { CoverageTotals } from './coverage.ts';

/**
 * Indices into the shared Int32Array control block; `running` is 1 while an input executes, `stop`
 * is set to 1 by the supervisor when the run's time budget is spent.
 */
export const Control = { executions: 0, currentLength: 1, running: 2, stop: 3, size: 4 } as const;

export interface WorkerData {
  readonly bundle: string;
  readonly seeds: readonly Uint8Array[];
  /** Entries found by an earlier worker of the same run (after a restart) or an earlier run. */
  readonly corpus: readonly Uint8Array[];
  readonly dictionary: readonly Uint8Array[];
  readonly setup: unknown;
  readonly maxLen: number;
  readonly runs: number;
  readonly seed: number;
  readonly mallocLimitBytes: number;
  readonly minimiseBudget: number;
  readonly stopOnFinding: boolean;
  readonly knownSignatures: readonly string[];
  readonly control: SharedArrayBuffer;
  /** The input being executed (its length is in the control block). */
  readonly current: SharedArrayBuffer;
}

export type FindingKind = 'crash' | 'hang' | 'memory';

export interface FindingReport {
  readonly kind: FindingKind;
  /** What makes two findings the same: the error's class and where in src/ it was thrown. */
  readonly signature: string;
  readonly input: Uint8Array;
  readonly minimised: Uint8Array;
  readonly error: string;
}

export type WorkerMessage =
  /** The target is loaded and prepared: from here on, anything that goes wrong is an input's doing. */
  | { readonly type: 'loaded' }
  | { readonly type: 'ready'; readonly totals: CoverageTotals; readonly executions: number }
  | { readonly type: 'progress'; readonly executions: number; readonly corpus: number; readonly findings: number; readonly covered: CoverageTotals }
  | { readonly type: 'corpus'; readonly input: Uint8Array }
  | { readonly type: 'finding'; readonly finding: FindingReport }
  | { readonly type: 'done' };

/**
 * What makes two findings the same: the error's class (and Node's error code, if any) and the
 * first stack frame in the fuzzed code (source-mapped), or "in Node" when no frame is ours.
 * Stable across inputs, unlike messages.
 */
export function errorSignature(error: unknown): string {
  if (!(error instanceof Error)) return `non-Error ${typeof error}`;
  const code = (error as { code?: unknown }).code;
  const name = typeof code === 'string' ? `${error.name} [${code}]` : error.name;
  const ours = (error.stack ?? '').split('\n').find((line) => /^\s+at /.test(line) && line.includes('/') && !/node:|\/fuzz\/engine\//.test(line));
  const location = ours ? /\(?([^\s()]+):(\d+):\d+\)?$/.exec(ours.trim()) : null;
  return location ? `${name} at ${location[1]!.replace(/^.*?\/(src|test|fuzz)\//, '$1/')}:${location[2]!}` : `${name} in Node`;
}
