/**
 * TPM 2.0 structures, declared once as schemas (TPM 2.0 Library Part 2: Structures, rev 1.59;
 * section numbers cite that document). Decoding and encoding both come from these declarations.
 */
import { TPM_ALG, TPM_CAP, TPM_ECC_CURVE, TPM_LIMITS as L, TPM_ST, HASH_SIZE, algName } from './constants.ts';
import {
  bits,
  bool,
  bytes,
  empty,
  enumerated,
  fixed,
  list,
  optionalSized,
  sized,
  struct,
  u16,
  u32,
  u64,
  union,
  type Infer,
  type Schema,
} from './schema/index.ts';

const A = TPM_ALG;

function alg<const V extends number>(name: string, values: readonly V[]): Schema<V> {
  return enumerated(name, 2, values, 'ERR_TPM_BAD_ALG', algName);
}

// ---- Algorithm interfaces (9.x) ------------------------------------------------------------

const hashAlgs = [A.SHA1, A.SHA256, A.SHA384, A.SHA512, A.SM3_256] as const;
/** TPMI_ALG_HASH (9.27). */
export const TPMI_ALG_HASH = alg('TPMI_ALG_HASH', hashAlgs);
/** TPMI_ALG_HASH+ : hash or TPM_ALG_NULL. */
export const TPMI_ALG_HASH_NULL = alg('TPMI_ALG_HASH+', [...hashAlgs, A.NULL]);
/** TPMI_ALG_PUBLIC (12.2.2). */
export const TPMI_ALG_PUBLIC = alg('TPMI_ALG_PUBLIC', [A.RSA, A.KEYEDHASH, A.ECC, A.SYMCIPHER]);
/** A TPM_ALG_ID with no restriction (TPMS_CREATION_DATA.parentNameAlg, audit digestAlg). */
export const TPM_ALG_ID = u16;

/** TPMI_ECC_CURVE (11.2.5.5). */
export const TPMI_ECC_CURVE = enumerated(
  'TPMI_ECC_CURVE',
  2,
  [
    TPM_ECC_CURVE.NIST_P192,
    TPM_ECC_CURVE.NIST_P224,
    TPM_ECC_CURVE.NIST_P256,
    TPM_ECC_CURVE.NIST_P384,
    TPM_ECC_CURVE.NIST_P521,
    TPM_ECC_CURVE.BN_P256,
    TPM_ECC_CURVE.BN_P638,
    TPM_ECC_CURVE.SM2_P256,
  ],
  'ERR_TPM_BAD_VALUE',
);

// ---- Buffers (10.4) ------------------------------------------------------------------------

export const TPM2B_DIGEST = bytes('TPM2B_DIGEST', L.MAX_DIGEST);
export const TPM2B_NONCE = TPM2B_DIGEST;
export const TPM2B_AUTH = TPM2B_DIGEST;
/** TPM2B_OPERAND (10.4.6): PolicyNV's comparison value, at most one digest. */
export const TPM2B_OPERAND = TPM2B_DIGEST;
/** TPM2B_DATA holds up to sizeof(TPMT_HA). */
export const TPM2B_DATA = bytes('TPM2B_DATA', L.MAX_DIGEST + 2);
export const TPM2B_EVENT = bytes('TPM2B_EVENT', 1024);
export const TPM2B_MAX_BUFFER = bytes('TPM2B_MAX_BUFFER', L.MAX_BUFFER);
export const TPM2B_MAX_NV_BUFFER = bytes('TPM2B_MAX_NV_BUFFER', L.MAX_NV_BUFFER);
export const TPM2B_TIMEOUT = bytes('TPM2B_TIMEOUT', 8);
/** TPM2B_NAME: a handle (4 bytes) or nameAlg ‖ digest (10.5.3). */
export const TPM2B_NAME = bytes('TPM2B_NAME', L.MAX_NAME);
export const TPM2B_PUBLIC_KEY_RSA = bytes('TPM2B_PUBLIC_KEY_RSA', L.MAX_RSA_KEY_BYTES);
export const TPM2B_PRIVATE_KEY_RSA = bytes('TPM2B_PRIVATE_KEY_RSA', L.MAX_RSA_KEY_BYTES / 2);
export const TPM2B_ECC_PARAMETER = bytes('TPM2B_ECC_PARAMETER', L.MAX_ECC_KEY_BYTES);
export const TPM2B_SENSITIVE_DATA = bytes('TPM2B_SENSITIVE_DATA', L.MAX_SYM_DATA);
export const TPM2B_SYM_KEY = bytes('TPM2B_SYM_KEY', L.MAX_SYM_KEY_BYTES);
/** Opaque to the caller: encrypted by the parent (12.3.7). */
export const TPM2B_PRIVATE = bytes('TPM2B_PRIVATE', L.MAX_PRIVATE);
/** MakeCredential output: integrityHMAC ‖ encIdentity (12.4.3). */
export const TPM2B_ID_OBJECT = bytes('TPM2B_ID_OBJECT', L.MAX_ID_OBJECT);
/** An encrypted seed/salt (11.4.33). */
export const TPM2B_ENCRYPTED_SECRET = bytes('TPM2B_ENCRYPTED_SECRET', L.MAX_ENCRYPTED_SECRET);
export const TPM2B_CONTEXT_DATA = bytes('TPM2B_CONTEXT_DATA', L.MAX_CONTEXT_SIZE);

