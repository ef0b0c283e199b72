// Retries with capped exponential backoff and full jitter (each wait uniform in [0, min(cap,
// base·2^attempt)]): when 10,000 nodes reboot at once and the server is down, their retries spread
// out instead of arriving together. A Retry-After from the server is a floor. Clock and randomness
// are injected, so tests run without sleeping.
import { isTransient } from './client.ts';

export interface RetryOptions {
  /** First wait's upper bound. */
  readonly baseMs: number;
  /** No wait is longer than this. */
  readonly capMs: number;
  /** Give up after this many attempts (the first included); Infinity retries until `signal` aborts. */
  readonly attempts: number;
  /** A uniform random number in [0, 1). */
  readonly random: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Told about each failed attempt and the wait before the next. */
  readonly onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
}

/** The wait before retry number `attempt` (0-based): full jitter under the capped exponential. */
export function backoffMs(attempt: number, options: Pick<RetryOptions, 'baseMs' | 'capMs' | 'random'>, retryAfterSeconds?: number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(options.random() * ceiling);
  return retryAfterSeconds === undefined ? jittered : Math.max(jittered, retryAfterSeconds * 1000);
}

/** Runs `fn` until it succeeds or fails with an error a retry cannot cure (isTransient), or attempts run out. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || attempt + 1 >= options.attempts || options.signal?.aborted) throw e;
      const retryAfter = (e as { details?: { retryAfterSeconds?: unknown } }).details?.retryAfterSeconds;
      const wait = backoffMs(attempt, options, typeof retryAfter === 'number' ? retryAfter : undefined);
      options.onRetry?.(e, attempt + 1, wait);
      await options.sleep(wait, options.signal);
    }
  }
}
