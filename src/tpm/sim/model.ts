/**
 * The software TPM's data model, shared by the dispatcher (simulator.ts) and the command handlers:
 * limits, loaded objects, sessions, authorization entities and the handler signature.
 */
import type { KeyObject } from 'node:crypto';
import { ByteWriter } from '../../bytes/index.ts';
import { HASH_SIZE, TPM_ALG, TPM_RH } from '../constants.ts';
import type { AnyCommand, CommandResponse, CommandSchema, HandleSpec } from '../commands.ts';
import type { DecodedCommand } from '../frame.ts';
import type { AnySchema, Sized, StructValue } from '../schema/index.ts';
import { decode } from '../schema/index.ts';
import { TPMA_NV, type TPMT_PUBLIC, type TPMT_SENSITIVE as Sensitive } from '../structures.ts';
import type { SoftwareTpm } from './simulator.ts';
import type { HierarchyName, NvIndexState } from './state.ts';

type Fields = Readonly<Record<string, AnySchema>>;

export const PCR_COUNT = 24;
export const PCR_BANKS = [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384] as const;
/**
 * PCRs whose changes do not advance pcrUpdateCounter (so do not invalidate a PolicyPCR already
 * run): the debug PCR 16 and the application PCR 23, as swtpm (libtpms) behaves.
 */
export const PCRS_WITHOUT_UPDATE_COUNT: ReadonlySet<number> = new Set([16, 23]);
export const MAX_TRANSIENT_OBJECTS = 3;
export const MAX_LOADED_SESSIONS = 3;
export const MAX_PERSISTENT_OBJECTS = 16;
export const MAX_NV_INDICES = 64;
/** RSA key sizes implemented (as swtpm's libtpms). */
export const RSA_KEY_BITS: readonly number[] = [1024, 2048, 3072];
/**
 * RSA primaries kept in the state file so that re-creating one (every boot creates its EK and SRK
 * again) skips the prime search. Bounded: a client creating primaries from ever new templates or
 * unique values must not grow the state file without end; the oldest entries go first.
 */
export const MAX_CACHED_RSA_PRIMARIES = 32;
/** TPM_PT_NV_BUFFER_MAX: the largest NV_Read/NV_Write chunk (the reference implementation's 1024). */
export const NV_BUFFER_MAX = 1024;
/** TPM_PT_NV_INDEX_MAX: the largest NV index. */
export const NV_INDEX_MAX = 2048;
/** Dictionary-attack parameters: the reference implementation's defaults (maxTries 3, recovery 1000 s). */
export const DA_MAX_TRIES = 3;
export const DA_RECOVERY_SECONDS = 1000;
export const FIRMWARE_VERSION = { high: 0x00010000, low: 0x00000001 } as const;

export interface SimObject {
  readonly public: Sized<TPMT_PUBLIC>;
  /** Null for a public-only object (LoadExternal of a public key). */
  readonly sensitive: Sensitive | null;
  readonly name: Uint8Array;
  readonly qualifiedName: Uint8Array;
  readonly hierarchy: number;
  privateKey?: KeyObject;
}

export type SessionKind = 'hmac' | 'policy' | 'trial';

export interface SimSession {
  readonly handle: number;
  readonly kind: SessionKind;
  readonly authHash: number;
  nonceTPM: Uint8Array;
  nonceCaller: Uint8Array;
  readonly sessionKey: Uint8Array;
  /** Parameter encryption algorithm chosen at StartAuthSession (TPM_ALG_NULL: none). */
  readonly symmetric: { readonly algorithm: number; readonly keyBits: number | null; readonly mode: number | null };
  /** Name of the entity the session is bound to (its authValue is already in the session key). */
  readonly bindName: Uint8Array | undefined;
  policyDigest: Uint8Array;
  commandCode: number | undefined;
  /** Set by PolicySecret's cpHashA: the policy authorizes only the command with exactly this cpHash. */
  cpHash: Uint8Array | undefined;
  /** pcrUpdateCounter when PolicyPCR ran: a PCR change afterwards fails the policy (TPM_RC_PCR_CHANGED). */
  pcrCounter: number | undefined;
  authValueNeeded: boolean;
  passwordNeeded: boolean;
}

