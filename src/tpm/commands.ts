/**
 * TPM 2.0 command schemas (TPM 2.0 Library Part 3: Commands; section numbers cite rev 1.59).
 * Each schema holds the command code, the handle area (and which handles need an
 * authorization session), the parameters and the response (handles + parameters), so that
 * `tpm.run(Quote, args)` type-checks `args` and infers the response type, and the software TPM
 * decodes commands and encodes responses with the very same declarations.
 */
import { TPM_CC, type TpmCc } from './constants.ts';
import { TpmError } from './errors.ts';
import { bool, struct, u16, u32, type AnySchema, type Schema, type StructValue } from './schema/index.ts';
import * as S from './structures.ts';

export interface HandleSpec {
  readonly name: string;
  /** True when the command's "Auth Index" column names this handle: one session per such handle. */
  readonly auth: boolean;
}

type Fields = Readonly<Record<string, AnySchema>>;

export interface CommandSchema<
  H extends readonly HandleSpec[] = readonly HandleSpec[],
  P extends Fields = Fields,
  RH extends readonly string[] = readonly string[],
  R extends Fields = Fields,
> {
  readonly name: string;
  readonly code: TpmCc;
  readonly handles: H;
  readonly params: Schema<StructValue<P>>;
  readonly responseHandles: RH;
  readonly response: Schema<StructValue<R>>;
  /** How many handles need authorization (sessions the caller must supply, in handle order). */
  readonly authCount: number;
}
export type AnyCommand = CommandSchema;

/** A handle argument: the number, or the number with its Name (needed for HMAC sessions' cpHash). */
export type HandleRef = number | { readonly handle: number; readonly name: Uint8Array };

export type CommandArgs<C> = C extends CommandSchema<infer H, infer P> ? { readonly [K in H[number]['name']]: HandleRef } & StructValue<P> : never;
export type CommandResponse<C> =
  C extends CommandSchema<readonly HandleSpec[], Fields, infer RH, infer R> ? { readonly [K in RH[number]]: number } & StructValue<R> : never;

function command<const H extends readonly HandleSpec[], const P extends Fields, const RH extends readonly string[], const R extends Fields>(def: {
  name: keyof typeof TPM_CC;
  handles: H;
  params: P;
  responseHandles: RH;
  response: R;
}): CommandSchema<H, P, RH, R> {
  return {
    name: `TPM2_${def.name}`,
    code: TPM_CC[def.name],
    handles: def.handles,
    params: struct(`TPM2_${def.name} parameters`, def.params),
    responseHandles: def.responseHandles,
    response: struct(`TPM2_${def.name} response`, def.response),
    authCount: def.handles.filter((h) => h.auth).length,
  };
}

const none = [] as const;
const withAuth = <const N extends string>(name: N) => ({ name, auth: true }) as const;
const noAuth = <const N extends string>(name: N) => ({ name, auth: false }) as const;

// ---- Start-up, testing, capabilities (Part 3, 9, 10, 30) ---------------------------------------

export const Startup = command({ name: 'Startup', handles: none, params: { startupType: S.TPM_SU_SCHEMA }, responseHandles: none, response: {} });
export const Shutdown = command({ name: 'Shutdown', handles: none, params: { shutdownType: S.TPM_SU_SCHEMA }, responseHandles: none, response: {} });
export const SelfTest = command({ name: 'SelfTest', handles: none, params: { fullTest: bool }, responseHandles: none, response: {} });
export const GetCapability = command({
  name: 'GetCapability',
  handles: none,
  params: { capability: S.TPM_CAP_SCHEMA, property: u32, propertyCount: u32 },
  responseHandles: none,
  response: { moreData: bool, capabilityData: S.TPMS_CAPABILITY_DATA },
});
export const TestParms = command({ name: 'TestParms', handles: none, params: { parameters: S.TPMT_PUBLIC_PARMS }, responseHandles: none, response: {} });
export const GetRandom = command({
  name: 'GetRandom',
  handles: none,
  params: { bytesRequested: u16 },
  responseHandles: none,
  response: { randomBytes: S.TPM2B_DIGEST },
});
export const ReadClock = command({ name: 'ReadClock', handles: none, params: {}, responseHandles: none, response: { currentTime: S.TPMS_TIME_INFO } });

// ---- PCRs (22) ------------------------------------------------------------------------------

