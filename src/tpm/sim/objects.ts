/**
 * Object creation and protection: template checks (Part 1, 27.2 and Part 3, 12.1), key generation
 * (primary keys derived from the hierarchy seed, so the same template always gives the same key),
 * creation data and tickets, and the private area of Part 1 §23-24: TPMT_SENSITIVE encrypted and
 * integrity-protected under the parent's seedValue (KDFa "STORAGE" / "INTEGRITY", AES-CFB,
 * HMAC over the blob and the object's Name), so a tampered blob or a blob moved to another
 * object fails Load with TPM_RC_INTEGRITY.
 */
import { createECDH } from 'node:crypto';
import { bytesEqual, toHex } from '../../bytes/index.ts';
import { HASH_SIZE, TPM_ALG, TPM_ECC_CURVE, TPM_RH } from '../constants.ts';
import { ECC_CURVES, TpmCryptoError, kdfa, outerUnwrap, outerWrap, qualifiedName, type RandomSource } from '../crypto/index.ts';
import { objectName, tpmHash } from '../names.ts';
import { decode, encode, type Sized } from '../schema/index.ts';
import {
  TPM2B_CREATION_DATA,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE,
  TPMA_LOCALITY,
  type TPML_PCR_SELECTION,
  type TPMT_PUBLIC,
  type TPMT_SENSITIVE,
} from '../structures.ts';
import { selectedValues } from './pcrs.ts';
import { generateEcc, generateRsa, rsaExponent } from './keys.ts';
import { MAX_CACHED_RSA_PRIMARIES, RSA_KEY_BITS, type SimObject } from './model.ts';
import { keyedStream } from './random.ts';
import { failHandle, failParam } from './rc.ts';
import type { SoftwareTpm } from './simulator.ts';
import { creationTicket, type Ticket } from './tickets.ts';

const A = TPM_ALG;

type SymDef = { algorithm: number; keyBits: number | null; mode: number | null };

/** A restricted decryption key with a symmetric algorithm: a parent that can protect children (a storage key). */
export function isStorageKey(pub: TPMT_PUBLIC): boolean {
  const a = pub.objectAttributes;
  return (pub.type === A.RSA || pub.type === A.ECC) && a.restricted && a.decrypt && !a.sign;
}

function symmetricOf(pub: TPMT_PUBLIC): SymDef {
  return (pub.parameters as { symmetric: SymDef }).symmetric;
}

/**
 * Rejects templates a real TPM rejects, with its codes: the wrong hash, attribute combinations,
 * key sizes, curves, and schemes that do not fit the key's use. `n` is the template's parameter number.
 */
