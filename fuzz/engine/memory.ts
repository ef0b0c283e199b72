// libFuzzer's -malloc_limit_mb for JavaScript: a single buffer or array allocation larger than the
// limit is a finding (an attacker-chosen length reached an allocation). Typed-array, ArrayBuffer,
// Array and Buffer constructors are wrapped in the worker before the target loads, so the target's
// `new Uint8Array(n)` goes through the check. As libFuzzer does, the allocation fails on the spot
// (here with a RangeError, so the target does not go on to work through it), and the finding is
// reported after the execution, whatever the target did with that error.

export interface AllocationGuard {
  reset(): void;
  /** Bytes of the largest allocation over the limit since reset(), 0 if none. */
  exceeded(): number;
}

export function allocationGuard(limitBytes: number): AllocationGuard {
  let largest = 0;
  const note = (bytes: number): void => {
    if (bytes <= limitBytes) return;
    largest = Math.max(largest, bytes);
    throw new RangeError(`fuzz: allocation of ${String(bytes)} bytes is over the limit of ${String(limitBytes)}`);
  };
  const global = globalThis as unknown as Record<string, unknown>;
  for (const [name, bytesPerElement] of [
    ['Uint8Array', 1],
    ['Int8Array', 1],
    ['Uint8ClampedArray', 1],
    ['Uint16Array', 2],
    ['Int16Array', 2],
    ['Uint32Array', 4],
    ['Int32Array', 4],
    ['Float32Array', 4],
    ['Float64Array', 8],
    ['BigUint64Array', 8],
    ['BigInt64Array', 8],
    ['ArrayBuffer', 1],
    ['Array', 8],
  ] as const) {
    const original = global[name] as new (...args: unknown[]) => object;
    global[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') note(args[0] * bytesPerElement);
        return Reflect.construct(target, args, newTarget) as object;
      },
      apply(target, thisArg, args) {
        if (typeof args[0] === 'number') note(args[0] * bytesPerElement);
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
      },
    });
  }
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = Buffer[name].bind(Buffer);
    Buffer[name] = ((size: number, ...rest: unknown[]) => {
      note(size);
      return (original as (...a: unknown[]) => Buffer)(size, ...rest);
    }) as (typeof Buffer)[typeof name];
  }
  return {
    reset() {
      largest = 0;
    },
    exceeded() {
      return largest;
    },
  };
}
