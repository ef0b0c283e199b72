/**
 * The software TPM: command bytes in, response bytes out, with the same command schemas the
 * client uses (one wire-format engine for both sides). This file holds the TPM's state and the
 * parts common to every command: framing, handle resolution, authorization (password, HMAC and
 * policy sessions, Part 1 §19) and response sessions. The commands themselves are in handlers-*.ts.
 *
 * Like swtpm (the reference implementation's defaults) it has 3 transient object slots and 3
 * session slots, so a client that forgets to flush meets TPM_RC_OBJECT_MEMORY here first.
 */
import type { KeyObject } from 'node:crypto';
import { bytesEqual, constantTimeEqual, utf8 } from '../../bytes/index.ts';
import { TPM_ALG, TPM_CC, TPM_HT, TPM_RH, TPM_RS_PW, TPM_ST, HASH_SIZE } from '../constants.ts';
import { cpHash, nvName, parameterCfb, parameterXor, privateKeyFromTpm, rpHash, sessionHmac, systemRandom, type RandomSource } from '../crypto/index.ts';
import { commandByCode as commandSchemaByCode } from '../commands.ts';
import { TpmError } from '../errors.ts';
import {
  encodeErrorResponse,
  encodeResponseFrame,
  firstTpm2bSpan,
  splitCommand,
  type AuthCommand,
  type AuthResponse,
  type CommandFrame,
  type DecodedCommand,
} from '../frame.ts';
import { objectName, tpmHash } from '../names.ts';
import { TPM_RC } from '../rc.ts';
import { decode, encode, type AnySchema, type Sized } from '../schema/index.ts';
import { TPMA_SESSION, TPMS_NV_PUBLIC, TPMT_PUBLIC, TPMT_SENSITIVE, type TPMS_NV_PUBLIC as NvPublic } from '../structures.ts';
import type { TpmTransport } from '../transport/types.ts';
import { TpmSimError } from './errors.ts';
import { HANDLERS } from './handlers.ts';
import {
  DA_MAX_TRIES,
  DA_RECOVERY_SECONDS,
  MAX_LOADED_SESSIONS,
  MAX_TRANSIENT_OBJECTS,
  PCR_BANKS,
  PCR_COUNT,
  hierarchyName,
  nvAttributes,
  resetPolicy,
  trimAuth,
  u32,
  type AuthEntity,
  type AuthKind,
  type SimObject,
  type SimSession,
} from './model.ts';
import { deriveKey, keyedStream } from './random.ts';
import { RcFailure, fail, failHandle, failParam, failSession } from './rc.ts';
import { loadState, newState, saveState, type NvIndexState, type PersistentState } from './state.ts';

export interface SimulatorOptions {
  /** Persist NV state in this file (created when absent). */
  readonly statePath?: string;
  /** Deterministic keys, seeds and nonces (same seed + same commands = same bytes). */
  readonly seed?: string;
  /** Run TPM2_Startup(CLEAR) at power-on, as swtpm's `--flags startup-clear` (default true). */
  readonly startup?: boolean;
}

const TRANSIENT_FIRST = 0x80000000;
/** Commands that write an NV index they authorize by the index itself (the rest read it). */
const NV_WRITE_COMMANDS: ReadonlySet<number> = new Set([TPM_CC.NV_Write, TPM_CC.NV_Extend, TPM_CC.NV_Increment]);
const NULL_HIERARCHY = TPM_RH.NULL;

/** How one session of a command authorized it, and what its response needs. */
interface Authorization {
  readonly kind: AuthKind;
  /** The session value: sessionKey ‖ authValue where it applies; keys the HMACs and parameter encryption. */
  readonly key: Uint8Array;
  readonly responseHmac: boolean;
  readonly session?: SimSession;
}

interface ParameterCipher {
  crypt(paramBytes: Uint8Array, how: 'encrypt' | 'decrypt'): Uint8Array;
}

function isTpm2b(schema: AnySchema | undefined): boolean {
  return schema !== undefined && ((schema.kind === 'bytes' && schema.prefix === 2) || schema.kind === 'sized');
}

export class SoftwareTpm implements TpmTransport {
  readonly random: RandomSource;
  readonly seeded: boolean;
  state: PersistentState;
  private readonly statePath: string | undefined;
  started = false;
  /** Set by Shutdown(STATE): the PCRs a Startup(STATE) restores. */
  private savedPcrs: Map<number, Uint8Array[]> | undefined;
  /** The exception behind the last TPM_RC_FAILURE answer (a bug in the simulator), for diagnosis. */
  lastFault: unknown;
  private closed = false;
  private dirty = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly powerOnAt = Date.now();
  private readonly clockBase: bigint;
  private commandCount = 0n;

