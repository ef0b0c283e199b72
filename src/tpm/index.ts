// Public API of the TPM 2.0 layer: wire format (schemas, structures, commands, framing),
// response codes, and the client/transports.
export * from './constants.ts';
export * as schema from './schema/index.ts';
export type { Infer, Sized, Schema } from './schema/index.ts';
export { encode, decode, wrap } from './schema/index.ts';
export * as structures from './structures.ts';
export * as cmd from './commands.ts';
export { commandByCode, allCommandSchemas } from './commands.ts';
export type { AnyCommand, CommandSchema, CommandArgs, CommandResponse, HandleRef, HandleSpec } from './commands.ts';
export {
  decodeCommand,
  encodeCommandFrame,
  encodeCommandParams,
  commandHandles,
  encodeResponseParams,
  encodeResponseFrame,
  encodeErrorResponse,
  decodeResponseFrame,
  decodeResponseParams,
  handleNumber,
} from './frame.ts';
export type { AuthCommand, AuthResponse, DecodedCommand, DecodedResponseFrame } from './frame.ts';
export { decodeRc, describeRc, isRc, TpmRcError, TPM_RC } from './rc.ts';
export type { DecodedRc } from './rc.ts';
export { TpmError, TpmErrorCode } from './errors.ts';
export type { TpmErrorCodeName } from './errors.ts';
