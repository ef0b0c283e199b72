/**
 * Command and response framing (TPM 2.0 Library Part 1, 18: command/response structure):
 *
 *   command:  tag u16 · commandSize u32 · commandCode u32 · handles u32[] ·
 *             [authorizationSize u32 · TPMS_AUTH_COMMAND[]]  (tag TPM_ST_SESSIONS only) · parameters
 *   response: tag u16 · responseSize u32 · responseCode u32 · handles u32[] ·
 *             [parameterSize u32] · parameters · [TPMS_AUTH_RESPONSE[]]  (tag TPM_ST_SESSIONS only)
 *
 * Both directions are here because the client encodes commands and decodes responses while the
 * software TPM does the reverse, with the same command schemas.
 */
import { ByteReader, ByteWriter } from '../bytes/index.ts';
import { commandByCode, type AnyCommand, type CommandArgs, type CommandResponse, type HandleRef } from './commands.ts';
import { TPM_LIMITS, TPM_ST } from './constants.ts';
import { TpmError } from './errors.ts';
import { TpmRcError } from './rc.ts';
import { decode, decodeFrom, encode, type AnySchema, type Infer } from './schema/index.ts';
import { TPMS_AUTH_COMMAND, TPMS_AUTH_RESPONSE } from './structures.ts';

export type AuthCommand = Infer<typeof TPMS_AUTH_COMMAND>;
export type AuthResponse = Infer<typeof TPMS_AUTH_RESPONSE>;

const HEADER_SIZE = 10;

function truncated(where: string, need: number, have: number): never {
  throw new TpmError('ERR_TPM_TRUNCATED', `${where}: needs ${need} bytes, only ${have} left`, { field: where, needed: need, remaining: have });
}

export function handleNumber(h: HandleRef): number {
  return typeof h === 'number' ? h : h.handle;
}

/** The command's handle values in handle-area order, taken from the args by name. */
export function commandHandles<C extends AnyCommand>(cmd: C, args: CommandArgs<C>): number[] {
  const rec = args as Record<string, unknown>;
  return cmd.handles.map((h) => {
    const v = rec[h.name];
    if (typeof v !== 'number' && (typeof v !== 'object' || v === null || typeof (v as { handle?: unknown }).handle !== 'number')) {
      throw new TpmError('ERR_TPM_ENCODE', `${cmd.name}: handle ${h.name} is missing`, { command: cmd.name, handle: h.name });
    }
    return handleNumber(v as HandleRef);
  });
}

/** The parameter area of a command (what cpHash covers). */
export function encodeCommandParams<C extends AnyCommand>(cmd: C, args: CommandArgs<C>): Uint8Array {
  return encode(cmd.params, args as never);
}

