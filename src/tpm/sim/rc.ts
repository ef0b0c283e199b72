/**
 * How the software TPM fails a command: by answering a TPM_RC, never by throwing at the caller.
 * Handlers throw `RcFailure`; the dispatcher turns it into a 10-byte error response.
 *
 * Format-1 codes carry where the fault is (Part 2, 6.6.3): bit 6 (TPM_RC_P) set means parameter
 * N (bits 8-11); otherwise bits 8-10 name handle N, or with bit 11 set session N.
 */
import { TPM_RC } from '../rc.ts';

export class RcFailure extends Error {
  readonly rc: number;
  constructor(rc: number, why: string) {
    super(why);
    this.rc = rc;
  }
}

/** The base value of a named code ("POLICY_FAIL" → 0x09d); a typo is a bug, caught at start-up. */
export function rcBase(name: string): number {
  const v = TPM_RC[name];
  if (v === undefined) throw new Error(`unknown TPM_RC name ${name}`);
  return v;
}

/** Fails the command with a format-0 code or warning (TPM_RC_INITIALIZE, TPM_RC_OBJECT_MEMORY, ...). */
export function fail(name: string, why: string): never {
  throw new RcFailure(rcBase(name), why);
}

/** A format-1 base; format-0 codes cannot say which parameter, handle or session (a bug here). */
function format1(name: string): number {
  const base = rcBase(name);
  if ((base & 0x080) === 0) throw new Error(`TPM_RC_${name} is a format-0 code and carries no parameter, handle or session number`);
  return base;
}

/** Fails with a format-1 code about parameter `n` (1-based). */
export function failParam(name: string, n: number, why: string): never {
  throw new RcFailure(format1(name) | 0x040 | ((n & 0xf) << 8), why);
}

/** Fails with a format-1 code about handle `n` (1-based). */
export function failHandle(name: string, n: number, why: string): never {
  throw new RcFailure(format1(name) | ((n & 0x7) << 8), why);
}

/** Fails with a format-1 code about session `n` (1-based). */
export function failSession(name: string, n: number, why: string): never {
  throw new RcFailure(format1(name) | 0x800 | ((n & 0x7) << 8), why);
}
