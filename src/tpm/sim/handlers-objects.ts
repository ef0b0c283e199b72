/**
 * Object commands (Part 3, 12, 24, 28): CreatePrimary, Create, Load, LoadExternal, ReadPublic,
 * Unseal, MakeCredential, ActivateCredential, FlushContext, EvictControl.
 */
import { ByteReader, ByteWriter } from '../../bytes/index.ts';
import * as C from '../commands.ts';
import { TPM_ALG, TPM_HT, TPM_LIMITS, TPM_RH } from '../constants.ts';
import { TpmCryptoError, makeCredential, outerUnwrap, outerWrap, publicKeyFromTpm, unwrapCredential } from '../crypto/index.ts';
import { decode, encode } from '../schema/index.ts';
import { TPMT_PUBLIC, TPMT_SENSITIVE } from '../structures.ts';
import {
  checkBinding,
  checkTemplate,
  createPrimaryObject,
  creationResult,
  generateObject,
  isStorageKey,
  protectSensitive,
  simObject,
  storageParent,
  unprotectSensitive,
} from './objects.ts';
import { MAX_PERSISTENT_OBJECTS, MAX_TRANSIENT_OBJECTS, on, type Handler, type SimObject } from './model.ts';
import type { SoftwareTpm } from './simulator.ts';
import { fail, failHandle, failParam } from './rc.ts';

const A = TPM_ALG;
const PERSISTENT_OWNER = { first: 0x81000000, last: 0x817fffff } as const;
const PERSISTENT_PLATFORM = { first: 0x81800000, last: 0x81ffffff } as const;
const HIERARCHIES: readonly number[] = [TPM_RH.OWNER, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM, TPM_RH.NULL];

/** TpmCryptoError → the TPM_RC a real TPM gives for the same fault in parameter `n`. */
function cryptoFailure(e: unknown, n: number): never {
  if (!(e instanceof TpmCryptoError)) throw e;
  switch (e.code) {
    case 'ERR_TPM_CRYPTO_INTEGRITY':
      return failParam('INTEGRITY', n, e.message);
    case 'ERR_TPM_CRYPTO_SIZE':
      return failParam('SIZE', n, e.message);
    case 'ERR_TPM_CRYPTO_DECRYPT':
      return failParam('VALUE', n + 1, e.message);
    default:
      return failParam('VALUE', n, e.message);
  }
}

/**
 * Saved object contexts (Part 1, 30.3): the object encrypted and integrity-protected under its
 * hierarchy's proof value, bound to the context's sequence number, so only this TPM loads it
 * and a NULL-hierarchy context dies with the TPM Reset that replaces the null proof.
 */
const CONTEXT_SYMMETRIC = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } as const;
/** TPMS_CONTEXT.savedHandle of a saved ordinary transient object (Part 2, 14.3). */
const SAVED_TRANSIENT = 0x80000000;

function contextKey(tpm: SoftwareTpm, hierarchy: number): { hashAlg: number; symmetric: typeof CONTEXT_SYMMETRIC; seed: Uint8Array } {
  return { hashAlg: TPM_ALG.SHA256, symmetric: CONTEXT_SYMMETRIC, seed: tpm.hierarchySecrets(hierarchy).proof };
}

function contextBinding(sequence: bigint, savedHandle: number): Uint8Array {
  return new ByteWriter(12).u64(sequence).u32(savedHandle).finish();
}

function serializeObject(obj: SimObject): Uint8Array {
  const sensitive = encode(TPMT_SENSITIVE, obj.sensitive!);
  const w = new ByteWriter(obj.public.bytes.length + sensitive.length + obj.qualifiedName.length + 6);
  w.u16(obj.public.bytes.length).bytes(obj.public.bytes).u16(sensitive.length).bytes(sensitive).u16(obj.qualifiedName.length).bytes(obj.qualifiedName);
  return w.finish();
}

