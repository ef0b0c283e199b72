/**
 * TPM 2.0 constants, by the names of TPM 2.0 Library Part 2 (Structures), section 6
 * (TPM_ALG_ID 6.3, TPM_ECC_CURVE 6.4, TPM_CC 6.5, TPM_ST 6.9, TPM_SU 6.10, TPM_SE 6.11,
 * TPM_CAP 6.12, TPM_PT 6.13, TPM_RH 7.4) and TCG EK Credential Profile 2.0 (NV indices).
 */

import { HashAlgorithm } from '../hash/index.ts';

export const TPM_ALG = {
  ERROR: 0x0000,
  RSA: 0x0001,
  TDES: 0x0003,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  SHA3_256: 0x0027,
  SHA3_384: 0x0028,
  SHA3_512: 0x0029,
  CMAC: 0x003f,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;
export type TpmAlg = (typeof TPM_ALG)[keyof typeof TPM_ALG];

export const TPM_ECC_CURVE = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

export const TPM_CC = {
  NV_UndefineSpaceSpecial: 0x0000011f,
  EvictControl: 0x00000120,
  HierarchyControl: 0x00000121,
  NV_UndefineSpace: 0x00000122,
  ChangeEPS: 0x00000124,
  ChangePPS: 0x00000125,
  Clear: 0x00000126,
  ClearControl: 0x00000127,
  ClockSet: 0x00000128,
  HierarchyChangeAuth: 0x00000129,
  NV_DefineSpace: 0x0000012a,
  PCR_Allocate: 0x0000012b,
  PCR_SetAuthPolicy: 0x0000012c,
  PP_Commands: 0x0000012d,
  SetPrimaryPolicy: 0x0000012e,
  CreatePrimary: 0x00000131,
  NV_GlobalWriteLock: 0x00000132,
  GetCommandAuditDigest: 0x00000133,
  NV_Increment: 0x00000134,
  NV_SetBits: 0x00000135,
  NV_Extend: 0x00000136,
  NV_Write: 0x00000137,
  NV_WriteLock: 0x00000138,
  DictionaryAttackLockReset: 0x00000139,
  DictionaryAttackParameters: 0x0000013a,
  NV_ChangeAuth: 0x0000013b,
  PCR_Event: 0x0000013c,
  PCR_Reset: 0x0000013d,
  SequenceComplete: 0x0000013e,
  SetCommandCodeAuditStatus: 0x00000140,
  IncrementalSelfTest: 0x00000142,
  SelfTest: 0x00000143,
  Startup: 0x00000144,
  Shutdown: 0x00000145,
  StirRandom: 0x00000146,
  ActivateCredential: 0x00000147,
  Certify: 0x00000148,
  PolicyNV: 0x00000149,
  CertifyCreation: 0x0000014a,
  Duplicate: 0x0000014b,
  GetTime: 0x0000014c,
  GetSessionAuditDigest: 0x0000014d,
  NV_Read: 0x0000014e,
  NV_ReadLock: 0x0000014f,
  ObjectChangeAuth: 0x00000150,
  PolicySecret: 0x00000151,
  Rewrap: 0x00000152,
  Create: 0x00000153,
  ECDH_ZGen: 0x00000154,
  HMAC: 0x00000155,
  Import: 0x00000156,
  Load: 0x00000157,
  Quote: 0x00000158,
  RSA_Decrypt: 0x00000159,
  HMAC_Start: 0x0000015b,
  SequenceUpdate: 0x0000015c,
  Sign: 0x0000015d,
  Unseal: 0x0000015e,
  PolicySigned: 0x00000160,
  ContextLoad: 0x00000161,
  ContextSave: 0x00000162,
  ECDH_KeyGen: 0x00000163,
  EncryptDecrypt: 0x00000164,
  FlushContext: 0x00000165,
  LoadExternal: 0x00000167,
  MakeCredential: 0x00000168,
  NV_ReadPublic: 0x00000169,
  PolicyAuthorize: 0x0000016a,
  PolicyAuthValue: 0x0000016b,
  PolicyCommandCode: 0x0000016c,
  PolicyCounterTimer: 0x0000016d,
  PolicyCpHash: 0x0000016e,
  PolicyLocality: 0x0000016f,
  PolicyNameHash: 0x00000170,
  PolicyOR: 0x00000171,
  PolicyTicket: 0x00000172,
  ReadPublic: 0x00000173,
  RSA_Encrypt: 0x00000174,
  StartAuthSession: 0x00000176,
  VerifySignature: 0x00000177,
  ECC_Parameters: 0x00000178,
  GetCapability: 0x0000017a,
  GetRandom: 0x0000017b,
  GetTestResult: 0x0000017c,
  Hash: 0x0000017d,
  PCR_Read: 0x0000017e,
  PolicyPCR: 0x0000017f,
  PolicyRestart: 0x00000180,
  ReadClock: 0x00000181,
  PCR_Extend: 0x00000182,
  PCR_SetAuthValue: 0x00000183,
  NV_Certify: 0x00000184,
  EventSequenceComplete: 0x00000185,
  HashSequenceStart: 0x00000186,
  PolicyPhysicalPresence: 0x00000187,
  PolicyDuplicationSelect: 0x00000188,
  PolicyGetDigest: 0x00000189,
  TestParms: 0x0000018a,
  Commit: 0x0000018b,
  PolicyPassword: 0x0000018c,
  ZGen_2Phase: 0x0000018d,
  EC_Ephemeral: 0x0000018e,
  PolicyNvWritten: 0x0000018f,
  PolicyTemplate: 0x00000190,
  CreateLoaded: 0x00000191,
  PolicyAuthorizeNV: 0x00000192,
  EncryptDecrypt2: 0x00000193,
} as const;
export type TpmCc = (typeof TPM_CC)[keyof typeof TPM_CC];

export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
  FU_MANIFEST: 0x8029,
} as const;