// ---- Hash, PCR selections, digests (10.3, 10.6, 10.9) ---------------------------------------

function digestOf(hash: number): Schema<Uint8Array> {
  return fixed(`digest(${algName(hash)})`, HASH_SIZE[hash]!);
}

/** TPMT_HA (10.3.2): hashAlg then a digest of exactly that hash's size. */
export const TPMT_HA = struct('TPMT_HA', {
  hashAlg: TPMI_ALG_HASH_NULL,
  digest: union('TPMU_HA', 'hashAlg', {
    [A.SHA1]: digestOf(A.SHA1),
    [A.SHA256]: digestOf(A.SHA256),
    [A.SHA384]: digestOf(A.SHA384),
    [A.SHA512]: digestOf(A.SHA512),
    [A.SM3_256]: digestOf(A.SM3_256),
    [A.NULL]: empty,
  }),
});

/** TPMS_PCR_SELECTION (10.6.2): a hash bank and a bitmap (PCR n is bit n%8 of byte n/8). */
export const TPMS_PCR_SELECTION = struct('TPMS_PCR_SELECTION', {
  hash: TPMI_ALG_HASH,
  pcrSelect: bytes('TPMS_PCR_SELECT', L.PCR_SELECT_MAX, 1),
});
export const TPML_PCR_SELECTION = list('TPML_PCR_SELECTION', TPMS_PCR_SELECTION, L.MAX_PCR_BANKS);
export const TPML_DIGEST = list('TPML_DIGEST', TPM2B_DIGEST, L.MAX_DIGEST_LIST);
export const TPML_DIGEST_VALUES = list('TPML_DIGEST_VALUES', TPMT_HA, L.MAX_DIGEST_VALUES);

// ---- Attributes (8.x) ------------------------------------------------------------------------

/** TPMA_OBJECT (8.3). */
export const TPMA_OBJECT = bits('TPMA_OBJECT', 4, {
  fixedTPM: 1,
  stClear: 2,
  fixedParent: 4,
  sensitiveDataOrigin: 5,
  userWithAuth: 6,
  adminWithPolicy: 7,
  firmwareLimited: 8,
  svnLimited: 9,
  noDA: 10,
  encryptedDuplication: 11,
  restricted: 16,
  decrypt: 17,
  sign: 18,
  x509sign: 19,
});

/** TPMA_SESSION (8.4). */
export const TPMA_SESSION = bits('TPMA_SESSION', 1, {
  continueSession: 0,
  auditExclusive: 1,
  auditReset: 2,
  decrypt: 5,
  encrypt: 6,
  audit: 7,
});

/** TPMA_LOCALITY (8.5): localities 0–4 as flags; values 32–255 as extended. */
export const TPMA_LOCALITY = bits('TPMA_LOCALITY', 1, { zero: 0, one: 1, two: 2, three: 3, four: 4 }, { extended: { shift: 5, width: 3 } });

/** TPMA_NV (13.4); `nt` is the TPM_NT index type (ordinary 0, counter 1, bits 2, extend 4, pin fail 8, pin pass 9). */
export const TPMA_NV = bits(
  'TPMA_NV',
  4,
  {
    ppWrite: 0,
    ownerWrite: 1,
    authWrite: 2,
    policyWrite: 3,
    policyDelete: 10,
    writeLocked: 11,
    writeAll: 12,
    writeDefine: 13,
    writeStClear: 14,
    globalLock: 15,
    ppRead: 16,
    ownerRead: 17,
    authRead: 18,
    policyRead: 19,
    noDA: 25,
    orderly: 26,
    clearStClear: 27,
    readLocked: 28,
    written: 29,
    platformCreate: 30,
    readStClear: 31,
  },
  { nt: { shift: 4, width: 4 } },
);

