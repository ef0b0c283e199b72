/**
 * The one error base of Vouch. Every module throws subclasses of `VouchError` with a stable
 * `code` (`ERR_<AREA>_<WHAT>`), a message that says what to check, and structured `details`
 * (offsets, field paths, PCRs, decoded response codes) that callers can render or log.
 *
 * Codes are API: each area declares its codes once with `defineErrorCodes`, and
 * docs/errors.md lists every one of them (test/errors/registry.test.ts keeps both in sync).
 */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export class VouchError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** A table of the codes an area owns, each with a one-line description for docs/errors.md. */
export type ErrorCodeTable = Readonly<Record<string, string>>;

const registry = new Map<string, { area: string; description: string }>();

/**
 * Declares the codes an area owns. Registering a code twice (from two areas) is a programming
 * error and throws at import time, so code collisions never reach users.
 */
export function defineErrorCodes<const T extends ErrorCodeTable>(area: string, table: T): { readonly [K in keyof T]: K } {
  const out: Record<string, string> = {};
  for (const [code, description] of Object.entries(table)) {
    if (!/^ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/.test(code)) throw new Error(`bad error code name ${code}`);
    const prior = registry.get(code);
    if (prior && prior.area !== area) throw new Error(`error code ${code} declared by ${prior.area} and ${area}`);
    registry.set(code, { area, description });
    out[code] = code;
  }
  return out as { readonly [K in keyof T]: K };
}

/** Every code declared so far (areas register on import). */
export function registeredErrorCodes(): ReadonlyMap<string, { area: string; description: string }> {
  return registry;
}

export function isVouchError(e: unknown): e is VouchError {
  return e instanceof VouchError;
}