export const TPM_SU = { CLEAR: 0x0000, STATE: 0x0001 } as const;

export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

export const TPM_CAP = {
  ALGS: 0x00000000,
  HANDLES: 0x00000001,
  COMMANDS: 0x00000002,
  PP_COMMANDS: 0x00000003,
  AUDIT_COMMANDS: 0x00000004,
  PCRS: 0x00000005,
  TPM_PROPERTIES: 0x00000006,
  PCR_PROPERTIES: 0x00000007,
  ECC_CURVES: 0x00000008,
  AUTH_POLICIES: 0x00000009,
} as const;

/** TPM_PT (Part 2, 6.13): PT_FIXED group starts at 0x100, PT_VAR at 0x200. */
export const TPM_PT = {
  FAMILY_INDICATOR: 0x100,
  LEVEL: 0x101,
  REVISION: 0x102,
  DAY_OF_YEAR: 0x103,
  YEAR: 0x104,
  MANUFACTURER: 0x105,
  VENDOR_STRING_1: 0x106,
  VENDOR_STRING_2: 0x107,
  VENDOR_STRING_3: 0x108,
  VENDOR_STRING_4: 0x109,
  VENDOR_TPM_TYPE: 0x10a,
  FIRMWARE_VERSION_1: 0x10b,
  FIRMWARE_VERSION_2: 0x10c,
  INPUT_BUFFER: 0x10d,
  HR_TRANSIENT_MIN: 0x10e,
  HR_PERSISTENT_MIN: 0x10f,
  HR_LOADED_MIN: 0x110,
  ACTIVE_SESSIONS_MAX: 0x111,
  PCR_COUNT: 0x112,
  PCR_SELECT_MIN: 0x113,
  CONTEXT_GAP_MAX: 0x114,
  NV_COUNTERS_MAX: 0x116,
  NV_INDEX_MAX: 0x117,
  MEMORY: 0x118,
  CLOCK_UPDATE: 0x119,
  CONTEXT_HASH: 0x11a,
  CONTEXT_SYM: 0x11b,
  CONTEXT_SYM_SIZE: 0x11c,
  ORDERLY_COUNT: 0x11d,
  MAX_COMMAND_SIZE: 0x11e,
  MAX_RESPONSE_SIZE: 0x11f,
  MAX_DIGEST: 0x120,
  MAX_OBJECT_CONTEXT: 0x121,
  MAX_SESSION_CONTEXT: 0x122,
  PS_FAMILY_INDICATOR: 0x123,
  PS_LEVEL: 0x124,
  PS_REVISION: 0x125,
  PS_DAY_OF_YEAR: 0x126,
  PS_YEAR: 0x127,
  SPLIT_MAX: 0x128,
  TOTAL_COMMANDS: 0x129,
  LIBRARY_COMMANDS: 0x12a,
  VENDOR_COMMANDS: 0x12b,
  NV_BUFFER_MAX: 0x12c,
  MODES: 0x12d,
  MAX_CAP_BUFFER: 0x12e,
  PERMANENT: 0x200,
  STARTUP_CLEAR: 0x201,
  HR_NV_INDEX: 0x202,
  HR_LOADED: 0x203,
  HR_LOADED_AVAIL: 0x204,
  HR_ACTIVE: 0x205,
  HR_ACTIVE_AVAIL: 0x206,
  HR_TRANSIENT_AVAIL: 0x207,
  HR_PERSISTENT: 0x208,
  HR_PERSISTENT_AVAIL: 0x209,
  NV_COUNTERS: 0x20a,
  NV_COUNTERS_AVAIL: 0x20b,
  ALGORITHM_SET: 0x20c,
  LOADED_CURVES: 0x20d,
  LOCKOUT_COUNTER: 0x20e,
  MAX_AUTH_FAIL: 0x20f,
  LOCKOUT_INTERVAL: 0x210,
  LOCKOUT_RECOVERY: 0x211,
  NV_WRITE_RECOVERY: 0x212,
  AUDIT_COUNTER_0: 0x213,
  AUDIT_COUNTER_1: 0x214,
} as const;