function deserializeObject(plain: Uint8Array, hierarchy: number): SimObject {
  const r = new ByteReader(plain);
  const publicBytes = r.bytesView(r.u16()).slice();
  const sensitive = decode(TPMT_SENSITIVE, r.bytesView(r.u16()));
  const qn = r.bytesView(r.u16()).slice();
  if (r.remaining !== 0) throw new Error('trailing bytes in a context this TPM made');
  const pub = decode(TPMT_PUBLIC, publicBytes);
  const obj = simObject(pub, sensitive, hierarchy, new Uint8Array(0), publicBytes);
  return { ...obj, qualifiedName: qn };
}

/**
 * Whether an ECC secret has the shape of a TPMS_ECC_POINT: two TPM2B coordinates within
 * MAX_ECC_KEY_BYTES, as the reference unmarshals it before any arithmetic (a misfit is
 * TPM_RC_SIZE there, a point off the curve TPM_RC_ECC_POINT).
 */
function isEccPointShape(secret: Uint8Array): boolean {
  const r = new ByteReader(secret);
  for (let i = 0; i < 2; i++) {
    if (r.remaining < 2) return false;
    const size = r.u16();
    if (size > TPM_LIMITS.MAX_ECC_KEY_BYTES || size > r.remaining) return false;
    r.bytesView(size);
  }
  return true;
}