/** TPMA_ALGORITHM (8.2). */
export const TPMA_ALGORITHM = bits('TPMA_ALGORITHM', 4, { asymmetric: 0, symmetric: 1, hash: 2, object: 3, signing: 8, encrypting: 9, method: 10 });

/** TPMA_CC (8.9). */
export const TPMA_CC = bits(
  'TPMA_CC',
  4,
  { nv: 22, extensive: 23, flushed: 24, rHandle: 28, V: 29 },
  { commandIndex: { shift: 0, width: 16 }, cHandles: { shift: 25, width: 3 }, Res: { shift: 30, width: 2 } },
);

// ---- Schemes and parameters (11.x, 12.2) ------------------------------------------------------

/** TPMS_SCHEME_HASH (11.1.17). */
export const TPMS_SCHEME_HASH = struct('TPMS_SCHEME_HASH', { hashAlg: TPMI_ALG_HASH });
/** TPMS_SCHEME_ECDAA (11.1.18). */
export const TPMS_SCHEME_ECDAA = struct('TPMS_SCHEME_ECDAA', { hashAlg: TPMI_ALG_HASH, count: u16 });
/** TPMS_SCHEME_XOR (11.1.21). */
export const TPMS_SCHEME_XOR = struct('TPMS_SCHEME_XOR', { hashAlg: TPMI_ALG_HASH, kdf: alg('TPMI_ALG_KDF', [A.KDF1_SP800_108, A.NULL]) });

const symObjectAlgs = [A.AES, A.SM4, A.CAMELLIA, A.NULL] as const;
const symModes = alg('TPMI_ALG_SYM_MODE', [A.CTR, A.OFB, A.CBC, A.CFB, A.ECB, A.NULL]);
const symKeyBits = enumerated('TPMI_SYM_KEY_BITS', 2, [128, 192, 256], 'ERR_TPM_BAD_VALUE');

/** TPMT_SYM_DEF_OBJECT (11.1.7): the symmetric algorithm of a storage key (AES-128-CFB for EKs/SRKs). */
export const TPMT_SYM_DEF_OBJECT = struct('TPMT_SYM_DEF_OBJECT', {
  algorithm: alg('TPMI_ALG_SYM_OBJECT', symObjectAlgs),
  keyBits: union('TPMU_SYM_KEY_BITS', 'algorithm', { [A.AES]: symKeyBits, [A.SM4]: symKeyBits, [A.CAMELLIA]: symKeyBits, [A.NULL]: empty }),
  mode: union('TPMU_SYM_MODE', 'algorithm', { [A.AES]: symModes, [A.SM4]: symModes, [A.CAMELLIA]: symModes, [A.NULL]: empty }),
});

/** TPMT_SYM_DEF (11.1.6): as TPMT_SYM_DEF_OBJECT plus XOR (session parameter encryption). */
export const TPMT_SYM_DEF = struct('TPMT_SYM_DEF', {
  algorithm: alg('TPMI_ALG_SYM', [A.AES, A.SM4, A.CAMELLIA, A.XOR, A.NULL]),
  keyBits: union('TPMU_SYM_KEY_BITS', 'algorithm', {
    [A.AES]: symKeyBits,
    [A.SM4]: symKeyBits,
    [A.CAMELLIA]: symKeyBits,
    [A.XOR]: TPMI_ALG_HASH,
    [A.NULL]: empty,
  }),
  mode: union('TPMU_SYM_MODE', 'algorithm', { [A.AES]: symModes, [A.SM4]: symModes, [A.CAMELLIA]: symModes, [A.XOR]: empty, [A.NULL]: empty }),
});

/** TPMT_KEYEDHASH_SCHEME (11.1.23). */
export const TPMT_KEYEDHASH_SCHEME = struct('TPMT_KEYEDHASH_SCHEME', {
  scheme: alg('TPMI_ALG_KEYEDHASH_SCHEME', [A.HMAC, A.XOR, A.NULL]),
  details: union('TPMU_SCHEME_KEYEDHASH', 'scheme', { [A.HMAC]: TPMS_SCHEME_HASH, [A.XOR]: TPMS_SCHEME_XOR, [A.NULL]: empty }),
});