/** Permanent handles (Part 2, 7.4) and handle-range first bytes (TPM_HT, 7.2). */
export const TPM_RH = {
  SRK: 0x40000000,
  OWNER: 0x40000001,
  REVOKE: 0x40000002,
  TRANSPORT: 0x40000003,
  OPERATOR: 0x40000004,
  ADMIN: 0x40000005,
  EK: 0x40000006,
  NULL: 0x40000007,
  UNASSIGNED: 0x40000008,
  PW: 0x40000009,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
  PLATFORM_NV: 0x4000000d,
} as const;
/** TPM_RS_PW: the password "session" handle of Part 1, 19.8.4. */
export const TPM_RS_PW = 0x40000009;

export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
} as const;

/** TPMS_ATTEST.magic (Part 2, 6.2): proves the structure was made by the TPM itself. */
export const TPM_GENERATED_VALUE = 0xff544347;

/** NV indices of EK certificates (TCG EK Credential Profile 2.0, 2.2.1.4; low range + P-384 high range). */
export const EK_CERT_NV_INDEX = {
  RSA2048: 0x01c00002,
  ECC_P256: 0x01c0000a,
  ECC_P384: 0x01c00016,
} as const;

/** Sizes from the reference implementation's TpmProfile (implementation-dependent maxima we accept). */
export const TPM_LIMITS = {
  /** Largest digest any supported hash produces (SHA-512). */
  MAX_DIGEST: 64,
  /** Largest RSA modulus / ciphertext we accept: 4096 bits. */
  MAX_RSA_KEY_BYTES: 512,
  /** P-521 coordinates are 66 bytes. */
  MAX_ECC_KEY_BYTES: 66,
  MAX_SYM_DATA: 128,
  MAX_SYM_KEY_BYTES: 32,
  /** TPM2B_MAX_BUFFER / TPM2B_MAX_NV_BUFFER. */
  MAX_BUFFER: 2048,
  MAX_NV_BUFFER: 2048,
  /** TPMS_PCR_SELECT.sizeofSelect: 3 for 24 PCRs; we accept up to 32 PCRs. */
  PCR_SELECT_MAX: 4,
  /** TPML_PCR_SELECTION: one entry per hash bank. */
  MAX_PCR_BANKS: 16,
  /** TPML_DIGEST: at most 8 digests (Part 2, 10.9.2). */
  MAX_DIGEST_LIST: 8,
  /** PCR_Read may be asked for more; TPML_DIGEST_VALUES. */
  MAX_DIGEST_VALUES: 16,
  /** Capability lists: generous bound on entries per GetCapability answer. */
  MAX_CAP_ENTRIES: 1024,
  MAX_CONTEXT_SIZE: 5120,
  MAX_ID_OBJECT: 256,
  MAX_ENCRYPTED_SECRET: 512,
  MAX_PUBLIC: 1024,
  MAX_PRIVATE: 2048,
  MAX_SENSITIVE: 1024,
  MAX_ATTEST: 2048,
  MAX_CREATION_DATA: 2048,
  MAX_NAME: 2 + 64,
  MAX_OR_BRANCHES: 8,
  /** Whole command/response size we accept on the wire (TPM_PT_MAX_RESPONSE_SIZE is 4096 on most TPMs). */
  MAX_RESPONSE: 8192,
  MAX_COMMAND: 8192,
  MAX_SESSIONS: 3,
} as const;