  pcrs = new Map<number, Uint8Array[]>();
  pcrUpdateCounter = 0;
  readonly objects = new Map<number, SimObject>();
  readonly sessions = new Map<number, SimSession>();
  private readonly persistentCache = new Map<number, SimObject>();
  /** TPMS_CONTEXT.sequence of the last ContextSave. */
  contextSequence = 0n;
  nullSeed: Uint8Array;
  nullProof: Uint8Array;

  private constructor(state: PersistentState, random: RandomSource, seeded: boolean, statePath: string | undefined) {
    this.state = state;
    this.random = random;
    this.seeded = seeded;
    this.statePath = statePath;
    this.clockBase = state.clockMs;
    this.nullSeed = random(64);
    this.nullProof = random(64);
    this.resetPcrs();
  }

  /** Powers on a software TPM (loading or creating its state file). */
  static async create(options: SimulatorOptions = {}): Promise<SoftwareTpm> {
    const seedKey = options.seed !== undefined ? tpmHash(TPM_ALG.SHA256, utf8(options.seed)) : undefined;
    const loaded = options.statePath ? await loadState(options.statePath) : undefined;
    // A persisted TPM's stream differs at each power-on (its counters are in the state): replaying
    // the same nonces, salts and ECDSA k after a reboot would sign new quotes with used k values,
    // which gives the AK's private key away.
    const runtime = loaded ? `runtime randomness after ${loaded.resetCount} resets and ${loaded.restartCount} restarts` : 'runtime randomness';
    const random = seedKey ? keyedStream(deriveKey(seedKey, runtime), 'vouch software TPM') : systemRandom;
    const fresh = () => newState(seedKey ? keyedStream(deriveKey(seedKey, 'manufacture'), 'vouch software TPM seeds') : systemRandom);
    const tpm = new SoftwareTpm(loaded ?? fresh(), random, seedKey !== undefined, options.statePath);
    if (!loaded) tpm.dirty = true;
    if (options.startup ?? true) tpm.startup(false);
    await tpm.flushState();
    return tpm;
  }

  // ---- TpmTransport -----------------------------------------------------------------------------