/** TPMT_SIG_SCHEME (11.2.1.5): the scheme a Quote/Sign is asked to use (NULL: the key's own). */
export const TPMT_SIG_SCHEME = struct('TPMT_SIG_SCHEME', {
  scheme: alg('TPMI_ALG_SIG_SCHEME', [A.RSASSA, A.RSAPSS, A.ECDSA, A.ECDAA, A.SM2, A.ECSCHNORR, A.HMAC, A.NULL]),
  details: union('TPMU_SIG_SCHEME', 'scheme', {
    [A.RSASSA]: TPMS_SCHEME_HASH,
    [A.RSAPSS]: TPMS_SCHEME_HASH,
    [A.ECDSA]: TPMS_SCHEME_HASH,
    [A.ECDAA]: TPMS_SCHEME_ECDAA,
    [A.SM2]: TPMS_SCHEME_HASH,
    [A.ECSCHNORR]: TPMS_SCHEME_HASH,
    [A.HMAC]: TPMS_SCHEME_HASH,
    [A.NULL]: empty,
  }),
});

/** TPMT_KDF_SCHEME (11.2.3.3). */
export const TPMT_KDF_SCHEME = struct('TPMT_KDF_SCHEME', {
  scheme: alg('TPMI_ALG_KDF', [A.MGF1, A.KDF1_SP800_56A, A.KDF2, A.KDF1_SP800_108, A.NULL]),
  details: union('TPMU_KDF_SCHEME', 'scheme', {
    [A.MGF1]: TPMS_SCHEME_HASH,
    [A.KDF1_SP800_56A]: TPMS_SCHEME_HASH,
    [A.KDF2]: TPMS_SCHEME_HASH,
    [A.KDF1_SP800_108]: TPMS_SCHEME_HASH,
    [A.NULL]: empty,
  }),
});

/** TPMT_RSA_SCHEME (11.2.4.2). */
export const TPMT_RSA_SCHEME = struct('TPMT_RSA_SCHEME', {
  scheme: alg('TPMI_ALG_RSA_SCHEME', [A.RSASSA, A.RSAPSS, A.RSAES, A.OAEP, A.NULL]),
  details: union('TPMU_ASYM_SCHEME', 'scheme', {
    [A.RSASSA]: TPMS_SCHEME_HASH,
    [A.RSAPSS]: TPMS_SCHEME_HASH,
    [A.OAEP]: TPMS_SCHEME_HASH,
    [A.RSAES]: empty,
    [A.NULL]: empty,
  }),
});

/** TPMT_ECC_SCHEME (11.2.5.6). */
export const TPMT_ECC_SCHEME = struct('TPMT_ECC_SCHEME', {
  scheme: alg('TPMI_ALG_ECC_SCHEME', [A.ECDSA, A.ECDH, A.ECDAA, A.SM2, A.ECSCHNORR, A.ECMQV, A.NULL]),
  details: union('TPMU_ASYM_SCHEME', 'scheme', {
    [A.ECDSA]: TPMS_SCHEME_HASH,
    [A.ECDH]: TPMS_SCHEME_HASH,
    [A.ECDAA]: TPMS_SCHEME_ECDAA,
    [A.SM2]: TPMS_SCHEME_HASH,
    [A.ECSCHNORR]: TPMS_SCHEME_HASH,
    [A.ECMQV]: TPMS_SCHEME_HASH,
    [A.NULL]: empty,
  }),
});

/** TPMS_SYMCIPHER_PARMS (12.2.3.2). */
export const TPMS_SYMCIPHER_PARMS = struct('TPMS_SYMCIPHER_PARMS', { sym: TPMT_SYM_DEF_OBJECT });
/** TPMS_KEYEDHASH_PARMS (12.2.3.3). */
export const TPMS_KEYEDHASH_PARMS = struct('TPMS_KEYEDHASH_PARMS', { scheme: TPMT_KEYEDHASH_SCHEME });
/** TPMS_RSA_PARMS (12.2.3.5); exponent 0 means 65537. */
export const TPMS_RSA_PARMS = struct('TPMS_RSA_PARMS', {
  symmetric: TPMT_SYM_DEF_OBJECT,
  scheme: TPMT_RSA_SCHEME,
  keyBits: enumerated('TPMI_RSA_KEY_BITS', 2, [1024, 2048, 3072, 4096], 'ERR_TPM_BAD_VALUE'),
  exponent: u32,
});
/** TPMS_ECC_PARMS (12.2.3.6). */
export const TPMS_ECC_PARMS = struct('TPMS_ECC_PARMS', {
  symmetric: TPMT_SYM_DEF_OBJECT,
  scheme: TPMT_ECC_SCHEME,
  curveID: TPMI_ECC_CURVE,
  kdf: TPMT_KDF_SCHEME,
});

