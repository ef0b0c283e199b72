// istanbul's instrumented modules count into per-module objects ({s: {...}, b: {id: [..]}, f: {...}}),
// which would cost a walk over thousands of object keys after every execution. After the bundle
// has loaded, every module's counters are moved into one Uint32Array (the generated code only ever
// does `cov().s[i]++` and `cov().b[i][j]++`, which index a typed-array view just as well), so an
// execution's coverage is read with one linear pass and reset with one fill — libFuzzer's
// inline 8-bit counters, in effect.

interface IstanbulFileCoverage {
  s: Record<string, number> | Uint32Array;
  f: Record<string, number> | Uint32Array;
  b: Record<string, number[] | Uint32Array>;
}

export const CounterKind = { statement: 0, branch: 1, function: 2 } as const;

export interface CoverageTotals {
  readonly branches: number;
  readonly statements: number;
  readonly functions: number;
}

export class CoverageMap {
  readonly counters: Uint32Array;
  private readonly kinds: Uint8Array;
  /** Which counters any execution ever moved, for the "covered / total" figures. */
  private readonly everHit: Uint8Array;
  /** libFuzzer's features: (counter, hit-count bucket) pairs seen so far. */
  private readonly seenFeatures: Uint8Array;

  private constructor(counters: Uint32Array, kinds: Uint8Array) {
    this.counters = counters;
    this.kinds = kinds;
    this.everHit = new Uint8Array(counters.length);
    this.seenFeatures = new Uint8Array(counters.length);
  }

  /** Takes over the counters of every module registered under `variable` so far. */
  static adopt(variable: string): CoverageMap {
    const files = (globalThis as Record<string, unknown>)[variable] as Record<string, IstanbulFileCoverage> | undefined;
    if (!files) throw new Error(`no instrumented module registered under ${variable}: was the bundle built by fuzz/engine/build.ts?`);
    let total = 0;
    for (const file of Object.values(files)) {
      total += Object.keys(file.s).length + Object.keys(file.f).length;
      for (const arms of Object.values(file.b)) total += arms.length;
    }
    const counters = new Uint32Array(total);
    const kinds = new Uint8Array(total);
    let at = 0;
    const take = (count: number, kind: number): Uint32Array => {
      const view = counters.subarray(at, at + count);
      kinds.fill(kind, at, at + count);
      at += count;
      return view;
    };
    for (const file of Object.values(files)) {
      file.s = take(Object.keys(file.s).length, CounterKind.statement);
      file.f = take(Object.keys(file.f).length, CounterKind.function);
      for (const [id, arms] of Object.entries(file.b)) file.b[id] = take(arms.length, CounterKind.branch);
    }
    return new CoverageMap(counters, kinds);
  }

  reset(): void {
    this.counters.fill(0);
  }

  /**
   * Folds the last execution's counters into the seen features and resets them; returns how many
   * features were new. Buckets as libFuzzer's: 1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128+ hits.
   */
  collect(): number {
    const { counters, seenFeatures, everHit } = this;
    let fresh = 0;
    for (let i = 0; i < counters.length; i++) {
      const hits = counters[i]!;
      if (hits === 0) continue;
      const bit = bucketBit(hits);
      if ((seenFeatures[i]! & bit) === 0) {
        seenFeatures[i] = seenFeatures[i]! | bit;
        everHit[i] = 1;
        fresh++;
      }
    }
    counters.fill(0);
    return fresh;
  }

  /** Covered counters per kind (only ever-hit ones). */
  covered(): CoverageTotals {
    return this.count((i) => this.everHit[i] === 1);
  }

  totals(): CoverageTotals {
    return this.count(() => true);
  }

  private count(include: (i: number) => boolean): CoverageTotals {
    const n = [0, 0, 0];
    for (let i = 0; i < this.kinds.length; i++) if (include(i)) n[this.kinds[i]!]!++;
    return { statements: n[CounterKind.statement]!, branches: n[CounterKind.branch]!, functions: n[CounterKind.function]! };
  }
}

function bucketBit(hits: number): number {
  if (hits < 4) return 1 << (hits - 1);
  if (hits < 8) return 1 << 3;
  if (hits < 16) return 1 << 4;
  if (hits < 32) return 1 << 5;
  if (hits < 128) return 1 << 6;
  return 1 << 7;
}
