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
  splitCommand,
  firstTpm2bSpan,
  startsWithTpm2b,
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
export type { AuthCommand, AuthResponse, CommandFrame, DecodedCommand, DecodedResponseFrame } from './frame.ts';
export { decodeRc, describeRc, isRc, TpmRcError, TPM_RC } from './rc.ts';
export type { DecodedRc } from './rc.ts';
export { TpmError, TpmErrorCode } from './errors.ts';
export type { TpmErrorCodeName } from './errors.ts';
export { Tpm, eventDigests, signatureBytes } from './client.ts';
export type { RunOptions, Loaded, Quote } from './client.ts';
export { toPcrSelection, fromPcrSelection, pcrsOf, pcrValuesOf, pcrValuesInOrder, selectionOf } from './pcr-selection.ts';
export type { PcrSelection } from './pcr-selection.ts';
export { passwordSession, AuthSession, SESSION_AES_128_CFB, SESSION_XOR } from './session.ts';
export type { Session, SessionKind, CommandAuthContext, ResponseAuthContext } from './session.ts';
export { ekTemplate, srkTemplate, akTemplate, sealedTemplate, verificationKeyTemplate, EK_POLICY_SHA256 } from './templates.ts';
export type { KeyAlg, SignScheme } from './templates.ts';
export { objectName, nvName, handleName, tpmHash } from './names.ts';
export * as policy from './policy.ts';
export { openTransport, parseTpmUri, openDevice, connectSwtpm, connectMssim, rawStreamTransport, SwtpmControl } from './transport/index.ts';
export type { TpmTransport, TpmUri, SimulatorOptions, SocketAddress } from './transport/index.ts';
export { publicKeyFromTpmt, publicKeyPem } from './crypto/public-key.ts';
export { encodePcrsSerialized, parsePcrsSerialized, parsePcrValues, parsePcrList, encodeCredentialFile, parseCredentialFile } from './tpm2-tools-files.ts';
export type { ParsedPcrFile, CredentialFile } from './tpm2-tools-files.ts';