export function encodeCommandFrame(code: number, handles: readonly number[], sessions: readonly AuthCommand[], paramBytes: Uint8Array): Uint8Array {
  const w = new ByteWriter(HEADER_SIZE + 4 * handles.length + paramBytes.length + 64);
  w.u16(sessions.length ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
    .u32(0)
    .u32(code);
  for (const h of handles) w.u32(h);
  if (sessions.length) {
    const auth = new ByteWriter(64);
    for (const s of sessions) TPMS_AUTH_COMMAND.write(auth, s, 'TPMS_AUTH_COMMAND');
    const area = auth.finish();
    w.u32(area.length).bytes(area);
  }
  w.bytes(paramBytes);
  const out = w.finish();
  new DataView(out.buffer).setUint32(2, out.length);
  return out;
}

export interface DecodedCommand {
  readonly schema: AnyCommand;
  readonly tag: number;
  readonly code: number;
  /** Handle values in handle-area order (see schema.handles for their names). */
  readonly handles: readonly number[];
  readonly sessions: readonly AuthCommand[];
  /** The raw parameter area: cpHash is computed over it. */
  readonly paramBytes: Uint8Array;
  readonly params: Readonly<Record<string, unknown>>;
}

/** A command split into header, handles and sessions, its parameter area still bytes. */
export type CommandFrame = Omit<DecodedCommand, 'params'>;

/**
 * Splits a command (the TPM side): header, handle count (from the schema) and the authorization
 * area are checked, the parameter area is left as bytes. A TPM checks authorizations (their
 * HMACs cover the parameters as sent) and decrypts an encrypted first parameter (Part 1, 21)
 * before it unmarshals the parameters with `decode(frame.schema.params, ...)`. Errors are typed
 * TpmErrors, which the TPM side maps to TPM_RC codes.
 */
export function splitCommand(bytes: Uint8Array): CommandFrame {
  if (bytes.length < HEADER_SIZE) truncated('command header', HEADER_SIZE, bytes.length);
  if (bytes.length > TPM_LIMITS.MAX_COMMAND)
    throw new TpmError('ERR_TPM_TOO_LARGE', `command of ${bytes.length} bytes exceeds ${TPM_LIMITS.MAX_COMMAND}`, { size: bytes.length });
  const r = new ByteReader(bytes);
  const tag = r.u16();
  const size = r.u32();
  const code = r.u32();
  if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS)
    throw new TpmError('ERR_TPM_BAD_TAG', `command tag 0x${tag.toString(16)} is neither TPM_ST_NO_SESSIONS nor TPM_ST_SESSIONS`, { tag });
  if (size !== bytes.length)
    throw new TpmError('ERR_TPM_BAD_SIZE', `commandSize ${size} but ${bytes.length} bytes received`, {
      field: 'commandSize',
      declared: size,
      actual: bytes.length,
    });
  const schema = commandByCode(code);
  if (r.remaining < 4 * schema.handles.length) truncated(`${schema.name} handles`, 4 * schema.handles.length, r.remaining);
  const handles = schema.handles.map(() => r.u32());
  const sessions: AuthCommand[] = [];
  if (tag === TPM_ST.SESSIONS) {
    if (r.remaining < 4) truncated('authorizationSize', 4, r.remaining);
    const authSize = r.u32();
    if (authSize > r.remaining) truncated('authorization area', authSize, r.remaining);
    const auth = r.sub(authSize);
    while (auth.remaining > 0) {
      if (sessions.length === TPM_LIMITS.MAX_SESSIONS)
        throw new TpmError('ERR_TPM_TOO_LARGE', `more than ${TPM_LIMITS.MAX_SESSIONS} sessions`, { field: 'authorization area' });
      sessions.push(decodeFrom(TPMS_AUTH_COMMAND, auth, `session ${sessions.length}`));
    }
    if (sessions.length === 0) throw new TpmError('ERR_TPM_BAD_SIZE', 'TPM_ST_SESSIONS with an empty authorization area', { field: 'authorization area' });
  }
  return { schema, tag, code, handles, sessions, paramBytes: new Uint8Array(r.bytesView(r.remaining)) };
}

/** Splits a command and decodes its parameters (no parameter encryption). */
export function decodeCommand(bytes: Uint8Array): DecodedCommand {
  const frame = splitCommand(bytes);
  return { ...frame, params: decode(frame.schema.params, frame.paramBytes, `${frame.schema.name} parameters`) };
}

/** The parameter area of a response (what rpHash covers). */
export function encodeResponseParams<C extends AnyCommand>(cmd: C, value: Omit<CommandResponse<C>, C['responseHandles'][number]>): Uint8Array {
  return encode(cmd.response, value as never);
}

