// UEFI_VARIABLE_DATA as EV_EFI_VARIABLE_* events carry it, the variable's value decoded the way
// the event log decoder and the verifier's claims read it (boot order, load options, signature
// lists, authority entries), and a load option on its own.
import { decodeVariableValue, parseLoadOption, parseUefiVariableData } from '../../src/eventlog/index.ts';
import { parseSignatureDatabase } from '../../src/secureboot/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  typed(() => parseLoadOption(data));
  const variable = parseUefiVariableData(data);
  typed(() => decodeVariableValue(variable, false, parseSignatureDatabase));
  decodeVariableValue(variable, true, parseSignatureDatabase);
}
