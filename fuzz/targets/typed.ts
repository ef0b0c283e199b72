// Shared by the fuzz targets: the error class that counts as a parser's normal answer, and a way to
// run several parsers over one input so that one's typed refusal does not hide the next.
import { VouchError } from '../../src/errors/index.ts';

export { VouchError };

export function typed(step: () => unknown): void {
  try {
    step();
  } catch (e) {
    if (!(e instanceof VouchError)) throw e;
  }
}