export const PCR_Read = command({
  name: 'PCR_Read',
  handles: none,
  params: { pcrSelectionIn: S.TPML_PCR_SELECTION },
  responseHandles: none,
  response: { pcrUpdateCounter: u32, pcrSelectionOut: S.TPML_PCR_SELECTION, pcrValues: S.TPML_DIGEST },
});
export const PCR_Extend = command({
  name: 'PCR_Extend',
  handles: [withAuth('pcrHandle')],
  params: { digests: S.TPML_DIGEST_VALUES },
  responseHandles: none,
  response: {},
});
export const PCR_Event = command({
  name: 'PCR_Event',
  handles: [withAuth('pcrHandle')],
  params: { eventData: S.TPM2B_EVENT },
  responseHandles: none,
  response: { digests: S.TPML_DIGEST_VALUES },
});
export const PCR_Reset = command({ name: 'PCR_Reset', handles: [withAuth('pcrHandle')], params: {}, responseHandles: none, response: {} });

// ---- Objects (12, 24) ---------------------------------------------------------------------------

const creationParams = {
  inSensitive: S.TPM2B_SENSITIVE_CREATE,
  inPublic: S.TPM2B_PUBLIC,
  outsideInfo: S.TPM2B_DATA,
  creationPCR: S.TPML_PCR_SELECTION,
} as const;
const creationResult = { creationData: S.TPM2B_CREATION_DATA, creationHash: S.TPM2B_DIGEST, creationTicket: S.TPMT_TK_CREATION } as const;

export const CreatePrimary = command({
  name: 'CreatePrimary',
  handles: [withAuth('primaryHandle')],
  params: creationParams,
  responseHandles: ['objectHandle'],
  response: { outPublic: S.TPM2B_PUBLIC, ...creationResult, name: S.TPM2B_NAME },
});
export const Create = command({
  name: 'Create',
  handles: [withAuth('parentHandle')],
  params: creationParams,
  responseHandles: none,
  response: { outPrivate: S.TPM2B_PRIVATE, outPublic: S.TPM2B_PUBLIC, ...creationResult },
});
export const Load = command({
  name: 'Load',
  handles: [withAuth('parentHandle')],
  params: { inPrivate: S.TPM2B_PRIVATE, inPublic: S.TPM2B_PUBLIC },
  responseHandles: ['objectHandle'],
  response: { name: S.TPM2B_NAME },
});
export const LoadExternal = command({
  name: 'LoadExternal',
  handles: none,
  params: { inPrivate: S.TPM2B_SENSITIVE, inPublic: S.TPM2B_PUBLIC, hierarchy: u32 },
  responseHandles: ['objectHandle'],
  response: { name: S.TPM2B_NAME },
});
export const ReadPublic = command({
  name: 'ReadPublic',
  handles: [noAuth('objectHandle')],
  params: {},
  responseHandles: none,
  response: { outPublic: S.TPM2B_PUBLIC, name: S.TPM2B_NAME, qualifiedName: S.TPM2B_NAME },
});
export const Unseal = command({
  name: 'Unseal',
  handles: [withAuth('itemHandle')],
  params: {},
  responseHandles: none,
  response: { outData: S.TPM2B_SENSITIVE_DATA },
});
export const MakeCredential = command({
  name: 'MakeCredential',
  handles: [noAuth('handle')],
  params: { credential: S.TPM2B_DIGEST, objectName: S.TPM2B_NAME },
  responseHandles: none,
  response: { credentialBlob: S.TPM2B_ID_OBJECT, secret: S.TPM2B_ENCRYPTED_SECRET },
});
export const ActivateCredential = command({
  name: 'ActivateCredential',
  handles: [withAuth('activateHandle'), withAuth('keyHandle')],
  params: { credentialBlob: S.TPM2B_ID_OBJECT, secret: S.TPM2B_ENCRYPTED_SECRET },
  responseHandles: none,
  response: { certInfo: S.TPM2B_DIGEST },
});

// ---- Context management (28) -------------------------------------------------------------------

/** FlushContext's handle is a parameter, not a handle-area entry (Part 3, 28.4). */
export const FlushContext = command({ name: 'FlushContext', handles: none, params: { flushHandle: u32 }, responseHandles: none, response: {} });
export const ContextSave = command({
  name: 'ContextSave',
  handles: [noAuth('saveHandle')],
  params: {},
  responseHandles: none,
  response: { context: S.TPMS_CONTEXT },
});
export const ContextLoad = command({
  name: 'ContextLoad',
  handles: none,
  params: { context: S.TPMS_CONTEXT },
  responseHandles: ['loadedHandle'],
  response: {},
});
export const EvictControl = command({
  name: 'EvictControl',
  handles: [withAuth('auth'), noAuth('objectHandle')],
  params: { persistentHandle: u32 },
  responseHandles: none,
  response: {},
});

