// OVMF/edk2 variable stores (VARS.fd), which a boot profile may name as the firmware's variables.
import { parseVariableStore } from '../../src/predict/index.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  parseVariableStore(data);
}