export function checkTemplate(pub: TPMT_PUBLIC, n: number, sensitiveData: Uint8Array): void {
  const a = pub.objectAttributes;
  if (pub.nameAlg === A.NULL || !HASH_SIZE[pub.nameAlg]) failParam('HASH', n, 'nameAlg must be a hash');
  if (pub.authPolicy.length !== 0 && pub.authPolicy.length !== HASH_SIZE[pub.nameAlg]) failParam('SIZE', n, 'authPolicy must be empty or one nameAlg digest');
  if (a.fixedTPM !== a.fixedParent && a.fixedTPM) failParam('ATTRIBUTES', n, 'fixedTPM requires fixedParent');
  if (a.restricted && a.sign && a.decrypt) failParam('ATTRIBUTES', n, 'a restricted key cannot both sign and decrypt');
  const sym = pub.type === A.RSA || pub.type === A.ECC ? symmetricOf(pub) : undefined;
  const scheme = pub.type === A.SYMCIPHER ? A.NULL : (pub.parameters as { scheme: { scheme: number } }).scheme.scheme;
  if (pub.type === A.RSA || pub.type === A.ECC) {
    if (sensitiveData.length !== 0) failParam('SIZE', 1, 'an asymmetric key takes no sensitive data');
    if (a.restricted && a.decrypt) {
      if (sym!.algorithm !== A.AES || sym!.mode !== A.CFB) failParam('SYMMETRIC', n, 'a storage key needs AES-CFB');
      if (scheme !== A.NULL) failParam('SCHEME', n, 'a storage key has scheme NULL');
    } else if (sym!.algorithm !== A.NULL) failParam('SYMMETRIC', n, 'only storage keys have a symmetric algorithm');
    if (a.restricted && a.sign && scheme === A.NULL) failParam('SCHEME', n, 'a restricted signing key needs a scheme');
    if (a.sign && scheme !== A.NULL && ![A.RSASSA, A.RSAPSS, A.ECDSA].includes(scheme as never)) failParam('SCHEME', n, 'not a signing scheme');
    if (!a.sign && !a.decrypt) failParam('ATTRIBUTES', n, 'an asymmetric key must sign or decrypt');
  }
  if (pub.type === A.RSA) {
    const p = pub.parameters as { keyBits: number; exponent: number };
    if (!RSA_KEY_BITS.includes(p.keyBits)) failParam('VALUE', n, `RSA-${p.keyBits} is not implemented (1024, 2048, 3072 are, as in swtpm)`);
    if (p.exponent !== 0 && p.exponent !== 65537) failParam('VALUE', n, 'RSA exponent must be 0 or 65537');
    if (scheme === A.ECDSA) failParam('SCHEME', n, 'ECDSA on an RSA key');
  }
  if (pub.type === A.ECC) {
    const p = pub.parameters as { curveID: number; kdf: { scheme: number } };
    if (p.curveID !== TPM_ECC_CURVE.NIST_P256 && p.curveID !== TPM_ECC_CURVE.NIST_P384) failParam('CURVE', n, 'only NIST P-256 and P-384 are implemented');
    if (p.kdf.scheme !== A.NULL) failParam('KDF', n, 'ECC kdf must be NULL');
    if (scheme === A.RSASSA || scheme === A.RSAPSS) failParam('SCHEME', n, 'an RSA scheme on an ECC key');
  }
  if (pub.type === A.KEYEDHASH) {
    const sealed = !a.sign && !a.decrypt;
    if (sealed && scheme !== A.NULL) failParam('SCHEME', n, 'a sealed data object has scheme NULL');
    if (a.sign && scheme !== A.HMAC) failParam('SCHEME', n, 'a keyed-hash signing key needs the HMAC scheme');
    if (a.decrypt || a.restricted) failParam('ATTRIBUTES', n, 'keyed-hash decryption and restricted keyed-hash keys are not implemented');
    if (sealed && a.sensitiveDataOrigin) failParam('ATTRIBUTES', n, 'a sealed data object takes its data from the caller (sensitiveDataOrigin clear)');
    if (sensitiveData.length > 0 && a.sensitiveDataOrigin) failParam('ATTRIBUTES', n, 'sensitive data given with sensitiveDataOrigin set');
  }
  if (pub.type === A.SYMCIPHER) {
    const sym = (pub.parameters as { sym: SymDef }).sym;
    if (sym.algorithm !== A.AES || ![128, 256].includes(sym.keyBits ?? 0)) failParam('SYMMETRIC', n, 'AES-128/256 only');
  }
}

