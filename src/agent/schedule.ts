// Continuous attestation (`vouch agent run`): attest, wait, attest again. A success or an answer
// the server gave (refused, revoked) waits the interval with jitter — a refusal is said and the
// next attestation still comes on schedule, since a release, a policy change or an unrevoke can
// cure it, and a revocation takes effect at the next attestation. A failure to get an answer
// (unreachable, TPM busy) waits a capped exponential backoff with full jitter, growing with each
// failure in a row. A node that is not enrolled, or whose state is unusable, stops the loop.
// Clock, randomness and sleep are injected: tests drive many rounds without waiting.
import { isVouchError } from '../errors/index.ts';
import { backoffMs, type RetryOptions } from './retry.ts';

export type RoundOutcome = 'affirming' | 'refused' | 'revoked' | 'failed';

export interface RoundReport {
  /** 1-based. */
  readonly round: number;
  readonly outcome: RoundOutcome;
  /** What refused, revoked or failed the round. */
  readonly error?: unknown;
  /** Failures in a row, this one included (0 after an answer). */
  readonly failuresInARow: number;
  /** The wait before the next round (undefined after the last). */
  readonly nextInMs?: number;
}

export interface ScheduleOptions {
  /** Time between attestations that got an answer. */
  readonly intervalMs: number;
  /** Each interval is drawn uniformly from intervalMs·(1 ± jitter), 0 ≤ jitter < 1. */
  readonly jitter: number;
  /** The backoff after failures. */
  readonly backoff: Pick<RetryOptions, 'baseMs' | 'capMs'>;
  readonly random: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Stop after this many rounds (default: until the signal aborts). */
  readonly rounds?: number;
  readonly onRound?: (report: RoundReport) => void;
}

/** Codes that no wait can cure: the loop stops and rethrows. */
const FATAL = new Set(['ERR_AGENT_NOT_ENROLLED', 'ERR_AGENT_ENROLLMENT_PENDING', 'ERR_AGENT_STATE', 'ERR_NODE_UNKNOWN', 'ERR_CLI_USAGE']);
const REFUSED = new Set(['ERR_AGENT_REFUSED']);
const REVOKED = new Set(['ERR_AGENT_REVOKED', 'ERR_NODE_REVOKED']);

export function classify(e: unknown): RoundOutcome | 'fatal' {
  if (!isVouchError(e)) return 'fatal';
  if (FATAL.has(e.code)) return 'fatal';
  if (REFUSED.has(e.code)) return 'refused';
  if (REVOKED.has(e.code)) return 'revoked';
  return 'failed';
}

/** The wait after an answer: the interval with jitter. */
export function scheduledWaitMs(options: Pick<ScheduleOptions, 'intervalMs' | 'jitter' | 'random'>): number {
  return Math.round(options.intervalMs * (1 - options.jitter + 2 * options.jitter * options.random()));
}

/** Runs `attestOnce` on the schedule until the rounds are done or the signal aborts; returns the last round. */
export async function runSchedule(attestOnce: () => Promise<void>, options: ScheduleOptions): Promise<RoundReport | undefined> {
  let failuresInARow = 0;
  let last: RoundReport | undefined;
  for (let round = 1; options.rounds === undefined || round <= options.rounds; round++) {
    if (options.signal?.aborted) break;
    let outcome: RoundOutcome = 'affirming';
    let error: unknown;
    try {
      await attestOnce();
    } catch (e) {
      const kind = classify(e);
      if (kind === 'fatal') throw e;
      outcome = kind;
      error = e;
    }
    failuresInARow = outcome === 'failed' ? failuresInARow + 1 : 0;
    const isLast = options.rounds !== undefined && round === options.rounds;
    const nextInMs = isLast
      ? undefined
      : outcome === 'failed'
        ? backoffMs(failuresInARow - 1, { ...options.backoff, random: options.random })
        : scheduledWaitMs(options);
    last = { round, outcome, ...(error !== undefined ? { error } : {}), failuresInARow, ...(nextInMs !== undefined ? { nextInMs } : {}) };
    options.onRound?.(last);
    if (nextInMs !== undefined) await options.sleep(nextInMs, options.signal);
  }
  return last;
}

/** A sleep that an abort ends early (it resolves; the loop then sees the signal). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