// ---- Attestation and signing (18, 20) ------------------------------------------------------------

export const Quote = command({
  name: 'Quote',
  handles: [withAuth('signHandle')],
  params: { qualifyingData: S.TPM2B_DATA, inScheme: S.TPMT_SIG_SCHEME, PCRselect: S.TPML_PCR_SELECTION },
  responseHandles: none,
  response: { quoted: S.TPM2B_ATTEST, signature: S.TPMT_SIGNATURE },
});
export const Certify = command({
  name: 'Certify',
  handles: [withAuth('objectHandle'), withAuth('signHandle')],
  params: { qualifyingData: S.TPM2B_DATA, inScheme: S.TPMT_SIG_SCHEME },
  responseHandles: none,
  response: { certifyInfo: S.TPM2B_ATTEST, signature: S.TPMT_SIGNATURE },
});
export const VerifySignature = command({
  name: 'VerifySignature',
  handles: [noAuth('keyHandle')],
  params: { digest: S.TPM2B_DIGEST, signature: S.TPMT_SIGNATURE },
  responseHandles: none,
  response: { validation: S.TPMT_TK_VERIFIED },
});
export const Sign = command({
  name: 'Sign',
  handles: [withAuth('keyHandle')],
  params: { digest: S.TPM2B_DIGEST, inScheme: S.TPMT_SIG_SCHEME, validation: S.TPMT_TK_HASHCHECK },
  responseHandles: none,
  response: { signature: S.TPMT_SIGNATURE },
});
export const HMAC = command({
  name: 'HMAC',
  handles: [withAuth('handle')],
  params: { buffer: S.TPM2B_MAX_BUFFER, hashAlg: S.TPMI_ALG_HASH_NULL },
  responseHandles: none,
  response: { outHMAC: S.TPM2B_DIGEST },
});
export const Hash = command({
  name: 'Hash',
  handles: none,
  params: { data: S.TPM2B_MAX_BUFFER, hashAlg: S.TPMI_ALG_HASH, hierarchy: u32 },
  responseHandles: none,
  response: { outHash: S.TPM2B_DIGEST, validation: S.TPMT_TK_HASHCHECK },
});

// ---- Sessions and policy (11, 23) -----------------------------------------------------------------

export const StartAuthSession = command({
  name: 'StartAuthSession',
  handles: [noAuth('tpmKey'), noAuth('bind')],
  params: {
    nonceCaller: S.TPM2B_NONCE,
    encryptedSalt: S.TPM2B_ENCRYPTED_SECRET,
    sessionType: S.TPM_SE_SCHEMA,
    symmetric: S.TPMT_SYM_DEF,
    authHash: S.TPMI_ALG_HASH,
  },
  responseHandles: ['sessionHandle'],
  response: { nonceTPM: S.TPM2B_NONCE },
});
export const PolicyRestart = command({ name: 'PolicyRestart', handles: [noAuth('sessionHandle')], params: {}, responseHandles: none, response: {} });
export const PolicyPCR = command({
  name: 'PolicyPCR',
  handles: [noAuth('policySession')],
  params: { pcrDigest: S.TPM2B_DIGEST, pcrs: S.TPML_PCR_SELECTION },
  responseHandles: none,
  response: {},
});
/** `expiration` is an INT32 on the wire; it is carried as its 32-bit two's-complement pattern (0: no ticket). */
export const PolicySecret = command({
  name: 'PolicySecret',
  handles: [withAuth('authHandle'), noAuth('policySession')],
  params: { nonceTPM: S.TPM2B_NONCE, cpHashA: S.TPM2B_DIGEST, policyRef: S.TPM2B_NONCE, expiration: u32 },
  responseHandles: none,
  response: { timeout: S.TPM2B_TIMEOUT, policyTicket: S.TPMT_TK_AUTH },
});
export const PolicyOR = command({
  name: 'PolicyOR',
  handles: [noAuth('policySession')],
  params: { pHashList: S.TPML_DIGEST },
  responseHandles: none,
  response: {},
});
export const PolicyGetDigest = command({
  name: 'PolicyGetDigest',
  handles: [noAuth('policySession')],
  params: {},
  responseHandles: none,
  response: { policyDigest: S.TPM2B_DIGEST },
});
export const PolicyAuthorize = command({
  name: 'PolicyAuthorize',
  handles: [noAuth('policySession')],
  params: { approvedPolicy: S.TPM2B_DIGEST, policyRef: S.TPM2B_NONCE, keySign: S.TPM2B_NAME, checkTicket: S.TPMT_TK_VERIFIED },
  responseHandles: none,
  response: {},
});
/** PolicyNV's authHandle authorizes reading the index (the index itself, or the owner/platform). */
export const PolicyNV = command({
  name: 'PolicyNV',
  handles: [withAuth('authHandle'), noAuth('nvIndex'), noAuth('policySession')],
  params: { operandB: S.TPM2B_OPERAND, offset: u16, operation: u16 },
  responseHandles: none,
  response: {},
});
export const PolicyCommandCode = command({
  name: 'PolicyCommandCode',
  handles: [noAuth('policySession')],
  params: { code: u32 },
  responseHandles: none,
  response: {},
});
export const PolicyAuthValue = command({ name: 'PolicyAuthValue', handles: [noAuth('policySession')], params: {}, responseHandles: none, response: {} });
export const PolicyPassword = command({ name: 'PolicyPassword', handles: [noAuth('policySession')], params: {}, responseHandles: none, response: {} });