/** Builds a response. `sessions` null means TPM_ST_NO_SESSIONS (no parameterSize field). */
export function encodeResponseFrame(handles: readonly number[], paramBytes: Uint8Array, sessions: readonly AuthResponse[] | null): Uint8Array {
  const w = new ByteWriter(HEADER_SIZE + 4 * handles.length + paramBytes.length + 64);
  w.u16(sessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
    .u32(0)
    .u32(0);
  for (const h of handles) w.u32(h);
  if (sessions) w.u32(paramBytes.length);
  w.bytes(paramBytes);
  if (sessions) for (const s of sessions) TPMS_AUTH_RESPONSE.write(w, s, 'TPMS_AUTH_RESPONSE');
  const out = w.finish();
  new DataView(out.buffer).setUint32(2, out.length);
  return out;
}

/** A bare error response (always TPM_ST_NO_SESSIONS, Part 1 18.4). */
export function encodeErrorResponse(rc: number): Uint8Array {
  const w = new ByteWriter(HEADER_SIZE);
  w.u16(TPM_ST.NO_SESSIONS).u32(HEADER_SIZE).u32(rc);
  return w.finish();
}

export interface DecodedResponseFrame {
  readonly handles: readonly number[];
  readonly paramBytes: Uint8Array;
  readonly sessions: readonly AuthResponse[];
}

/**
 * Splits a response to `cmd` into handles, the parameter area and the session area. A non-zero
 * response code throws ERR_TPM_RC (TpmRcError) with the decoded code.
 */
export function decodeResponseFrame(cmd: AnyCommand, bytes: Uint8Array, sessionCount: number): DecodedResponseFrame {
  if (bytes.length < HEADER_SIZE) truncated(`${cmd.name} response header`, HEADER_SIZE, bytes.length);
  if (bytes.length > TPM_LIMITS.MAX_RESPONSE)
    throw new TpmError('ERR_TPM_TOO_LARGE', `response of ${bytes.length} bytes exceeds ${TPM_LIMITS.MAX_RESPONSE}`, { size: bytes.length });
  const r = new ByteReader(bytes);
  const tag = r.u16();
  const size = r.u32();
  const rc = r.u32();
  if (size !== bytes.length)
    throw new TpmError('ERR_TPM_BAD_SIZE', `${cmd.name}: responseSize ${size} but ${bytes.length} bytes received`, { declared: size, actual: bytes.length });
  // TPM_ST_RSP_COMMAND: a TPM 1.2-style answer (e.g. TPM_RC_BAD_TAG to a malformed header).
  if (rc !== 0) {
    if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.RSP_COMMAND)
      throw new TpmError('ERR_TPM_BAD_TAG', `${cmd.name}: error response with tag 0x${tag.toString(16)}`, { tag, rc });
    if (size !== HEADER_SIZE) throw new TpmError('ERR_TPM_BAD_SIZE', `${cmd.name}: error response of ${size} bytes (must be ${HEADER_SIZE})`, { size, rc });
    throw new TpmRcError(rc, cmd.code);
  }
  const expectTag = sessionCount > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== expectTag)
    throw new TpmError('ERR_TPM_BAD_TAG', `${cmd.name}: response tag 0x${tag.toString(16)}, expected 0x${expectTag.toString(16)}`, {
      tag,
      expected: expectTag,
    });
  const handleBytes = 4 * cmd.responseHandles.length;
  if (r.remaining < handleBytes) truncated(`${cmd.name} response handles`, handleBytes, r.remaining);
  const handles = cmd.responseHandles.map(() => r.u32());
  if (sessionCount === 0) return { handles, paramBytes: new Uint8Array(r.bytesView(r.remaining)), sessions: [] };
  if (r.remaining < 4) truncated(`${cmd.name} parameterSize`, 4, r.remaining);
  const paramSize = r.u32();
  if (paramSize > r.remaining) truncated(`${cmd.name} parameters`, paramSize, r.remaining);
  const paramBytes = new Uint8Array(r.bytesView(paramSize));
  const sessions: AuthResponse[] = [];
  for (let i = 0; i < sessionCount; i++) sessions.push(decodeFrom(TPMS_AUTH_RESPONSE, r, `${cmd.name} session ${i}`));
  if (r.remaining !== 0) throw new TpmError('ERR_TPM_TRAILING', `${cmd.name}: ${r.remaining} bytes after the session area`, { trailing: r.remaining });
  return { handles, paramBytes, sessions };
}

/** Whether a parameter area starts with a TPM2B (u16-sized buffer or sized structure). */
export function startsWithTpm2b(area: AnySchema): boolean {
  if (area.kind !== 'struct' || area.fields.length === 0) return false;
  const first = area.fields[0]![1];
  return (first.kind === 'bytes' && first.prefix === 2) || first.kind === 'sized';
}

/**
 * Where the contents of the first parameter lie when it is a TPM2B (u16 size + bytes): the only
 * parameter session encryption covers (Part 1, 21.1). Undefined when the area does not start with
 * a TPM2B (the TPM then refuses encrypt/decrypt sessions with TPM_RC_ATTRIBUTES).
 */
export function firstTpm2bSpan(area: AnySchema, paramBytes: Uint8Array): { start: number; end: number } | undefined {
  if (!startsWithTpm2b(area) || paramBytes.length < 2) return undefined;
  const size = (paramBytes[0]! << 8) | paramBytes[1]!;
  if (2 + size > paramBytes.length) throw new TpmError('ERR_TPM_TRUNCATED', `first parameter announces ${size} bytes, ${paramBytes.length - 2} present`, {});
  return { start: 2, end: 2 + size };
}

/** Parses response parameters and merges the response handles in by name. */
export function decodeResponseParams<C extends AnyCommand>(cmd: C, frame: DecodedResponseFrame): CommandResponse<C> {
  const params = decode(cmd.response, frame.paramBytes, `${cmd.name} response`) as Record<string, unknown>;
  cmd.responseHandles.forEach((name, i) => {
    params[name] = frame.handles[i];
  });
  return params as CommandResponse<C>;
}
