// Rate-limit counters in the database, so that every replica counts against the same limit.
// A sliding window estimated from two fixed windows (as nginx and Cloudflare do): the current
// window's count plus the previous window's count weighted by how much of it still overlaps the
// last `windowMs`. One upsert per hit, atomic on both dialects.
import { sql } from 'kysely';
import { checkPositive, checkText, type StoreContext } from '../values.ts';

const MAX_WINDOW_MS = 24 * 60 * 60 * 1000;
const MAX_LIMIT = 1_000_000_000;

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Estimated requests in the last window, this one included. */
  readonly count: number;
  readonly limit: number;
  /** When not allowed: milliseconds until the current fixed window ends (an upper bound on the wait). */
  readonly retryAfterMs: number;
}

export class RateLimitRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Counts one request for `key` (e.g. `node:<id>` or `ip:<address>`) and says whether it is within `limit` per `windowMs`. */
  async hit(key: string, rule: { readonly limit: number; readonly windowMs: number }): Promise<RateLimitDecision> {
    checkText(key, 'key', 256);
    const limit = checkPositive(rule.limit, 'limit', MAX_LIMIT);
    const windowMs = checkPositive(rule.windowMs, 'windowMs', MAX_WINDOW_MS);
    const now = this.#ctx.now();
    const windowStart = now - (now % windowMs);
    const current = await this.#ctx.db
      .insertInto('rate_limits')
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet({ count: sql<number>`rate_limits.count + 1` }))
      .returning('count')
      .executeTakeFirstOrThrow();
    const previous = await this.#ctx.db
      .selectFrom('rate_limits')
      .select('count')
      .where('key', '=', key)
      .where('window_start', '=', windowStart - windowMs)
      .executeTakeFirst();
    const overlap = 1 - (now - windowStart) / windowMs;
    const count = current.count + Math.floor((previous?.count ?? 0) * overlap);
    const allowed = count <= limit;
    return { allowed, count, limit, retryAfterMs: allowed ? 0 : windowStart + windowMs - now };
  }

  /** Deletes counters of windows that started before `before`; returns how many. */
  async prune(before: number): Promise<number> {
    const result = await this.#ctx.db.deleteFrom('rate_limits').where('window_start', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