/** What an authorization checks against: any handle that can be authorized. */
export interface AuthEntity {
  readonly name: Uint8Array;
  readonly authValue: Uint8Array;
  readonly authPolicy: Uint8Array;
  /** The hash of authPolicy (the entity's nameAlg): a policy session must use it. */
  readonly policyAlg: number;
  /** USER role may use the authValue (objects: userWithAuth). */
  readonly userWithAuth: boolean;
  /** ADMIN role needs a policy (objects: adminWithPolicy). */
  readonly adminWithPolicy: boolean;
  /** A policy session may authorize it here (NV indices: TPMA_NV_POLICYREAD/_POLICYWRITE; hierarchies: never, no policies are set). */
  readonly policyAvailable: boolean;
  /** Failures are TPM_RC_BAD_AUTH (no dictionary-attack counting) rather than TPM_RC_AUTH_FAIL. */
  readonly noDA: boolean;
}

export type AuthKind = 'password' | 'hmac' | 'policy';

/** One decoded command as a handler sees it (handles already resolved, authorization done). */
export interface Call {
  readonly cmd: DecodedCommand;
  readonly handles: readonly number[];
  readonly params: Readonly<Record<string, unknown>>;
  readonly authKinds: readonly AuthKind[];
}

/** Hierarchy handle → its name in the persistent state. */
export function hierarchyName(handle: number): HierarchyName | undefined {
  return handle === TPM_RH.OWNER ? 'owner' : handle === TPM_RH.ENDORSEMENT ? 'endorsement' : handle === TPM_RH.PLATFORM ? 'platform' : undefined;
}

/** A 32-bit big-endian word (handles as Names, command codes in policy digests). */
export const u32 = (v: number): Uint8Array => new ByteWriter(4).u32(v).finish();

/** The TPMA_NV attributes of a stored index. */
export function nvAttributes(index: NvIndexState): ReturnType<typeof TPMA_NV.make> {
  return decode(TPMA_NV, u32(index.attributeWord));
}

/** authValue comparison and HMAC keys ignore trailing zero octets (Part 1, 19.6.4.3). */
export function trimAuth(auth: Uint8Array): Uint8Array {
  let end = auth.length;
  while (end > 0 && auth[end - 1] === 0) end--;
  return auth.subarray(0, end);
}

export function resetPolicy(s: SimSession): void {
  s.policyDigest = new Uint8Array(HASH_SIZE[s.authHash]!);
  s.commandCode = undefined;
  s.cpHash = undefined;
  s.pcrCounter = undefined;
  s.authValueNeeded = false;
  s.passwordNeeded = false;
}

/** Handle values of a command by their schema names (e.g. `{ signHandle }` for Quote). */
export type HandleValues<C> = C extends CommandSchema<infer H, Fields, readonly string[], Fields> ? { readonly [K in H[number]['name']]: number } : never;
/** Decoded parameters of a command. */
export type ParamValues<C> = C extends CommandSchema<readonly HandleSpec[], infer P, readonly string[], Fields> ? StructValue<P> : never;

export type Handler = (tpm: SoftwareTpm, call: Call) => object;

/**
 * A typed command handler: handles by name, parameters as the schema decodes them, and the
 * response (response handles and parameters by name) the schema encodes.
 */
export function on<C extends AnyCommand>(
  schema: C,
  fn: (tpm: SoftwareTpm, h: HandleValues<C>, p: ParamValues<C>, call: Call) => CommandResponse<C>,
): readonly [number, Handler] {
  return [
    schema.code,
    (tpm, call) => {
      const handles = Object.fromEntries(schema.handles.map((spec, i) => [spec.name, call.handles[i]]));
      return fn(tpm, handles as HandleValues<C>, call.params as ParamValues<C>, call);
    },
  ];
}