  /** One command at a time, in order (callers need not serialize). */
  send(command: Uint8Array): Promise<Uint8Array> {
    const run = async (): Promise<Uint8Array> => {
      if (this.closed) throw new TpmSimError('ERR_TPM_SIM_CLOSED', 'the software TPM is closed', {});
      const response = this.execute(command);
      await this.flushState();
      return response;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.state.clockMs = this.clock();
    this.dirty = true;
    await this.flushState();
  }

  /** Marks persistent state as changed; it is written before the response is returned. */
  touch(): void {
    this.dirty = true;
  }

  private async flushState(): Promise<void> {
    if (!this.dirty || !this.statePath) return;
    this.state.clockMs = this.clock();
    // Still dirty if the write fails (ERR_TPM_SIM_STATE to this caller): the next command or close() retries it.
    await saveState(this.statePath, this.state);
    this.dirty = false;
  }

  // ---- power, clock, PCRs -------------------------------------------------------------------------

  /** TPMS_CLOCK_INFO.clock: milliseconds the TPM has been powered (virtual, 1 ms per command, when seeded). */
  clock(): bigint {
    return this.clockBase + (this.seeded ? this.commandCount : BigInt(Date.now() - this.powerOnAt));
  }

  /** TPMS_CLOCK_INFO of attestations and ReadClock. */
  clockInfo(): { clock: bigint; resetCount: number; restartCount: number; safe: boolean } {
    return { clock: this.clock(), resetCount: this.state.resetCount, restartCount: this.state.restartCount, safe: true };
  }

  /** Codes of the commands this TPM implements (GetCapability(TPM_CAP_COMMANDS)). */
  implementedCommands(): number[] {
    return [...HANDLERS.keys()];
  }

  resetPcrs(): void {
    for (const bank of PCR_BANKS) {
      // PC Client profile: the DRTM PCRs 17–22 start as all ones until a dynamic launch resets them.
      this.pcrs.set(
        bank,
        Array.from({ length: PCR_COUNT }, (_, i) => new Uint8Array(HASH_SIZE[bank]!).fill(i >= 17 && i <= 22 ? 0xff : 0)),
      );
    }
    this.pcrUpdateCounter = 0;
  }

  /** TPM2_Startup: CLEAR is a TPM Reset (or Restart after Shutdown(STATE)); STATE resumes the saved PCRs. */
  startup(resume: boolean): void {
    if (resume && !this.savedPcrs) failParam('VALUE', 1, 'Startup(STATE) without a preceding Shutdown(STATE)');
    this.objects.clear();
    this.sessions.clear();
    if (resume) {
      this.pcrs = this.savedPcrs!;
      this.state.restartCount++;
    } else if (this.savedPcrs) {
      this.resetPcrs();
      this.state.restartCount++;
    } else {
      this.resetPcrs();
      this.state.resetCount++;
      this.state.restartCount = 0;
      this.nullSeed = this.random(64);
      this.nullProof = this.random(64);
    }
    this.savedPcrs = undefined;
    this.started = true;
    this.touch();
  }

  /**
   * Power loss and power-on (_TPM_Init): loaded objects, sessions and PCRs are gone and the TPM
   * waits for TPM2_Startup, as swtpm after its control channel's power cycle. What Shutdown(STATE)
   * saved is kept for Startup(STATE).
   */
  powerCycle(): void {
    this.started = false;
    this.objects.clear();
    this.sessions.clear();
  }

  shutdown(saveState: boolean): void {
    this.savedPcrs = saveState ? new Map([...this.pcrs].map(([k, v]) => [k, v.map((d) => d.slice())])) : undefined;
    this.state.clockMs = this.clock();
    this.touch();
  }

  // ---- command processing -------------------------------------------------------------------------

  /** Runs one command synchronously; never throws (malformed input gets a TPM_RC like a real TPM). */
  execute(bytes: Uint8Array): Uint8Array {
    this.commandCount++;
    try {
      return this.process(bytes);
    } catch (e) {
      if (e instanceof RcFailure) return encodeErrorResponse(e.rc);
      // An internal fault: answer TPM_RC_FAILURE for this command rather than break the caller.
      this.lastFault = e;
      return encodeErrorResponse(TPM_RC.FAILURE!);
    }
  }

  /**
   * The TPM_RC for a command the frame decoder rejected, as the reference implementation answers:
   * a bad header tag is TPM_RC_BAD_TAG, an unknown code TPM_RC_COMMAND_CODE, a malformed
   * authorization area TPM_RC_AUTHSIZE, a bad parameter its format-1 code with the parameter's
   * number, anything else about lengths TPM_RC_COMMAND_SIZE.
   */
  private decodeFailure(bytes: Uint8Array, e: unknown): never {
    if (!(e instanceof TpmError)) throw e;
    const field = typeof e.details.field === 'string' ? e.details.field : '';
    if (e.code === 'ERR_TPM_UNKNOWN_COMMAND') fail('COMMAND_CODE', e.message);
    if (e.code === 'ERR_TPM_BAD_TAG' && field === '') throw new RcFailure(TPM_RC.BAD_TAG!, e.message);
    const parameter = /^TPM2_\w+ parameters\.(\w+)/.exec(field)?.[1];
    if (parameter !== undefined) {
      const fields =
        (commandSchemaByCode(new DataView(bytes.buffer, bytes.byteOffset).getUint32(6)).params as { fields?: readonly (readonly [string, unknown])[] })
          .fields ?? [];
      const n = fields.findIndex(([k]) => k === parameter) + 1;
      // A structure tag (TPMT_TK_*.tag) is TPM_RC_TAG; other selectors (TPM_CAP, TPM_SE) and values TPM_RC_VALUE.
      const badTag = e.code === 'ERR_TPM_BAD_TAG' && field.endsWith('.tag');
      const name =
        e.code === 'ERR_TPM_TRUNCATED'
          ? 'INSUFFICIENT'
          : badTag
            ? 'TAG'
            : e.code === 'ERR_TPM_BAD_VALUE' || e.code === 'ERR_TPM_BAD_ALG' || e.code === 'ERR_TPM_BAD_TAG'
              ? 'VALUE'
              : 'SIZE';
      if (n > 0) failParam(name, n, e.message);
    }
    if (/^session|^authoriz/i.test(field) || /session/i.test(e.message)) fail('AUTHSIZE', e.message);
    fail('COMMAND_SIZE', e.message);
  }

  private process(bytes: Uint8Array): Uint8Array {
    if (bytes.length >= 10 && !this.started) {
      const code = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(6);
      if (code !== TPM_CC.Startup) fail('INITIALIZE', 'TPM2_Startup has not been run');
    }
    let frame: CommandFrame;
    try {
      frame = splitCommand(bytes);
    } catch (e) {
      return this.decodeFailure(bytes, e);
    }
    const handler = HANDLERS.get(frame.code) ?? fail('COMMAND_CODE', `command 0x${frame.code.toString(16)} is not implemented`);
    if (frame.sessions.length < frame.schema.authCount) fail('AUTH_MISSING', `${frame.schema.name} needs ${frame.schema.authCount} authorization session(s)`);
    frame.handles.forEach((h, i) => this.checkHandle(frame, h, i + 1));
    const names = frame.handles.map((h) => this.nameOf(h));
    // Session i authorizes the i-th handle whose "Auth Index" is set (by position: a handle may appear twice).
    const authPositions = frame.schema.handles.flatMap((spec, i) => (spec.auth ? [i] : []));
    const used = new Set<number>();
    const auths = frame.sessions.map((s, i) => {
      if (s.sessionHandle !== TPM_RS_PW) {
        if (used.has(s.sessionHandle)) failSession('VALUE', i + 1, 'the same session appears twice');
        used.add(s.sessionHandle);
      }
      return this.authorize(frame, i, authPositions[i], names);
    });
    const encryption = this.parameterEncryption(frame, auths);
    const plainParams = encryption.command ? encryption.command.crypt(frame.paramBytes, 'decrypt') : frame.paramBytes;
    let params: Record<string, unknown>;
    try {
      params = decode(frame.schema.params, plainParams);
    } catch (e) {
      return this.decodeFailure(bytes, e);
    }
    const cmd: DecodedCommand = { ...frame, paramBytes: plainParams, params };
    const reply = handler(this, { cmd, handles: cmd.handles, params, authKinds: auths.map((a) => a.kind) });
    const responseHandles = frame.schema.responseHandles.map((n) => (reply as Record<string, number>)[n]!);
    let paramBytes = encode(frame.schema.response, reply as never);
    if (frame.tag !== TPM_ST.SESSIONS) return encodeResponseFrame(responseHandles, paramBytes, null);
    // New nonceTPMs first: response encryption and the response HMACs both use them.
    for (const a of auths) if (a.session) a.session.nonceTPM = this.random(HASH_SIZE[a.session.authHash]!);
    if (encryption.response) paramBytes = encryption.response.crypt(paramBytes, 'encrypt');
    const responseSessions = frame.sessions.map((s, i) => this.responseAuth(frame, s, auths[i]!, paramBytes));
    return encodeResponseFrame(responseHandles, paramBytes, responseSessions);
  }

  /**
   * Session parameter encryption (Part 1, 21): at most one session decrypts the command's first
   * parameter and one encrypts the response's, which must be TPM2Bs; the key is the session value
   * (sessionKey ‖ authValue, as for its HMAC), the nonces order newer ‖ older, AES-CFB or XOR.
   */
  private parameterEncryption(frame: CommandFrame, auths: readonly Authorization[]): { command?: ParameterCipher; response?: ParameterCipher } {
    const out: { command?: ParameterCipher; response?: ParameterCipher } = {};
    frame.sessions.forEach((s, i) => {
      const n = i + 1;
      for (const direction of ['decrypt', 'encrypt'] as const) {
        if (!s.sessionAttributes[direction]) continue;
        const session = auths[i]!.session ?? failSession('ATTRIBUTES', n, 'a password session cannot encrypt parameters');
        const which = direction === 'decrypt' ? 'command' : 'response';
        if (out[which]) failSession('ATTRIBUTES', n, `only one session may ${direction} parameters`);
        const area = (direction === 'decrypt' ? frame.schema.params : frame.schema.response) as AnySchema;
        if (area.kind !== 'struct' || !isTpm2b(area.fields[0]?.[1])) failSession('ATTRIBUTES', n, `${frame.schema.name} has no TPM2B first ${which} parameter`);
        const sym = session.symmetric;
        const cfb = sym.algorithm === TPM_ALG.AES && sym.mode === TPM_ALG.CFB && typeof sym.keyBits === 'number';
        if (!cfb && sym.algorithm !== TPM_ALG.XOR) failSession('SYMMETRIC', n, 'the session was started without parameter encryption');
        const key = auths[i]!.key;
        out[which] = {
          crypt: (paramBytes, how) => {
            const span = firstTpm2bSpan(area, paramBytes);
            if (!span) return paramBytes;
            const [newer, older] = direction === 'decrypt' ? [session.nonceCaller, session.nonceTPM] : [session.nonceTPM, session.nonceCaller];
            const data = paramBytes.subarray(span.start, span.end);
            const out = paramBytes.slice();
            out.set(
              cfb ? parameterCfb(session.authHash, key, sym.keyBits, newer, older, data, how) : parameterXor(session.authHash, key, newer, older, data),
              span.start,
            );
            return out;
          },
        };
      }
    });
    return out;
  }

  // ---- handles ------------------------------------------------------------------------------------

  private checkHandle(cmd: CommandFrame, handle: number, n: number): void {
    // StartAuthSession's tpmKey and bind accept TPM_RH_NULL; handlers check which kinds each command takes.
    const type = handle >>> 24;
    const ok =
      type === TPM_HT.PCR
        ? handle < PCR_COUNT
        : type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT
          ? this.findObject(handle) !== undefined
          : type === TPM_HT.NV_INDEX
            ? this.state.nv.has(handle)
            : type === TPM_HT.HMAC_SESSION || type === TPM_HT.POLICY_SESSION
              ? this.sessions.has(handle)
              : type === TPM_HT.PERMANENT
                ? [TPM_RH.OWNER, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM, TPM_RH.LOCKOUT, TPM_RH.NULL].includes(handle as never)
                : false;
    // A persistent object takes a transient slot while a command uses it (the reference loads it there).
    if (ok && type === TPM_HT.PERSISTENT && this.objects.size >= MAX_TRANSIENT_OBJECTS)
      fail('OBJECT_MEMORY', `${cmd.schema.name}: no free object slot to load persistent object 0x${handle.toString(16)} into`);
    if (ok) return;
    const what = `${cmd.schema.name}: handle 0x${handle.toString(16).padStart(8, '0')} does not exist`;
    // As swtpm: a PCR handle beyond the PCRs does not unmarshal (TPMI_DH_PCR: TPM_RC_VALUE).
    if (type === TPM_HT.PCR) failHandle('VALUE', n, what);
    // As swtpm: a transient handle beyond the object slots does not unmarshal (TPM_RC_VALUE); a free
    // slot is TPM_RC_REFERENCE_Hn (a warning: "nothing loaded there"); anything else TPM_RC_HANDLE.
    if (type === TPM_HT.TRANSIENT) {
      if ((handle & 0xffffff) >= MAX_TRANSIENT_OBJECTS) failHandle('VALUE', n, what);
      throw new RcFailure(TPM_RC.REFERENCE_H0! + n - 1, what);
    }
    failHandle('HANDLE', n, what);
  }

  /** A loaded transient or persistent object. */
  findObject(handle: number): SimObject | undefined {
    const transient = this.objects.get(handle);
    if (transient) return transient;
    const cached = this.persistentCache.get(handle);
    if (cached) return cached;
    const stored = this.state.persistent.get(handle);
    if (!stored) return undefined;
    const pub = decode(TPMT_PUBLIC, stored.publicArea);
    const obj: SimObject = {
      public: { bytes: stored.publicArea, value: pub },
      sensitive: decode(TPMT_SENSITIVE, stored.sensitive),
      name: objectName({ bytes: stored.publicArea, value: pub }),
      qualifiedName: stored.qualifiedName,
      hierarchy: stored.hierarchy,
    };
    this.persistentCache.set(handle, obj);
    return obj;
  }

  object(handle: number, n: number): SimObject {
    return this.findObject(handle) ?? failHandle('HANDLE', n, `object 0x${handle.toString(16)} is not loaded`);
  }

  /** Stores a new transient object in a free slot; TPM_RC_OBJECT_MEMORY when all are taken. */
  addObject(obj: SimObject): number {
    this.requireObjectSlot();
    for (let h = TRANSIENT_FIRST; ; h++) {
      if (!this.objects.has(h)) {
        this.objects.set(h, obj);
        return h;
      }
    }
  }

  requireObjectSlot(): void {
    if (this.objects.size >= MAX_TRANSIENT_OBJECTS) fail('OBJECT_MEMORY', `all ${MAX_TRANSIENT_OBJECTS} transient object slots are in use: flush objects`);
  }

  persist(handle: number, obj: SimObject): void {
    if (!obj.sensitive) fail('ATTRIBUTES', 'a public-only object cannot be made persistent');
    this.state.persistent.set(handle, {
      handle,
      publicArea: obj.public.bytes,
      sensitive: encode(TPMT_SENSITIVE, obj.sensitive),
      hierarchy: obj.hierarchy,
      qualifiedName: obj.qualifiedName,
    });
    this.touch();
  }

  evict(handle: number): void {
    this.state.persistent.delete(handle);
    this.persistentCache.delete(handle);
    this.touch();
  }

  privateKey(obj: SimObject): KeyObject {
    if (!obj.sensitive) fail('KEY', 'the object has no private part (loaded with LoadExternal as a public key)');
    obj.privateKey ??= privateKeyFromTpm(obj.public.value, obj.sensitive);
    return obj.privateKey;
  }

  /** The seed of a hierarchy (primary keys) and its proof value (tickets). */
  hierarchySecrets(hierarchy: number): { seed: Uint8Array; proof: Uint8Array } {
    if (hierarchy === NULL_HIERARCHY) return { seed: this.nullSeed, proof: this.nullProof };
    const h = hierarchyName(hierarchy) ?? fail('HIERARCHY', `0x${hierarchy.toString(16)} is not a hierarchy`);
    return { seed: this.state.seeds[h], proof: this.state.proofs[h] };
  }

  nvPublic(index: NvIndexState): Sized<NvPublic> {
    const value: NvPublic = {
      nvIndex: index.nvIndex,
      nameAlg: index.nameAlg as NvPublic['nameAlg'],
      attributes: nvAttributes(index),
      authPolicy: index.authPolicy,
      dataSize: index.dataSize,
    };
    return { bytes: encode(TPMS_NV_PUBLIC, value), value };
  }

  /** The Name of any handle: objects and NV indices by their public area, everything else by the handle. */
  nameOf(handle: number): Uint8Array {
    const type = handle >>> 24;
    if (type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT) return this.findObject(handle)?.name ?? u32(handle);
    if (type === TPM_HT.NV_INDEX) {
      const index = this.state.nv.get(handle);
      return index ? nvName(this.nvPublic(index)) : u32(handle);
    }
    return u32(handle);
  }

  // ---- authorization (Part 1, 19) ------------------------------------------------------------------

  /**
   * The authorization properties of a handle (authValue, authPolicy, roles) for command `code`.
   * An NV index offers its authValue and its policy per direction (Part 1, 19.7 IsAuthValueAvailable
   * / IsPolicyAvailable): TPMA_NV_AUTHWRITE / _POLICYWRITE for commands that write it,
   * TPMA_NV_AUTHREAD / _POLICYREAD for all others.
   */
  authEntity(handle: number, code: number): AuthEntity {
    const type = handle >>> 24;
    const name = this.nameOf(handle);
    if (type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT) {
      const obj = this.findObject(handle)!;
      const a = obj.public.value.objectAttributes;
      return {
        name,
        authValue: obj.sensitive?.authValue ?? new Uint8Array(0),
        authPolicy: obj.public.value.authPolicy,
        policyAlg: obj.public.value.nameAlg,
        userWithAuth: a.userWithAuth,
        adminWithPolicy: a.adminWithPolicy,
        policyAvailable: true,
        noDA: a.noDA,
      };
    }
    if (type === TPM_HT.NV_INDEX) {
      const index = this.state.nv.get(handle)!;
      const a = nvAttributes(index);
      const writes = NV_WRITE_COMMANDS.has(code);
      return {
        name,
        authValue: index.authValue,
        authPolicy: index.authPolicy,
        policyAlg: index.nameAlg,
        userWithAuth: writes ? a.authWrite : a.authRead,
        adminWithPolicy: true,
        policyAvailable: writes ? a.policyWrite : a.policyRead,
        noDA: a.noDA,
      };
    }
    const hierarchy = handle === TPM_RH.LOCKOUT ? 'lockout' : hierarchyName(handle);
    // Hierarchies are exempt from dictionary-attack counting except lockoutAuth itself; no hierarchy policies are set.
    return {
      name,
      authValue: hierarchy ? this.state.auth[hierarchy] : new Uint8Array(0),
      authPolicy: new Uint8Array(0),
      policyAlg: TPM_ALG.NULL,
      userWithAuth: true,
      adminWithPolicy: false,
      policyAvailable: false,
      noDA: handle !== TPM_RH.LOCKOUT,
    };
  }

  /** ADMIN-role handles (Part 3 "Auth Role" column) among the commands implemented. */
  private static adminRole(code: number, handleIndex: number): boolean {
    return (code === TPM_CC.ActivateCredential || code === TPM_CC.Certify) && handleIndex === 0;
  }

  private authorize(cmd: CommandFrame, i: number, position: number | undefined, names: readonly Uint8Array[]): Authorization {
    const auth = cmd.sessions[i]!;
    const target = position === undefined ? undefined : { position, handle: cmd.handles[position]! };
    const n = i + 1;
    const attrs = auth.sessionAttributes;
    if (attrs.audit || attrs.auditExclusive || attrs.auditReset) failSession('ATTRIBUTES', n, 'audit sessions are not implemented');
    if (auth.sessionHandle === TPM_RS_PW) {
      if (!target) return failSession('VALUE', n, 'a password session must authorize a handle');
      const { handle } = target;
      if (auth.nonce.length !== 0) failSession('NONCE', n, 'a password session carries no nonce');
      const e = this.authEntity(handle, cmd.code);
      this.checkAuthValueUse(cmd, e, target);
      if (!constantTimeEqual(trimAuth(auth.hmac), trimAuth(e.authValue))) this.authFailure(e, n, 'wrong password');
      return { kind: 'password', key: new Uint8Array(0), responseHmac: false };
    }
    const session = this.sessions.get(auth.sessionHandle) ?? failSession('HANDLE', n, `session 0x${auth.sessionHandle.toString(16)} is not loaded`);
    if (auth.nonce.length < 16 || auth.nonce.length > HASH_SIZE[session.authHash]!)
      failSession('SIZE', n, 'nonceCaller must be 16 bytes up to the session digest size');
    session.nonceCaller = auth.nonce;
    const pHash = cpHash(session.authHash, cmd.code, names, cmd.paramBytes);
    const checkHmac = (key: Uint8Array, entity: AuthEntity | undefined): void => {
      // An unkeyed HMAC may be sent empty (Part 1, 19.6.5: "a NULL string HMAC is allowed").
      if (key.length === 0 && auth.hmac.length === 0) return;
      const expected = sessionHmac(session.authHash, key, pHash, session.nonceCaller, session.nonceTPM, TPMA_SESSION.toWord(attrs));
      if (!constantTimeEqual(expected, auth.hmac)) this.authFailure(entity, n, 'command HMAC does not verify');
    };
    if (!target) {
      // A session that authorizes nothing (audit/encryption only) proves knowledge of its session key.
      checkHmac(session.sessionKey, undefined);
      return {
        kind: session.kind === 'hmac' ? 'hmac' : 'policy',
        key: session.sessionKey,
        responseHmac: session.kind === 'hmac' || session.sessionKey.length > 0,
        session,
      };
    }
    const { handle } = target;
    const e = this.authEntity(handle, cmd.code);
    if (session.kind === 'trial') failSession('ATTRIBUTES', n, 'a trial policy session cannot authorize');
    if (session.kind === 'hmac') {
      this.checkAuthValueUse(cmd, e, target);
      const bound = session.bindName !== undefined && bytesEqual(session.bindName, e.name);
      const key = bound ? session.sessionKey : new Uint8Array([...session.sessionKey, ...trimAuth(e.authValue)]);
      checkHmac(key, e);
      return { kind: 'hmac', key, responseHmac: true, session };
    }
    // Policy session, in the reference implementation's order: lockout when the policy asks for the
    // authValue, whether a policy may authorize this handle here, PCRs unchanged since PolicyPCR, the
    // digest (and its hash) equal to the authPolicy, then the command code, ADMIN role and cpHash restrictions.
    if (session.passwordNeeded || session.authValueNeeded) this.checkLockout(e);
    if (!e.policyAvailable) fail('AUTH_UNAVAILABLE', `${cmd.schema.name}: handle 0x${handle.toString(16)} cannot be authorized with a policy here`);
    if (session.pcrCounter !== undefined && session.pcrCounter !== this.pcrUpdateCounter) fail('PCR_CHANGED', 'PCRs changed since PolicyPCR');
    if (e.authPolicy.length === 0 || !bytesEqual(session.policyDigest, e.authPolicy))
      failSession('POLICY_FAIL', n, 'policyDigest does not equal the authPolicy');
    if (e.policyAlg !== session.authHash) failSession('POLICY_FAIL', n, "the session hash is not the authPolicy's hash");
    if (session.commandCode !== undefined && session.commandCode !== cmd.code) failSession('POLICY_CC', n, 'the policy is restricted to another command');
    if (session.commandCode === undefined && SoftwareTpm.adminRole(cmd.code, target.position))
      failSession('POLICY_FAIL', n, 'ADMIN role needs a policy with PolicyCommandCode');
    if (session.cpHash !== undefined && !bytesEqual(session.cpHash, pHash))
      failSession('POLICY_FAIL', n, 'the policy is restricted to another command with other parameters (cpHashA)');
    if (session.passwordNeeded) {
      if (!constantTimeEqual(trimAuth(auth.hmac), trimAuth(e.authValue))) this.authFailure(e, n, 'wrong password (PolicyPassword)');
      return { kind: 'policy', key: session.sessionKey, responseHmac: false, session };
    }
    const key = session.authValueNeeded ? new Uint8Array([...session.sessionKey, ...trimAuth(e.authValue)]) : session.sessionKey;
    // Without PolicyAuthValue the HMAC proves no authValue, so its failure does not count towards lockout.
    checkHmac(key, session.authValueNeeded ? e : undefined);
    return { kind: 'policy', key, responseHmac: key.length > 0, session };
  }

  /**
   * Dictionary-attack protection (Part 1, 19.8.6): each authValue failure on a DA-protected entity
   * counts; at DA_MAX_TRIES the TPM is in lockout (TPM_RC_LOCKOUT) for such entities until tries are
   * forgiven, one per DA_RECOVERY_SECONDS of TPM clock. noDA entities answer TPM_RC_BAD_AUTH and do not count.
   */
  private authFailure(e: AuthEntity | undefined, n: number, why: string): never {
    if (!e || e.noDA) failSession('BAD_AUTH', n, why);
    this.forgiveTries();
    this.state.failedTries++;
    this.state.failureClockMs = this.clock();
    this.touch();
    return failSession('AUTH_FAIL', n, why);
  }

  private checkLockout(e: AuthEntity): void {
    if (e.noDA) return;
    this.forgiveTries();
    if (this.state.failedTries >= DA_MAX_TRIES) fail('LOCKOUT', 'dictionary-attack lockout: too many authorization failures');
  }

  private forgiveTries(): void {
    const interval = BigInt(DA_RECOVERY_SECONDS * 1000);
    const steps = (this.clock() - this.state.failureClockMs) / interval;
    if (steps <= 0n || this.state.failedTries === 0) return;
    this.state.failedTries = Math.max(0, this.state.failedTries - Number(steps));
    this.state.failureClockMs += steps * interval;
    this.touch();
  }

  /**
   * Before a password or HMAC session's value is checked, in the reference's order: the ADMIN role
   * of an adminWithPolicy object (or of an NV index) needs a policy session (TPM_RC_AUTH_TYPE); a
   * DA-protected entity in lockout refuses (TPM_RC_LOCKOUT); the USER role needs userWithAuth, or
   * for an NV index authRead/authWrite (TPM_RC_AUTH_UNAVAILABLE).
   */
  private checkAuthValueUse(cmd: CommandFrame, e: AuthEntity, target: { position: number; handle: number }): void {
    const admin = SoftwareTpm.adminRole(cmd.code, target.position);
    const where = `${cmd.schema.name}: handle 0x${target.handle.toString(16)}`;
    if (admin && e.adminWithPolicy) fail('AUTH_TYPE', `${where} needs a policy session for the ADMIN role`);
    this.checkLockout(e);
    if (!admin && !e.userWithAuth) fail('AUTH_UNAVAILABLE', `${where} cannot be authorized with its authValue here`);
  }

  /** The response authorization of one session (its new nonceTPM is already set). */
  private responseAuth(cmd: CommandFrame, s: AuthCommand, auth: Authorization, paramBytes: Uint8Array): AuthResponse {
    const session = auth.session;
    if (!session) return { nonce: new Uint8Array(0), sessionAttributes: TPMA_SESSION.make({ continueSession: true }), hmac: new Uint8Array(0) };
    const attrs = s.sessionAttributes;
    const hmac = auth.responseHmac
      ? sessionHmac(
          session.authHash,
          auth.key,
          rpHash(session.authHash, 0, cmd.code, paramBytes),
          session.nonceTPM,
          session.nonceCaller,
          TPMA_SESSION.toWord(attrs),
        )
      : new Uint8Array(0);
    if (!attrs.continueSession) this.sessions.delete(session.handle);
    else if (session.kind !== 'hmac') resetPolicy(session);
    return { nonce: session.nonceTPM, sessionAttributes: attrs, hmac };
  }

  // ---- sessions --------------------------------------------------------------------------------------

  addSession(init: Omit<SimSession, 'handle' | 'policyDigest' | 'commandCode' | 'cpHash' | 'pcrCounter' | 'authValueNeeded' | 'passwordNeeded'>): SimSession {
    if (this.sessions.size >= MAX_LOADED_SESSIONS) fail('SESSION_MEMORY', `all ${MAX_LOADED_SESSIONS} session slots are in use: flush sessions`);
    const base = (init.kind === 'hmac' ? TPM_HT.HMAC_SESSION : TPM_HT.POLICY_SESSION) << 24;
    let index = 0;
    const taken = new Set([...this.sessions.keys()].map((h) => h & 0xffffff));
    while (taken.has(index)) index++;
    const session: SimSession = {
      ...init,
      handle: (base | index) >>> 0,
      policyDigest: new Uint8Array(HASH_SIZE[init.authHash]!),
      commandCode: undefined,
      cpHash: undefined,
      pcrCounter: undefined,
      authValueNeeded: false,
      passwordNeeded: false,
    };
    this.sessions.set(session.handle, session);
    return session;
  }

  /** The policy or trial session named by a policy command's handle (TPM_RC_VALUE for an HMAC session). */
  policySession(handle: number, n: number): SimSession {
    const s = this.sessions.get(handle) ?? failHandle('HANDLE', n, 'no such session');
    // An HMAC session's handle is outside TPMI_SH_POLICY: it does not unmarshal (TPM_RC_VALUE), as in swtpm.
    if (s.kind === 'hmac') failHandle('VALUE', n, 'not a policy session');
    return s;
  }
}