/** TPMS_ECC_POINT (11.2.5.2). */
export const TPMS_ECC_POINT = struct('TPMS_ECC_POINT', { x: TPM2B_ECC_PARAMETER, y: TPM2B_ECC_PARAMETER });
export const TPM2B_ECC_POINT = sized('TPM2B_ECC_POINT', TPMS_ECC_POINT, 2 * (L.MAX_ECC_KEY_BYTES + 2));

const publicParms = {
  [A.RSA]: TPMS_RSA_PARMS,
  [A.ECC]: TPMS_ECC_PARMS,
  [A.KEYEDHASH]: TPMS_KEYEDHASH_PARMS,
  [A.SYMCIPHER]: TPMS_SYMCIPHER_PARMS,
} as const;

/** TPMT_PUBLIC (12.2.4). */
export const TPMT_PUBLIC = struct('TPMT_PUBLIC', {
  type: TPMI_ALG_PUBLIC,
  nameAlg: TPMI_ALG_HASH_NULL,
  objectAttributes: TPMA_OBJECT,
  authPolicy: TPM2B_DIGEST,
  parameters: union('TPMU_PUBLIC_PARMS', 'type', publicParms),
  unique: union('TPMU_PUBLIC_ID', 'type', {
    [A.RSA]: TPM2B_PUBLIC_KEY_RSA,
    [A.ECC]: TPMS_ECC_POINT,
    [A.KEYEDHASH]: TPM2B_DIGEST,
    [A.SYMCIPHER]: TPM2B_DIGEST,
  }),
});
export const TPM2B_PUBLIC = sized('TPM2B_PUBLIC', TPMT_PUBLIC, L.MAX_PUBLIC);
/** TPMT_PUBLIC_PARMS (12.2.3.7): TestParms. */
export const TPMT_PUBLIC_PARMS = struct('TPMT_PUBLIC_PARMS', { type: TPMI_ALG_PUBLIC, parameters: union('TPMU_PUBLIC_PARMS', 'type', publicParms) });

/** TPMT_SENSITIVE (12.3.2.4). */
export const TPMT_SENSITIVE = struct('TPMT_SENSITIVE', {
  sensitiveType: TPMI_ALG_PUBLIC,
  authValue: TPM2B_AUTH,
  seedValue: TPM2B_DIGEST,
  sensitive: union('TPMU_SENSITIVE_COMPOSITE', 'sensitiveType', {
    [A.RSA]: TPM2B_PRIVATE_KEY_RSA,
    [A.ECC]: TPM2B_ECC_PARAMETER,
    [A.KEYEDHASH]: TPM2B_SENSITIVE_DATA,
    [A.SYMCIPHER]: TPM2B_SYM_KEY,
  }),
});
export const TPM2B_SENSITIVE = optionalSized('TPM2B_SENSITIVE', TPMT_SENSITIVE, L.MAX_SENSITIVE);

/** TPMS_SENSITIVE_CREATE (11.1.15): the new object's auth value and (for sealed objects) data. */
export const TPMS_SENSITIVE_CREATE = struct('TPMS_SENSITIVE_CREATE', { userAuth: TPM2B_AUTH, data: TPM2B_SENSITIVE_DATA });
export const TPM2B_SENSITIVE_CREATE = sized('TPM2B_SENSITIVE_CREATE', TPMS_SENSITIVE_CREATE, L.MAX_SENSITIVE);

// ---- Tickets (10.7) -------------------------------------------------------------------------

function ticket(name: string, tags: readonly number[]) {
  return struct(name, {
    tag: enumerated(`${name}.tag`, 2, tags, 'ERR_TPM_BAD_TAG'),
    hierarchy: u32,
    digest: TPM2B_DIGEST,
  });
}
export const TPMT_TK_CREATION = ticket('TPMT_TK_CREATION', [TPM_ST.CREATION]);
export const TPMT_TK_VERIFIED = ticket('TPMT_TK_VERIFIED', [TPM_ST.VERIFIED]);
/** A NULL auth ticket (expiration 0) carries TPM_ST_AUTH_SECRET/SIGNED with TPM_RH_NULL. */
export const TPMT_TK_AUTH = ticket('TPMT_TK_AUTH', [TPM_ST.AUTH_SECRET, TPM_ST.AUTH_SIGNED]);
export const TPMT_TK_HASHCHECK = ticket('TPMT_TK_HASHCHECK', [TPM_ST.HASHCHECK]);

