/**
 * Key templates: the TCG EK Credential Profile 2.0 EK templates (section B.3.3, "template L-1"
 * RSA-2048 and "L-2" ECC NIST P-256), the storage root key of the TCG Provisioning Guidance
 * (RSA-2048 / P-256, AES-128-CFB), attestation keys, and sealed data objects.
 *
 * Primary keys are derived from the hierarchy seed and the template, so the same template always
 * gives the same key: the templates here are part of Vouch's on-disk contract (the AK directory
 * records which SRK template its blobs were created under).
 */
import { fromHex } from '../bytes/index.ts';
import { TPM_ALG, TPM_ECC_CURVE } from './constants.ts';
import type { Infer } from './schema/index.ts';
import { TPMA_OBJECT, type TPMI_ECC_CURVE, type TPMT_PUBLIC, type TpmHashAlg } from './structures.ts';

/** RSA key sizes a TPMT_PUBLIC can carry (TPMI_RSA_KEY_BITS). */
export type RsaKeyBits = 1024 | 2048 | 3072 | 4096;

const A = TPM_ALG;

/** PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256 (EK Credential Profile B.3.2): the EK's authPolicy. */
export const EK_POLICY_SHA256 = fromHex('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');

const aes128cfb = { algorithm: A.AES, keyBits: 128, mode: A.CFB } as const;
const noSymmetric = { algorithm: A.NULL, keyBits: null, mode: null } as const;
const nullScheme = { scheme: A.NULL, details: null } as const;

/** fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted | decrypt (0x000300b2). */
const ekAttributes = TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true, sensitiveDataOrigin: true, adminWithPolicy: true, restricted: true, decrypt: true });
/** fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | decrypt (0x00030472). */
const srkAttributes = TPMA_OBJECT.make({
  fixedTPM: true,
  fixedParent: true,
  sensitiveDataOrigin: true,
  userWithAuth: true,
  noDA: true,
  restricted: true,
  decrypt: true,
});
/** fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign (0x00050072). */
const akAttributes = TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true, sensitiveDataOrigin: true, userWithAuth: true, restricted: true, sign: true });

function rsaStorage(attributes: TPMT_PUBLIC['objectAttributes'], authPolicy: Uint8Array): TPMT_PUBLIC {
  return {
    type: A.RSA,
    nameAlg: A.SHA256,
    objectAttributes: attributes,
    authPolicy,
    parameters: { symmetric: aes128cfb, scheme: nullScheme, keyBits: 2048, exponent: 0 },
    // EK profile: unique is 256 zero bytes, so the TPM derives the well-known EK for this seed.
    unique: new Uint8Array(256),
  };
}

function eccStorage(attributes: TPMT_PUBLIC['objectAttributes'], authPolicy: Uint8Array): TPMT_PUBLIC {
  return {
    type: A.ECC,
    nameAlg: A.SHA256,
    objectAttributes: attributes,
    authPolicy,
    parameters: { symmetric: aes128cfb, scheme: nullScheme, curveID: TPM_ECC_CURVE.NIST_P256, kdf: nullScheme },
    unique: { x: new Uint8Array(32), y: new Uint8Array(32) },
  };
}

export type KeyAlg = 'rsa' | 'ecc';
export type SignScheme = 'rsassa' | 'rsapss' | 'ecdsa';

/** EK template L-1 (RSA-2048) or L-2 (ECC P-256). */
export function ekTemplate(alg: KeyAlg): TPMT_PUBLIC {
  return alg === 'rsa' ? rsaStorage(ekAttributes, EK_POLICY_SHA256) : eccStorage(ekAttributes, EK_POLICY_SHA256);
}

/** The storage root key template (TCG Provisioning Guidance, RSA-2048 or P-256, noDA, empty auth). */
export function srkTemplate(alg: KeyAlg): TPMT_PUBLIC {
  return alg === 'rsa' ? rsaStorage(srkAttributes, new Uint8Array(0)) : eccStorage(srkAttributes, new Uint8Array(0));
}

/** A restricted signing key for quotes: RSA-2048 (RSASSA or RSAPSS, SHA-256) or P-256 ECDSA-SHA256. */
export function akTemplate(alg: KeyAlg, scheme: SignScheme = alg === 'rsa' ? 'rsassa' : 'ecdsa', hashAlg: TpmHashAlg = A.SHA256): TPMT_PUBLIC {
  if (alg === 'rsa') {
    const s = scheme === 'rsapss' ? A.RSAPSS : A.RSASSA;
    return {
      type: A.RSA,
      nameAlg: A.SHA256,
      objectAttributes: akAttributes,
      authPolicy: new Uint8Array(0),
      parameters: { symmetric: noSymmetric, scheme: { scheme: s, details: { hashAlg } }, keyBits: 2048, exponent: 0 },
      unique: new Uint8Array(0),
    };
  }
  return {
    type: A.ECC,
    nameAlg: A.SHA256,
    objectAttributes: akAttributes,
    authPolicy: new Uint8Array(0),
    parameters: { symmetric: noSymmetric, scheme: { scheme: A.ECDSA, details: { hashAlg } }, curveID: TPM_ECC_CURVE.NIST_P256, kdf: nullScheme },
    unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
  };
}

/**
 * A sealed data object (KEYEDHASH, NULL scheme). With a policy the object is usable only through
 * a policy session that reaches `authPolicy` (userWithAuth clear), e.g. a PolicyPCR digest.
 */
export function sealedTemplate(authPolicy: Uint8Array = new Uint8Array(0)): TPMT_PUBLIC {
  return {
    type: A.KEYEDHASH,
    nameAlg: A.SHA256,
    objectAttributes: TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true, userWithAuth: authPolicy.length === 0, noDA: true }),
    authPolicy,
    parameters: { scheme: nullScheme },
    unique: new Uint8Array(0),
  };
}

/**
 * A public key loaded only to check signatures (LoadExternal for VerifySignature, e.g. a PCR
 * policy key): sign + userWithAuth, NULL scheme (the signature says its own), SHA-256 Name.
 * PolicyAuthorize names the key by this Name, so the template is part of every authPolicy sealed
 * under it: changing it changes which objects a key can authorize.
 */
export function verificationKeyTemplate(key: { kind: 'rsa'; keyBits: RsaKeyBits } | { kind: 'ecc'; curveID: Infer<typeof TPMI_ECC_CURVE> }): TPMT_PUBLIC {
  const objectAttributes = TPMA_OBJECT.make({ sign: true, userWithAuth: true });
  if (key.kind === 'rsa') {
    return {
      type: A.RSA,
      nameAlg: A.SHA256,
      objectAttributes,
      authPolicy: new Uint8Array(0),
      parameters: { symmetric: noSymmetric, scheme: nullScheme, keyBits: key.keyBits, exponent: 0 },
      unique: new Uint8Array(0),
    };
  }
  return {
    type: A.ECC,
    nameAlg: A.SHA256,
    objectAttributes,
    authPolicy: new Uint8Array(0),
    parameters: { symmetric: noSymmetric, scheme: nullScheme, curveID: key.curveID, kdf: nullScheme },
    unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
  };
}
