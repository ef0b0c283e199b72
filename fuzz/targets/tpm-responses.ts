// TPM response frames as the client receives them from a transport (device, swtpm, mssim): the
// first byte chooses the command whose response schema applies, the second how many sessions the
// command had; then the frame and its parameters are decoded.
import { allCommandSchemas, decodeResponseFrame, decodeResponseParams } from '../../src/tpm/index.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  if (data.length < 2) return;
  const command = allCommandSchemas[data[0]! % allCommandSchemas.length]!;
  const frame = decodeResponseFrame(command, data.subarray(2), data[1]! % 4);
  decodeResponseParams(command, frame);
}