/** Fills `unique` and makes the sensitive area: key material from `random` (a derivation stream for primaries). */
export function generateObject(
  tpm: SoftwareTpm,
  template: TPMT_PUBLIC,
  userAuth: Uint8Array,
  data: Uint8Array,
  random: RandomSource,
  rsaCacheKey: string | undefined,
): { public: TPMT_PUBLIC; sensitive: TPMT_SENSITIVE } {
  const digestSize = HASH_SIZE[template.nameAlg]!;
  if (userAuth.length > digestSize) failParam('SIZE', 1, 'userAuth is longer than a nameAlg digest');
  const seedValue = random(digestSize);
  switch (template.type) {
    case A.RSA: {
      const bits = (template.parameters as { keyBits: number }).keyBits;
      const e = rsaExponent(template);
      const cache = tpm.state.rsaPrimaries;
      const cached = rsaCacheKey ? cache.get(rsaCacheKey) : undefined;
      const key = cached ? { modulus: cached.subarray(0, bits / 8), prime: cached.subarray(bits / 8) } : generateRsa(random, bits, e);
      if (rsaCacheKey) {
        // Least recently used first (a Map iterates in insertion order): the EK and SRK made at every
        // boot stay cached. A hit only reorders, which the next state write records.
        cache.delete(rsaCacheKey);
        cache.set(rsaCacheKey, cached ?? new Uint8Array([...key.modulus, ...key.prime]));
        while (cache.size > MAX_CACHED_RSA_PRIMARIES) cache.delete(cache.keys().next().value!);
        if (!cached) tpm.touch();
      }
      return { public: { ...template, unique: key.modulus }, sensitive: { sensitiveType: A.RSA, authValue: userAuth, seedValue, sensitive: key.prime } };
    }
    case A.ECC: {
      const { d, x, y } = generateEcc(random, (template.parameters as { curveID: number }).curveID);
      return { public: { ...template, unique: { x, y } }, sensitive: { sensitiveType: A.ECC, authValue: userAuth, seedValue, sensitive: d } };
    }
    case A.KEYEDHASH: {
      const secret = data.length > 0 || !template.objectAttributes.sensitiveDataOrigin ? data : random(digestSize);
      return {
        public: { ...template, unique: tpmHash(template.nameAlg, seedValue, secret) },
        sensitive: { sensitiveType: A.KEYEDHASH, authValue: userAuth, seedValue, sensitive: secret },
      };
    }
    case A.SYMCIPHER: {
      const bits = (template.parameters as { sym: SymDef }).sym.keyBits!;
      const key = random(bits / 8);
      return {
        public: { ...template, unique: tpmHash(template.nameAlg, seedValue, key) },
        sensitive: { sensitiveType: A.SYMCIPHER, authValue: userAuth, seedValue, sensitive: key },
      };
    }
    default:
      return failParam('TYPE', 2, 'unknown object type');
  }
}

/**
 * The derivation key of a primary object: KDFa over the hierarchy seed, the template as received
 * and the caller's sensitive data (Part 1, 26.3: same seed and template, same key). Its hex is
 * also the RSA primaries' cache key.
 */
export function primaryDerivation(seed: Uint8Array, templateBytes: Uint8Array, data: Uint8Array): Uint8Array {
  return kdfa(A.SHA256, seed, 'PRIMARY', tpmHash(A.SHA256, templateBytes), tpmHash(A.SHA256, data), 256);
}

export function createPrimaryObject(
  tpm: SoftwareTpm,
  hierarchy: number,
  templateBytes: Uint8Array,
  template: TPMT_PUBLIC,
  userAuth: Uint8Array,
  data: Uint8Array,
) {
  const derivation = primaryDerivation(tpm.hierarchySecrets(hierarchy).seed, templateBytes, data);
  // RSA primaries are cached by derivation key except in the NULL hierarchy, whose seed changes every reset.
  const cacheKey = template.type === A.RSA && hierarchy !== TPM_RH.NULL ? toHex(derivation) : undefined;
  return generateObject(tpm, template, userAuth, data, keyedStream(derivation, 'primary object'), cacheKey);
}

/** A loaded object from its parts. */
export function simObject(
  pub: TPMT_PUBLIC,
  sensitive: TPMT_SENSITIVE | null,
  hierarchy: number,
  parentQualifiedName: Uint8Array,
  publicBytes?: Uint8Array,
): SimObject {
  const sized: Sized<TPMT_PUBLIC> = publicBytes ? { bytes: publicBytes, value: pub } : TPM2B_PUBLIC.wrap(pub);
  const name = objectName(sized);
  return { public: sized, sensitive, name, qualifiedName: qualifiedName(parentQualifiedName, name), hierarchy };
}

/** TPMS_CREATION_DATA, its hash and ticket (Part 3, 12.1 / 24.1). */
export function creationResult(
  tpm: SoftwareTpm,
  obj: SimObject,
  parent: { nameAlg: number; name: Uint8Array; qualifiedName: Uint8Array },
  creationPCR: TPML_PCR_SELECTION,
  outsideInfo: Uint8Array,
): { creationData: Sized<Parameters<typeof TPM2B_CREATION_DATA.wrap>[0]>; creationHash: Uint8Array; creationTicket: Ticket } {
  const nameAlg = obj.public.value.nameAlg;
  const creationData = TPM2B_CREATION_DATA.wrap({
    pcrSelect: creationPCR,
    pcrDigest: tpmHash(nameAlg, ...selectedValues(tpm, creationPCR)),
    locality: TPMA_LOCALITY.make({ zero: true }),
    parentNameAlg: parent.nameAlg,
    parentName: parent.name,
    parentQualifiedName: parent.qualifiedName,
    outsideInfo,
  });
  const creationHash = tpmHash(nameAlg, creationData.bytes);
  return { creationData, creationHash, creationTicket: creationTicket(tpm, obj.hierarchy, obj.name, creationHash) };
}