export const objectHandlers: readonly (readonly [number, Handler])[] = [
  on(C.CreatePrimary, (tpm, h, p) => {
    if (!HIERARCHIES.includes(h.primaryHandle)) failHandle('VALUE', 1, 'CreatePrimary needs a hierarchy handle');
    tpm.requireObjectSlot();
    const template = p.inPublic.value;
    checkTemplate(template, 2, p.inSensitive.value.data);
    const made = createPrimaryObject(tpm, h.primaryHandle, p.inPublic.bytes, template, p.inSensitive.value.userAuth, p.inSensitive.value.data);
    const hierarchyName = tpm.nameOf(h.primaryHandle);
    const obj = simObject(made.public, made.sensitive, h.primaryHandle, hierarchyName);
    const objectHandle = tpm.addObject(obj);
    const creation = creationResult(tpm, obj, { nameAlg: A.NULL, name: hierarchyName, qualifiedName: hierarchyName }, p.creationPCR, p.outsideInfo);
    return { objectHandle, outPublic: obj.public, ...creation, name: obj.name };
  }),
  on(C.Create, (tpm, h, p) => {
    const parent = storageParent(tpm, h.parentHandle, 1);
    const template = p.inPublic.value;
    checkTemplate(template, 2, p.inSensitive.value.data);
    if (template.objectAttributes.fixedTPM && !parent.public.value.objectAttributes.fixedTPM)
      failParam('ATTRIBUTES', 2, 'fixedTPM under a parent that is not fixedTPM');
    const made = generateObject(tpm, template, p.inSensitive.value.userAuth, p.inSensitive.value.data, tpm.random, undefined);
    const obj = simObject(made.public, made.sensitive, parent.hierarchy, parent.qualifiedName);
    const creation = creationResult(
      tpm,
      obj,
      { nameAlg: parent.public.value.nameAlg, name: parent.name, qualifiedName: parent.qualifiedName },
      p.creationPCR,
      p.outsideInfo,
    );
    return { outPrivate: protectSensitive(parent, obj.name, made.sensitive), outPublic: obj.public, ...creation };
  }),
  on(C.Load, (tpm, h, p) => {
    const parent = storageParent(tpm, h.parentHandle, 1);
    tpm.requireObjectSlot();
    const pub = p.inPublic.value;
    checkTemplate(pub, 2, new Uint8Array(0));
    const named = simObject(pub, null, parent.hierarchy, parent.qualifiedName, p.inPublic.bytes);
    // The outer HMAC covers the Name: a private blob loaded with another public area fails here.
    const sensitive = unprotectSensitive(parent, named.name, p.inPrivate);
    checkBinding(pub, sensitive, 2);
    const objectHandle = tpm.addObject({ ...named, sensitive });
    return { objectHandle, name: named.name };
  }),
  on(C.LoadExternal, (tpm, _h, p) => {
    if (!HIERARCHIES.includes(p.hierarchy)) failParam('VALUE', 3, 'not a hierarchy');
    tpm.requireObjectSlot();
    const pub = p.inPublic.value;
    if (pub.nameAlg === A.NULL && p.inPrivate === null) failParam('HASH', 2, 'a public-only object needs a nameAlg');
    if (p.inPrivate !== null) {
      // An external private key was not made by this TPM: it must not claim to be bound to it.
      if (pub.objectAttributes.fixedTPM || pub.objectAttributes.fixedParent) failParam('ATTRIBUTES', 2, 'an external key cannot be fixedTPM or fixedParent');
      if (p.hierarchy !== TPM_RH.NULL) failParam('HIERARCHY', 3, 'an external key with a private part belongs to TPM_RH_NULL');
      checkBinding(pub, p.inPrivate.value, 1);
    } else if (pub.type === A.RSA || pub.type === A.ECC) {
      try {
        publicKeyFromTpm(pub);
      } catch {
        if (pub.type === A.ECC) failParam('ECC_POINT', 2, 'the public point is not on the curve');
        failParam('KEY', 2, 'the public key is not valid');
      }
    }
    const obj = simObject(pub, p.inPrivate?.value ?? null, p.hierarchy, tpm.nameOf(p.hierarchy), p.inPublic.bytes);
    return { objectHandle: tpm.addObject(obj), name: obj.name };
  }),
  on(C.ReadPublic, (tpm, h) => {
    const obj = tpm.object(h.objectHandle, 1);
    return { outPublic: obj.public, name: obj.name, qualifiedName: obj.qualifiedName };
  }),
  on(C.Unseal, (tpm, h) => {
    const obj = tpm.object(h.itemHandle, 1);
    const a = obj.public.value.objectAttributes;
    if (obj.public.value.type !== A.KEYEDHASH) failHandle('TYPE', 1, 'only sealed data objects can be unsealed');
    if (a.sign || a.decrypt || a.restricted || !obj.sensitive) failHandle('ATTRIBUTES', 1, 'not a sealed data object');
    return { outData: obj.sensitive.sensitive };
  }),
  on(C.MakeCredential, (tpm, h, p) => {
    const key = tpm.object(h.handle, 1);
    if (!isStorageKey(key.public.value)) failHandle('TYPE', 1, 'MakeCredential needs a restricted decryption key (an EK)');
    try {
      const blob = makeCredential(key.public.value, p.credential, p.objectName, tpm.random);
      return { credentialBlob: blob.credentialBlob, secret: blob.secret };
    } catch (e) {
      return cryptoFailure(e, 1);
    }
  }),
  on(C.ActivateCredential, (tpm, h, p) => {
    const activate = tpm.object(h.activateHandle, 1);
    const key = tpm.object(h.keyHandle, 2);
    if (!isStorageKey(key.public.value) || !key.sensitive) failHandle('TYPE', 2, 'keyHandle must be a restricted decryption key with its private part');
    if (key.public.value.type === A.ECC && !isEccPointShape(p.secret)) failParam('SIZE', 2, 'the secret is not a TPMS_ECC_POINT (coordinate sizes)');
    try {
      return { certInfo: unwrapCredential(key.public.value, tpm.privateKey(key), { credentialBlob: p.credentialBlob, secret: p.secret }, activate.name) };
    } catch (e) {
      // An ECC secret that does not decrypt is a point off the curve (Part 3, 12.5.1: TPM_RC_ECC_POINT).
      if (e instanceof TpmCryptoError && e.code === 'ERR_TPM_CRYPTO_DECRYPT' && key.public.value.type === TPM_ALG.ECC) failParam('ECC_POINT', 2, e.message);
      return cryptoFailure(e, 1);
    }
  }),
  on(C.FlushContext, (tpm, _h, p) => {
    const type = p.flushHandle >>> 24;
    if (type === TPM_HT.TRANSIENT && tpm.objects.delete(p.flushHandle)) return {};
    if (type === TPM_HT.TRANSIENT && (p.flushHandle & 0xffffff) >= MAX_TRANSIENT_OBJECTS) failParam('VALUE', 1, 'beyond the transient object slots');
    const session = type === TPM_HT.HMAC_SESSION || type === TPM_HT.POLICY_SESSION;
    if (session && tpm.sessions.delete(p.flushHandle)) return {};
    // Anything but a transient object or a session does not unmarshal as TPMI_DH_CONTEXT (TPM_RC_VALUE).
    if (type !== TPM_HT.TRANSIENT && !session) failParam('VALUE', 1, `0x${p.flushHandle.toString(16)} is not a transient object or session handle`);
    return failParam('HANDLE', 1, `0x${p.flushHandle.toString(16)} is not a loaded transient object or session`);
  }),
  on(C.ContextSave, (tpm, h) => {
    if (h.saveHandle >>> 24 !== TPM_HT.TRANSIENT) failHandle('HANDLE', 1, 'only transient objects are saved here (sessions are not)');
    const obj = tpm.object(h.saveHandle, 1);
    if (!obj.sensitive) failHandle('HANDLE', 1, 'a public-only object is not saved');
    const sequence = ++tpm.contextSequence;
    const contextBlob = outerWrap(contextKey(tpm, obj.hierarchy), contextBinding(sequence, SAVED_TRANSIENT), serializeObject(obj));
    return { context: { sequence, savedHandle: SAVED_TRANSIENT, hierarchy: obj.hierarchy, contextBlob } };
  }),
  on(C.ContextLoad, (tpm, _h, p) => {
    const { sequence, savedHandle, hierarchy, contextBlob } = p.context;
    if (savedHandle !== SAVED_TRANSIENT) failParam('HANDLE', 1, 'only saved transient objects are loaded here');
    if (!HIERARCHIES.includes(hierarchy)) failParam('HIERARCHY', 1, 'not a hierarchy');
    tpm.requireObjectSlot();
    let plain: Uint8Array;
    try {
      plain = outerUnwrap(contextKey(tpm, hierarchy), contextBinding(sequence, savedHandle), contextBlob);
    } catch (e) {
      return cryptoFailure(e, 1);
    }
    return { loadedHandle: tpm.addObject(deserializeObject(plain, hierarchy)) };
  }),
  on(C.EvictControl, (tpm, h, p) => {
    if (h.auth !== TPM_RH.OWNER && h.auth !== TPM_RH.PLATFORM) failHandle('HIERARCHY', 1, 'EvictControl is authorized by the owner or platform');
    const range = h.auth === TPM_RH.OWNER ? PERSISTENT_OWNER : PERSISTENT_PLATFORM;
    if (p.persistentHandle < range.first || p.persistentHandle > range.last)
      failParam('RANGE', 1, "persistentHandle is outside the authorizing hierarchy's range");
    const obj = tpm.object(h.objectHandle, 2);
    if (h.objectHandle >>> 24 === TPM_HT.PERSISTENT) {
      if (p.persistentHandle !== h.objectHandle) failHandle('HANDLE', 2, 'to evict, persistentHandle must equal objectHandle');
      tpm.evict(h.objectHandle);
      return {};
    }
    if (obj.hierarchy === TPM_RH.NULL) failHandle('HIERARCHY', 2, 'objects of the NULL hierarchy cannot be made persistent');
    if (obj.public.value.objectAttributes.stClear) failHandle('ATTRIBUTES', 2, 'stClear objects cannot be made persistent');
    if (tpm.state.persistent.has(p.persistentHandle)) fail('NV_DEFINED', `0x${p.persistentHandle.toString(16)} is already in use`);
    if (tpm.state.persistent.size >= MAX_PERSISTENT_OBJECTS) fail('NV_SPACE', 'no room for another persistent object');
    tpm.persist(p.persistentHandle, obj);
    return {};
  }),
];
