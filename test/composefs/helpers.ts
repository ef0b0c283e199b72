// Shared imports and small helpers for the composefs tests.
import { isVouchError, type VouchError } from '../../src/errors/index.ts';
export * from '../../src/composefs/index.ts';

export function isVouchErrorWithCode(e: unknown, code: string): e is VouchError {
  return isVouchError(e) && e.code === code;
}