/** Digest size of each TPM hash algorithm, from the one hash table (src/hash). */
export const HASH_SIZE: Readonly<Record<number, number>> = Object.fromEntries(Object.values(HashAlgorithm).map((a) => [a.id, a.size]));

/** node:crypto names of the TPM hash algorithms the TPM layer computes with (SHA-1 and SHA-2; not SM3 or SHA-3). */
export const HASH_NODE_NAME: Readonly<Record<number, string>> = Object.fromEntries(
  [HashAlgorithm.sha1, HashAlgorithm.sha256, HashAlgorithm.sha384, HashAlgorithm.sha512].map((a) => [a.id, a.nodeName]),
);

function reverse(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const m = new Map<number, string>();
  for (const [k, v] of Object.entries(table)) if (!m.has(v)) m.set(v, k);
  return m;
}
const algNames = reverse(TPM_ALG);
const ccNames = reverse(TPM_CC);

/** "TPM_ALG_SHA256", or the hex value when unknown (for messages). */
export function algName(alg: number): string {
  const n = algNames.get(alg);
  return n ? `TPM_ALG_${n}` : `0x${alg.toString(16).padStart(4, '0')}`;
}
/** The short lowercase name tpm2-tools uses on its command lines and in its output: sha256, rsassa, ecdsa. */
export function algLabel(alg: number): string {
  return algName(alg)
    .replace(/^TPM_ALG_/, '')
    .toLowerCase();
}
export function ccName(cc: number): string {
  const n = ccNames.get(cc);
  return n ? `TPM2_${n}` : `0x${cc.toString(16).padStart(8, '0')}`;
}
/** Accepts "sha256", "SHA256", "TPM_ALG_SHA256" and returns the id, or undefined. */
export function hashAlgFromName(name: string): number | undefined {
  const key = name
    .toUpperCase()
    .replace(/^TPM_ALG_/, '')
    .replace('-', '');
  const v = (TPM_ALG as Record<string, number>)[key];
  return v !== undefined && HASH_SIZE[v] !== undefined ? v : undefined;
}

/** TPM_EO (Part 2, 6.8): how TPM2_PolicyNV compares NV contents with operandB. */
export const TPM_EO = {
  EQ: 0x0000,
  NEQ: 0x0001,
  SIGNED_GT: 0x0002,
  UNSIGNED_GT: 0x0003,
  SIGNED_LT: 0x0004,
  UNSIGNED_LT: 0x0005,
  SIGNED_GE: 0x0006,
  UNSIGNED_GE: 0x0007,
  SIGNED_LE: 0x0008,
  UNSIGNED_LE: 0x0009,
  BITSET: 0x000a,
  BITCLEAR: 0x000b,
} as const;

/** TPM_NT (Part 2, 13.4): the kind of an NV index, in TPMA_NV's `nt` field. */
export const TPM_NT = { ORDINARY: 0x0, COUNTER: 0x1, BITS: 0x2, EXTEND: 0x4, PIN_FAIL: 0x8, PIN_PASS: 0x9 } as const;
