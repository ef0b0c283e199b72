// composefs dump files (composefs-dump(5)), printed back as `vouch composefs dump` does.
import { parseDump, printDump } from '../../src/composefs/index.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  printDump(parseDump(data));
}