// ---- Creation data (15.1) ---------------------------------------------------------------------

export const TPMS_CREATION_DATA = struct('TPMS_CREATION_DATA', {
  pcrSelect: TPML_PCR_SELECTION,
  pcrDigest: TPM2B_DIGEST,
  locality: TPMA_LOCALITY,
  parentNameAlg: TPM_ALG_ID,
  parentName: TPM2B_NAME,
  parentQualifiedName: TPM2B_NAME,
  outsideInfo: TPM2B_DATA,
});
export const TPM2B_CREATION_DATA = sized('TPM2B_CREATION_DATA', TPMS_CREATION_DATA, L.MAX_CREATION_DATA);

// ---- Signatures (11.3) -----------------------------------------------------------------------

export const TPMS_SIGNATURE_RSA = struct('TPMS_SIGNATURE_RSA', { hash: TPMI_ALG_HASH, sig: TPM2B_PUBLIC_KEY_RSA });
export const TPMS_SIGNATURE_ECC = struct('TPMS_SIGNATURE_ECC', { hash: TPMI_ALG_HASH, signatureR: TPM2B_ECC_PARAMETER, signatureS: TPM2B_ECC_PARAMETER });

/** TPMT_SIGNATURE (11.3.4). */
export const TPMT_SIGNATURE = struct('TPMT_SIGNATURE', {
  sigAlg: alg('TPMI_ALG_SIG_SCHEME', [A.RSASSA, A.RSAPSS, A.ECDSA, A.ECDAA, A.SM2, A.ECSCHNORR, A.HMAC, A.NULL]),
  signature: union('TPMU_SIGNATURE', 'sigAlg', {
    [A.RSASSA]: TPMS_SIGNATURE_RSA,
    [A.RSAPSS]: TPMS_SIGNATURE_RSA,
    [A.ECDSA]: TPMS_SIGNATURE_ECC,
    [A.ECDAA]: TPMS_SIGNATURE_ECC,
    [A.SM2]: TPMS_SIGNATURE_ECC,
    [A.ECSCHNORR]: TPMS_SIGNATURE_ECC,
    [A.HMAC]: TPMT_HA,
    [A.NULL]: empty,
  }),
});

// ---- Attestation (10.12) ----------------------------------------------------------------------

export const TPMS_CLOCK_INFO = struct('TPMS_CLOCK_INFO', { clock: u64, resetCount: u32, restartCount: u32, safe: bool });
export const TPMS_TIME_INFO = struct('TPMS_TIME_INFO', { time: u64, clockInfo: TPMS_CLOCK_INFO });
export const TPMS_TIME_ATTEST_INFO = struct('TPMS_TIME_ATTEST_INFO', { time: TPMS_TIME_INFO, firmwareVersion: u64 });
export const TPMS_CERTIFY_INFO = struct('TPMS_CERTIFY_INFO', { name: TPM2B_NAME, qualifiedName: TPM2B_NAME });
export const TPMS_QUOTE_INFO = struct('TPMS_QUOTE_INFO', { pcrSelect: TPML_PCR_SELECTION, pcrDigest: TPM2B_DIGEST });
export const TPMS_COMMAND_AUDIT_INFO = struct('TPMS_COMMAND_AUDIT_INFO', {
  auditCounter: u64,
  digestAlg: TPM_ALG_ID,
  auditDigest: TPM2B_DIGEST,
  commandDigest: TPM2B_DIGEST,
});
export const TPMS_SESSION_AUDIT_INFO = struct('TPMS_SESSION_AUDIT_INFO', { exclusiveSession: bool, sessionDigest: TPM2B_DIGEST });
export const TPMS_CREATION_INFO = struct('TPMS_CREATION_INFO', { objectName: TPM2B_NAME, creationHash: TPM2B_DIGEST });
export const TPMS_NV_CERTIFY_INFO = struct('TPMS_NV_CERTIFY_INFO', { indexName: TPM2B_NAME, offset: u16, nvContents: TPM2B_MAX_NV_BUFFER });
export const TPMS_NV_DIGEST_CERTIFY_INFO = struct('TPMS_NV_DIGEST_CERTIFY_INFO', { indexName: TPM2B_NAME, nvDigest: TPM2B_DIGEST });