// ---- NV (31) ---------------------------------------------------------------------------------------

export const NV_DefineSpace = command({
  name: 'NV_DefineSpace',
  handles: [withAuth('authHandle')],
  params: { auth: S.TPM2B_AUTH, publicInfo: S.TPM2B_NV_PUBLIC },
  responseHandles: none,
  response: {},
});
export const NV_UndefineSpace = command({
  name: 'NV_UndefineSpace',
  handles: [withAuth('authHandle'), noAuth('nvIndex')],
  params: {},
  responseHandles: none,
  response: {},
});
export const NV_Write = command({
  name: 'NV_Write',
  handles: [withAuth('authHandle'), noAuth('nvIndex')],
  params: { data: S.TPM2B_MAX_NV_BUFFER, offset: u16 },
  responseHandles: none,
  response: {},
});
export const NV_Read = command({
  name: 'NV_Read',
  handles: [withAuth('authHandle'), noAuth('nvIndex')],
  params: { size: u16, offset: u16 },
  responseHandles: none,
  response: { data: S.TPM2B_MAX_NV_BUFFER },
});
export const NV_Extend = command({
  name: 'NV_Extend',
  handles: [withAuth('authHandle'), noAuth('nvIndex')],
  params: { data: S.TPM2B_MAX_NV_BUFFER },
  responseHandles: none,
  response: {},
});
export const NV_Increment = command({
  name: 'NV_Increment',
  handles: [withAuth('authHandle'), noAuth('nvIndex')],
  params: {},
  responseHandles: none,
  response: {},
});
export const NV_ReadPublic = command({
  name: 'NV_ReadPublic',
  handles: [noAuth('nvIndex')],
  params: {},
  responseHandles: none,
  response: { nvPublic: S.TPM2B_NV_PUBLIC, nvName: S.TPM2B_NAME },
});

/** Every command Vouch can send (and the software TPM can serve). */
export const allCommandSchemas: readonly AnyCommand[] = [
  Startup,
  Shutdown,
  SelfTest,
  GetCapability,
  TestParms,
  GetRandom,
  ReadClock,
  PCR_Read,
  PCR_Extend,
  PCR_Event,
  PCR_Reset,
  CreatePrimary,
  Create,
  Load,
  LoadExternal,
  ReadPublic,
  Unseal,
  MakeCredential,
  ActivateCredential,
  FlushContext,
  ContextSave,
  ContextLoad,
  EvictControl,
  Quote,
  Certify,
  VerifySignature,
  Sign,
  HMAC,
  Hash,
  StartAuthSession,
  PolicyRestart,
  PolicyPCR,
  PolicySecret,
  PolicyOR,
  PolicyGetDigest,
  PolicyAuthorize,
  PolicyNV,
  PolicyCommandCode,
  PolicyAuthValue,
  PolicyPassword,
  NV_DefineSpace,
  NV_UndefineSpace,
  NV_Write,
  NV_Read,
  NV_Extend,
  NV_Increment,
  NV_ReadPublic,
];

const byCode = new Map<number, AnyCommand>(allCommandSchemas.map((c) => [c.code, c]));

/** The schema for a command code, or ERR_TPM_UNKNOWN_COMMAND. */
export function commandByCode(code: number): AnyCommand {
  const c = byCode.get(code);
  if (!c) throw new TpmError('ERR_TPM_UNKNOWN_COMMAND', `no schema for command code 0x${code.toString(16).padStart(8, '0')}`, { commandCode: code });
  return c;
}