function protectionKey(parent: SimObject): { hashAlg: number; symmetric: SymDef; seed: Uint8Array } {
  return { hashAlg: parent.public.value.nameAlg, symmetric: symmetricOf(parent.public.value), seed: parent.sensitive!.seedValue };
}

/** TPM2B_PRIVATE contents for `obj` under `parent`. */
export function protectSensitive(parent: SimObject, name: Uint8Array, sensitive: TPMT_SENSITIVE): Uint8Array {
  return outerWrap(protectionKey(parent), name, encode(TPM2B_SENSITIVE, TPM2B_SENSITIVE.wrap(sensitive)));
}

/** The sensitive area of a private blob; TPM_RC_INTEGRITY (parameter 1) for a tampered or misplaced blob. */
export function unprotectSensitive(parent: SimObject, name: Uint8Array, blob: Uint8Array): TPMT_SENSITIVE {
  let plain: Uint8Array;
  try {
    plain = outerUnwrap(protectionKey(parent), name, blob);
  } catch (e) {
    if (e instanceof TpmCryptoError && e.code === 'ERR_TPM_CRYPTO_INTEGRITY') return failParam('INTEGRITY', 1, e.message);
    if (e instanceof TpmCryptoError) return failParam('SIZE', 1, e.message);
    throw e;
  }
  let sensitive: TPMT_SENSITIVE | null;
  try {
    sensitive = decode(TPM2B_SENSITIVE, plain, 'inPrivate')?.value ?? null;
  } catch {
    sensitive = null;
  }
  return sensitive ?? failParam('INTEGRITY', 1, 'the decrypted private area is not a TPM2B_SENSITIVE');
}

/** Checks that the sensitive area belongs to the public area (Part 1, 27.3.4 "binding"). */
export function checkBinding(pub: TPMT_PUBLIC, sensitive: TPMT_SENSITIVE, n: number): void {
  if (sensitive.sensitiveType !== pub.type) failParam('TYPE', n, 'sensitive and public areas are of different types');
  if (sensitive.authValue.length > (HASH_SIZE[pub.nameAlg] ?? 0)) failParam('SIZE', n, 'authValue longer than a nameAlg digest');
  const secret = sensitive.sensitive;
  switch (pub.type) {
    case A.RSA: {
      const n0 = BigInt('0x' + (toHex(pub.unique as Uint8Array) || '0'));
      const p = BigInt('0x' + (toHex(secret) || '0'));
      if (p <= 1n || n0 % p !== 0n) failParam('BINDING', n, 'the RSA prime does not divide the modulus');
      return;
    }
    case A.ECC: {
      const curve = ECC_CURVES[(pub.parameters as { curveID: number }).curveID] ?? failParam('CURVE', n, 'curve not implemented');
      let point: Buffer;
      try {
        const ecdh = createECDH(curve.nodeName);
        ecdh.setPrivateKey(secret);
        point = ecdh.getPublicKey();
      } catch {
        return failParam('BINDING', n, 'the ECC private scalar is out of range');
      }
      const { x, y } = pub.unique as { x: Uint8Array; y: Uint8Array };
      if (!bytesEqual(point.subarray(1, 1 + curve.bytes), x) || !bytesEqual(point.subarray(1 + curve.bytes), y))
        failParam('BINDING', n, 'the ECC private key does not match the public point');
      return;
    }
    default:
      if (!bytesEqual(tpmHash(pub.nameAlg, sensitive.seedValue, secret), pub.unique as Uint8Array))
        failParam('BINDING', n, 'unique is not H(seedValue ‖ sensitive)');
  }
}

/** A parent that can protect children (TPM_RC_TYPE on handle `n` otherwise). */
export function storageParent(tpm: SoftwareTpm, handle: number, n: number): SimObject {
  const parent = tpm.object(handle, n);
  if (!isStorageKey(parent.public.value) || !parent.sensitive) failHandle('TYPE', n, 'the parent is not a storage key');
  return parent;
}