/** TPMS_ATTEST (10.12.12). `magic` is kept as read: the verifier checks TPM_GENERATED_VALUE and says so. */
export const TPMS_ATTEST = struct('TPMS_ATTEST', {
  magic: u32,
  type: enumerated(
    'TPMI_ST_ATTEST',
    2,
    [
      TPM_ST.ATTEST_CERTIFY,
      TPM_ST.ATTEST_QUOTE,
      TPM_ST.ATTEST_SESSION_AUDIT,
      TPM_ST.ATTEST_COMMAND_AUDIT,
      TPM_ST.ATTEST_TIME,
      TPM_ST.ATTEST_CREATION,
      TPM_ST.ATTEST_NV,
      TPM_ST.ATTEST_NV_DIGEST,
    ],
    'ERR_TPM_BAD_TAG',
  ),
  qualifiedSigner: TPM2B_NAME,
  extraData: TPM2B_DATA,
  clockInfo: TPMS_CLOCK_INFO,
  firmwareVersion: u64,
  attested: union(
    'TPMU_ATTEST',
    'type',
    {
      [TPM_ST.ATTEST_CERTIFY]: TPMS_CERTIFY_INFO,
      [TPM_ST.ATTEST_QUOTE]: TPMS_QUOTE_INFO,
      [TPM_ST.ATTEST_SESSION_AUDIT]: TPMS_SESSION_AUDIT_INFO,
      [TPM_ST.ATTEST_COMMAND_AUDIT]: TPMS_COMMAND_AUDIT_INFO,
      [TPM_ST.ATTEST_TIME]: TPMS_TIME_ATTEST_INFO,
      [TPM_ST.ATTEST_CREATION]: TPMS_CREATION_INFO,
      [TPM_ST.ATTEST_NV]: TPMS_NV_CERTIFY_INFO,
      [TPM_ST.ATTEST_NV_DIGEST]: TPMS_NV_DIGEST_CERTIFY_INFO,
    },
    'ERR_TPM_BAD_TAG',
  ),
});
export const TPM2B_ATTEST = sized('TPM2B_ATTEST', TPMS_ATTEST, L.MAX_ATTEST);

// ---- NV (13.5) --------------------------------------------------------------------------------

export const TPMS_NV_PUBLIC = struct('TPMS_NV_PUBLIC', {
  nvIndex: u32,
  nameAlg: TPMI_ALG_HASH,
  attributes: TPMA_NV,
  authPolicy: TPM2B_DIGEST,
  dataSize: u16,
});
export const TPM2B_NV_PUBLIC = sized('TPM2B_NV_PUBLIC', TPMS_NV_PUBLIC, 2 * L.MAX_DIGEST + 16);

// ---- Sessions (10.13) ---------------------------------------------------------------------------

export const TPMS_AUTH_COMMAND = struct('TPMS_AUTH_COMMAND', { sessionHandle: u32, nonce: TPM2B_NONCE, sessionAttributes: TPMA_SESSION, hmac: TPM2B_AUTH });
export const TPMS_AUTH_RESPONSE = struct('TPMS_AUTH_RESPONSE', { nonce: TPM2B_NONCE, sessionAttributes: TPMA_SESSION, hmac: TPM2B_AUTH });

// ---- Context (14.3) -----------------------------------------------------------------------------

export const TPMS_CONTEXT = struct('TPMS_CONTEXT', { sequence: u64, savedHandle: u32, hierarchy: u32, contextBlob: TPM2B_CONTEXT_DATA });

// ---- Capabilities (10.8, 10.9, 10.10) -----------------------------------------------------------

export const TPMS_ALG_PROPERTY = struct('TPMS_ALG_PROPERTY', { alg: TPM_ALG_ID, algProperties: TPMA_ALGORITHM });
export const TPMS_TAGGED_PROPERTY = struct('TPMS_TAGGED_PROPERTY', { property: u32, value: u32 });
export const TPMS_TAGGED_PCR_SELECT = struct('TPMS_TAGGED_PCR_SELECT', { tag: u32, pcrSelect: bytes('TPMS_PCR_SELECT', L.PCR_SELECT_MAX, 1) });
export const TPMS_TAGGED_POLICY = struct('TPMS_TAGGED_POLICY', { handle: u32, policyHash: TPMT_HA });

