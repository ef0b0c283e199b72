/**
 * The TPM side of command framing: header, handles and authorization area, with the parameter
 * area left as bytes. A TPM must check authorizations (whose HMACs cover the parameters as sent)
 * and decrypt an encrypted first parameter (Part 1, 21) before it can unmarshal the parameters;
 * src/tpm/frame.ts decodeCommand unmarshals them eagerly, so the simulator splits the frame here
 * and decodes the parameters with the same command schema afterwards.
 */
import { ByteReader } from '../../bytes/index.ts';
import { commandByCode } from '../commands.ts';
import { TPM_LIMITS, TPM_ST } from '../constants.ts';
import { TpmError } from '../errors.ts';
import type { AuthCommand, DecodedCommand } from '../frame.ts';
import { decodeFrom } from '../schema/index.ts';
import { TPMS_AUTH_COMMAND } from '../structures.ts';

const HEADER_SIZE = 10;

export type CommandFrame = Omit<DecodedCommand, 'params'>;

function truncated(where: string, need: number, have: number): never {
  throw new TpmError('ERR_TPM_TRUNCATED', `${where}: needs ${need} bytes, only ${have} left`, { field: where, needed: need, remaining: have });
}

/** Splits a command into header, handles, sessions and the raw parameter area; typed TpmErrors only. */
export function splitCommand(bytes: Uint8Array): CommandFrame {
  if (bytes.length < HEADER_SIZE) truncated('command header', HEADER_SIZE, bytes.length);
  if (bytes.length > TPM_LIMITS.MAX_COMMAND) throw new TpmError('ERR_TPM_TOO_LARGE', `command of ${bytes.length} bytes exceeds ${TPM_LIMITS.MAX_COMMAND}`, { size: bytes.length });
  const r = new ByteReader(bytes);
  const tag = r.u16();
  const size = r.u32();
  const code = r.u32();
  if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS) throw new TpmError('ERR_TPM_BAD_TAG', `command tag 0x${tag.toString(16)} is neither TPM_ST_NO_SESSIONS nor TPM_ST_SESSIONS`, { tag });
  if (size !== bytes.length) throw new TpmError('ERR_TPM_BAD_SIZE', `commandSize ${size} but ${bytes.length} bytes received`, { field: 'commandSize', declared: size, actual: bytes.length });
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
      if (sessions.length === TPM_LIMITS.MAX_SESSIONS) throw new TpmError('ERR_TPM_TOO_LARGE', `more than ${TPM_LIMITS.MAX_SESSIONS} sessions`, { field: 'authorization area' });
      sessions.push(decodeFrom(TPMS_AUTH_COMMAND, auth, `session ${sessions.length}`));
    }
    if (sessions.length === 0) throw new TpmError('ERR_TPM_BAD_SIZE', 'TPM_ST_SESSIONS with an empty authorization area', { field: 'authorization area' });
  }
  return { schema, tag, code, handles, sessions, paramBytes: r.bytesView(r.remaining).slice() };
}
