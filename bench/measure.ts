// Small shared timing helpers for benchmarks (never used in tests).
import { spawnSync } from 'node:child_process';

/** Runs fn (awaiting the promise it returns, if any) repeatedly for at least `seconds` and returns operations per second. */
export async function opsPerSecond(fn: () => unknown, seconds = 1): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const start = process.hrtime.bigint();
  let n = 0;
  let elapsed = 0;
  while (elapsed < seconds) {
    await fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return n / elapsed;
}

/** Wall time of one call in seconds (a returned promise is awaited). */
export async function timeOnce(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Wall time of a command in seconds (best of `repeat`), or undefined when it is not installed. */
export function timeCommand(cmd: string, args: readonly string[], repeat = 3): number | undefined {
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return undefined;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return best;
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