export const TPML_ALG_PROPERTY = list('TPML_ALG_PROPERTY', TPMS_ALG_PROPERTY, L.MAX_CAP_ENTRIES);
export const TPML_HANDLE = list('TPML_HANDLE', u32, L.MAX_CAP_ENTRIES);
export const TPML_CCA = list('TPML_CCA', TPMA_CC, L.MAX_CAP_ENTRIES);
export const TPML_CC = list('TPML_CC', u32, L.MAX_CAP_ENTRIES);
export const TPML_TAGGED_TPM_PROPERTY = list('TPML_TAGGED_TPM_PROPERTY', TPMS_TAGGED_PROPERTY, L.MAX_CAP_ENTRIES);
export const TPML_TAGGED_PCR_PROPERTY = list('TPML_TAGGED_PCR_PROPERTY', TPMS_TAGGED_PCR_SELECT, L.MAX_CAP_ENTRIES);
export const TPML_ECC_CURVE = list('TPML_ECC_CURVE', u16, L.MAX_CAP_ENTRIES);
export const TPML_TAGGED_POLICY = list('TPML_TAGGED_POLICY', TPMS_TAGGED_POLICY, L.MAX_CAP_ENTRIES);

/** TPMI_CAP: the capability selector of GetCapability. */
export const TPM_CAP_SCHEMA = enumerated('TPM_CAP', 4, Object.values(TPM_CAP), 'ERR_TPM_BAD_TAG');

/** TPMS_CAPABILITY_DATA (10.10.2). */
export const TPMS_CAPABILITY_DATA = struct('TPMS_CAPABILITY_DATA', {
  capability: TPM_CAP_SCHEMA,
  data: union(
    'TPMU_CAPABILITIES',
    'capability',
    {
      [TPM_CAP.ALGS]: TPML_ALG_PROPERTY,
      [TPM_CAP.HANDLES]: TPML_HANDLE,
      [TPM_CAP.COMMANDS]: TPML_CCA,
      [TPM_CAP.PP_COMMANDS]: TPML_CC,
      [TPM_CAP.AUDIT_COMMANDS]: TPML_CC,
      [TPM_CAP.PCRS]: TPML_PCR_SELECTION,
      [TPM_CAP.TPM_PROPERTIES]: TPML_TAGGED_TPM_PROPERTY,
      [TPM_CAP.PCR_PROPERTIES]: TPML_TAGGED_PCR_PROPERTY,
      [TPM_CAP.ECC_CURVES]: TPML_ECC_CURVE,
      [TPM_CAP.AUTH_POLICIES]: TPML_TAGGED_POLICY,
    },
    'ERR_TPM_BAD_TAG',
  ),
});

/** TPM_SE (6.11): the session type of StartAuthSession. */
export const TPM_SE_SCHEMA = enumerated('TPM_SE', 1, [0x00, 0x01, 0x03], 'ERR_TPM_BAD_VALUE');
/** TPM_SU (6.10): Startup/Shutdown type. */
export const TPM_SU_SCHEMA = enumerated('TPM_SU', 2, [0x0000, 0x0001], 'ERR_TPM_BAD_VALUE');

export type TpmHashAlg = Infer<typeof TPMI_ALG_HASH>;
export type TPMT_PUBLIC = Infer<typeof TPMT_PUBLIC>;
export type TPMS_ATTEST = Infer<typeof TPMS_ATTEST>;
export type TPMT_SIGNATURE = Infer<typeof TPMT_SIGNATURE>;
export type TPMS_PCR_SELECTION = Infer<typeof TPMS_PCR_SELECTION>;
export type TPML_PCR_SELECTION = Infer<typeof TPML_PCR_SELECTION>;
export type TPMS_NV_PUBLIC = Infer<typeof TPMS_NV_PUBLIC>;
export type TPMT_SENSITIVE = Infer<typeof TPMT_SENSITIVE>;
export type TPMS_CAPABILITY_DATA = Infer<typeof TPMS_CAPABILITY_DATA>;
export type TPMT_HA = Infer<typeof TPMT_HA>;
export type TPMT_SYM_DEF = Infer<typeof TPMT_SYM_DEF>;
export type TPMA_OBJECT = Infer<typeof TPMA_OBJECT>;
export type TPMS_CREATION_DATA = Infer<typeof TPMS_CREATION_DATA>;
