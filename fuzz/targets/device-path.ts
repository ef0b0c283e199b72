// EFI device paths (UEFI 2.10 §10) as boot-application events and load options carry them,
// rendered as text the way `vouch eventlog show` prints them.
import { devicePathToText, parseDevicePaths } from '../../src/eventlog/index.ts';

export { VouchError } from '../../src/errors/index.ts';

export function fuzzOne(data: Uint8Array): void {
  for (const path of parseDevicePaths(data)) devicePathToText(path);
}
