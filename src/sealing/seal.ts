/**
 * Local sealing on the node's TPM (docs/design.md "Node side"): a secret (the disk key) sealed once
 * under PolicyAuthorize(fleet policy key, VOUCH_POLICY_REF), so that any policy the fleet key signed
 * unseals it; each release ships signed approvals of PolicyPCR(its predicted PCRs) + PolicyNV(the
 * node's policy counter ≤ the fleet's counter value when it was signed). Raising the counter
 * revokes every approval signed with a lower value, on this TPM, even for the right PCRs.
 *
 * The policy counter is a TPM_NT_COUNTER NV index with fixed attributes, so its Name (which
 * PolicyNV hashes) is the same on every node and one signature serves the whole fleet: the server
 * signs with `policyCounterBinding(value)`. NV counters only ever grow (a counter deleted and
 * defined again continues above its old value), so an approval once revoked stays revoked.
 *
 * Boot order (docs/sealing.md): unsealSecret with the release's signed policy → on
 * ERR_SEALING_NO_SIGNED_POLICY / _REVOKED / _POLICY_FAIL, remote attestation → on success,
 * resealSecret with the released key and the fleet's counter value.
 */
import type { KeyObject } from 'node:crypto';
import { bytesEqual, fromHex } from '../bytes/index.ts';
import { hashBytes } from '../hash/index.ts';
import {
  TPM_ALG,
  TPM_EO,
  TPM_NT,
  TPM_RC,
  TPM_RH,
  TpmRcError,
  isRc,
  decode,
  nvName,
  objectName,
  policy,
  sealedTemplate,
  structures as S,
  type AuthSession,
  type Infer,
  type Loaded,
  type Sized,
  type Tpm,
} from '../tpm/index.ts';
import { SealingError } from './errors.ts';
import {
  VOUCH_POLICY_REF,
  approvalMessage,
  pcrPolicyDigest,
  policyKeyFingerprint,
  policyKeyPublic,
  tpmSignature,
  type PcrSignatureDocument,
  type PcrSignatureEntry,
  type PolicyCounterBinding,
} from './pcr-signature.ts';

/** The policy counter's NV index unless configured otherwise (owner range, TCG handle registry). */
export const DEFAULT_POLICY_COUNTER_INDEX = 0x01510001;
/** The most increments one call makes to reach the fleet's value (each is one NV write). */
export const MAX_COUNTER_STEPS = 1024;
/** TPM2B_SENSITIVE_DATA's limit (MAX_SYM_DATA): a sealed object holds at most this many bytes. */
export const MAX_SEALED_SECRET = 128;
const SEALED_VERSION = 1;
const SHA256 = TPM_ALG.SHA256;

/** The policy counter's public area: anyone may read it (PolicyNV) or increment it (revoke); no one may write it. */
function counterPublic(index: number): S.TPMS_NV_PUBLIC {
  return {
    nvIndex: index,
    nameAlg: SHA256,
    attributes: S.TPMA_NV.make({ nt: TPM_NT.COUNTER, authRead: true, authWrite: true, ownerRead: true, ownerWrite: true, noDA: true, written: true }),
    authPolicy: new Uint8Array(0),
    dataSize: 8,
  };
}

/** What a release's approvals bind to: the policy counter's Name (as written) and the fleet's counter value. */
export function policyCounterBinding(value: number, index: number = DEFAULT_POLICY_COUNTER_INDEX): PolicyCounterBinding {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new SealingError('ERR_SEALING_COUNTER', `the policy counter value must be a positive integer, not ${value}`, { value });
  return { nvName: nvName(S.TPM2B_NV_PUBLIC.wrap(counterPublic(index))), value };
}

/**
 * Brings this TPM's policy counter to `value` (defining it first when absent) and returns it.
 * A counter already above `value` is ERR_SEALING_COUNTER: the node saw a later revocation than
 * the caller's fleet state, and sealing with the older value would never unseal.
 */
export async function advancePolicyCounter(tpm: Tpm, value: number, index: number = DEFAULT_POLICY_COUNTER_INDEX): Promise<number> {
  const binding = policyCounterBinding(value, index);
  let current = 0;
  let exists = true;
  try {
    const pub = await tpm.nvReadPublic(index);
    const written = pub.public.value.attributes.written;
    if (written ? !bytesEqual(pub.name, binding.nvName) : pub.public.value.attributes.nt !== TPM_NT.COUNTER)
      throw new SealingError('ERR_SEALING_COUNTER', `NV index 0x${index.toString(16)} exists but is not Vouch's policy counter (other attributes)`, { index });
    if (written) current = Number(await tpm.nvReadCounter(index));
  } catch (e) {
    if (!isRc(e, TPM_RC.HANDLE!)) throw e;
    exists = false;
  }
  if (!exists) await tpm.nvDefineCounter(index, { attributes: { authRead: true, authWrite: true, ownerRead: true, ownerWrite: true, noDA: true } });
  if (current > value)
    throw new SealingError('ERR_SEALING_COUNTER', `the policy counter is at ${current}, above the fleet's ${value}: this node has seen a later revocation`, {
      index,
      current,
      value,
    });
  if (value - current > MAX_COUNTER_STEPS)
    throw new SealingError('ERR_SEALING_COUNTER', `the policy counter is at ${current}: reaching ${value} takes more than ${MAX_COUNTER_STEPS} increments`, {
      index,
      current,
      value,
    });
  for (let steps = 0; current < value && steps < MAX_COUNTER_STEPS; steps++) {
    await tpm.nvIncrement(index);
    // The first increment starts from the TPM's largest deleted counter, which may pass `value`.
    current = Number(await tpm.nvReadCounter(index));
  }
  if (current !== value)
    throw new SealingError('ERR_SEALING_COUNTER', `the policy counter went to ${current}, past the fleet's ${value} (a counter was deleted here before)`, {
      index,
      current,
      value,
    });
  return current;
}

/** A secret sealed on one TPM: the blobs to load under its SRK, and what they were sealed to. */
export interface SealedSecret {
  /** pkfp of the fleet policy key whose approvals unseal it. */
  readonly policyKey: string;
  readonly counterIndex: number;
  /** Whether unsealing also needs the PIN (PolicyAuthValue). */
  readonly pin: boolean;
  /** TPM2B_PUBLIC contents (TPMT_PUBLIC) and TPM2B_PRIVATE contents of the sealed object. */
  readonly public: Uint8Array;
  readonly private: Uint8Array;
}

export interface SealOptions {
  /** The fleet's PCR policy key (public). */
  readonly policyKey: KeyObject;
  readonly counterIndex?: number;
  /** An extra PIN the object also needs (PolicyAuthValue), as systemd-cryptenroll --tpm2-with-pin. */
  readonly pin?: Uint8Array;
}

/** The sealed object's authPolicy: PolicyAuthorize(policy key, VOUCH_POLICY_REF), then PolicyAuthValue with a PIN. */
export function sealedObjectPolicy(policyKey: KeyObject, pin: boolean): Uint8Array {
  const keyName = policyKeyName(policyKey);
  const authorized = policy.policyAuthorize(SHA256, keyName, VOUCH_POLICY_REF);
  return pin ? policy.policyAuthValue(SHA256, authorized) : authorized;
}

function policyKeyName(policyKey: KeyObject): Uint8Array {
  return objectName(S.TPM2B_PUBLIC.wrap(policyKeyPublic(policyKey)));
}

/** TPM2B_PUBLIC contents as the client loads them (the bytes kept as received). */
function sizedPublic(bytes: Uint8Array): Sized<S.TPMT_PUBLIC> {
  return { bytes, value: decode(S.TPMT_PUBLIC, bytes) };
}

async function withSrk<T>(tpm: Tpm, use: (srk: Loaded) => Promise<T>): Promise<T> {
  const srk = await tpm.createSRK('ecc');
  try {
    return await use(srk);
  } finally {
    await srk.flush();
  }
}

/**
 * Seals `secret` (at most 128 bytes) under the fleet policy key. The object does not depend on PCR
 * values, so it survives every update whose release the fleet key signs; store the result next to
 * the volume (encodeSealedSecret).
 */
export async function sealSecret(tpm: Tpm, secret: Uint8Array, options: SealOptions): Promise<SealedSecret> {
  if (secret.length === 0 || secret.length > MAX_SEALED_SECRET)
    throw new SealingError('ERR_SEALING_BLOB', `a sealed secret is 1 to ${MAX_SEALED_SECRET} bytes, not ${secret.length}`, { size: secret.length });
  const authPolicy = sealedObjectPolicy(options.policyKey, options.pin !== undefined);
  const template = sealedTemplate(authPolicy);
  // A PIN can be guessed: its failures must count toward the TPM's dictionary-attack lockout (noDA clear).
  const objectAttributes = options.pin ? S.TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true }) : template.objectAttributes;
  const blobs = await withSrk(tpm, (srk) =>
    tpm.create(srk.ref, { ...template, objectAttributes }, { data: secret, ...(options.pin ? { userAuth: options.pin } : {}) }),
  );
  return {
    policyKey: policyKeyFingerprint(options.policyKey),
    counterIndex: options.counterIndex ?? DEFAULT_POLICY_COUNTER_INDEX,
    pin: options.pin !== undefined,
    public: blobs.public.bytes,
    private: blobs.private,
  };
}

/** After a remote attestation released `secret`: the counter to the fleet's value, then a fresh sealed object. */
export async function resealSecret(tpm: Tpm, secret: Uint8Array, options: SealOptions & { readonly counterValue: number }): Promise<SealedSecret> {
  await advancePolicyCounter(tpm, options.counterValue, options.counterIndex);
  return sealSecret(tpm, secret, options);
}

/** The policy counter's public area; absent (a cleared TPM, or never sealed here) is ERR_SEALING_COUNTER. */
async function readCounterPublic(tpm: Tpm, index: number): Promise<Awaited<ReturnType<Tpm['nvReadPublic']>>> {
  try {
    return await tpm.nvReadPublic(index);
  } catch (e) {
    if (!isRc(e, TPM_RC.HANDLE!)) throw e;
    throw new SealingError(
      'ERR_SEALING_COUNTER',
      `the policy counter 0x${index.toString(16)} is not defined on this TPM (cleared, or nothing was sealed here)`,
      { index },
      { cause: e },
    );
  }
}

async function counterValue(tpm: Tpm, nv: Awaited<ReturnType<Tpm['nvReadPublic']>>, index: number): Promise<number> {
  return nv.public.value.attributes.written ? Number(await tpm.nvReadCounter(index)) : 0;
}

/** This TPM's policy counter: 0 before it is defined (nothing sealed here yet) or first incremented. */
export async function readPolicyCounter(tpm: Tpm, index: number = DEFAULT_POLICY_COUNTER_INDEX): Promise<number> {
  try {
    return await counterValue(tpm, await tpm.nvReadPublic(index), index);
  } catch (e) {
    if (isRc(e, TPM_RC.HANDLE!)) return 0;
    throw e;
  }
}

/** The signed approval that holds on this TPM now: PCR values it holds and the counter read from it. */
export interface Approval {
  readonly entry: PcrSignatureEntry;
  readonly counter: PolicyCounterBinding;
}

/**
 * Picks the counter-bound sha256 approval of `policyKey` whose PolicyPCR + PolicyNV digest equals
 * what this TPM's PCRs and policy counter give. None for these PCRs: ERR_SEALING_NO_SIGNED_POLICY;
 * only ones with a counter value below this TPM's: ERR_SEALING_REVOKED.
 */
export async function findApproval(tpm: Tpm, document: PcrSignatureDocument, policyKey: KeyObject, counterIndex: number): Promise<Approval> {
  const pkfp = policyKeyFingerprint(policyKey);
  const entries = (document.sha256 ?? []).filter((e) => e.pkfp === pkfp && e.counter !== undefined);
  if (entries.length === 0)
    throw new SealingError('ERR_SEALING_NO_SIGNED_POLICY', `the signed policy has no counter-bound sha256 approvals by the policy key ${pkfp}`, { pkfp });
  const nv = await readCounterPublic(tpm, counterIndex);
  const current = await counterValue(tpm, nv, counterIndex);
  const pcrs = [...new Set(entries.flatMap((e) => e.pcrs))].sort((a, b) => a - b);
  const values = (await tpm.pcrRead([{ hash: SHA256, pcrs }])).sha256 ?? {};
  const matching = entries.filter((e) => {
    const pol = pcrPolicyDigest(
      'sha256',
      e.pcrs,
      e.pcrs.map((p) => fromHex(values[p] ?? '')),
      { nvName: nv.name, value: e.counter! },
    );
    return bytesEqual(pol, fromHex(e.pol));
  });
  if (matching.length === 0)
    throw new SealingError(
      'ERR_SEALING_NO_SIGNED_POLICY',
      `no signed policy approves this TPM's PCRs ${pcrs.join(',')} (sha256): a boot component changed without a new signature`,
      { pcrs, values: Object.fromEntries(pcrs.map((p) => [p, values[p]])) },
    );
  const best = matching.reduce((a, b) => (b.counter! > a.counter! ? b : a));
  if (best.counter! < current)
    throw new SealingError(
      'ERR_SEALING_REVOKED',
      `the approval for these PCRs was signed for policy counter ${best.counter}; this TPM's counter is ${current}`,
      {
        signed: best.counter,
        current,
      },
    );
  return { entry: best, counter: { nvName: nv.name, value: best.counter! } };
}

function tpmRefusal(e: unknown, step: string): never {
  if (!(e instanceof TpmRcError)) throw e;
  const rc = e.rc.name;
  if (step === 'PolicyNV' && isRc(e, TPM_RC.POLICY!))
    throw new SealingError('ERR_SEALING_REVOKED', `the TPM refused PolicyNV (${rc}): its policy counter is above the approval's`, { rc, step }, { cause: e });
  throw new SealingError('ERR_SEALING_POLICY_FAIL', `the TPM refused ${step} (${rc})`, { rc, step }, { cause: e });
}

async function tpmStep(step: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (e) {
    tpmRefusal(e, step);
  }
}

/**
 * Unseals with an approval: the TPM verifies the fleet key's signature (VerifySignature → ticket),
 * then a policy session asserts PolicyPCR (the PCRs now), PolicyNV (counter ≤ the approval's) and
 * PolicyAuthorize with the ticket, and Unseal checks the result against the object's authPolicy.
 * Every refusal is a SealingError naming the TPM_RC and the step.
 */
export async function unsealWithApproval(tpm: Tpm, sealed: SealedSecret, approval: Approval, policyKey: KeyObject, pin?: Uint8Array): Promise<Uint8Array> {
  if (sealed.policyKey !== policyKeyFingerprint(policyKey))
    throw new SealingError('ERR_SEALING_BLOB', `the secret was sealed under the policy key ${sealed.policyKey}, not ${policyKeyFingerprint(policyKey)}`, {});
  const pol = fromHex(approval.entry.pol);
  const key = await tpm.loadExternal(policyKeyPublic(policyKey), TPM_RH.OWNER);
  let ticket: Infer<typeof S.TPMT_TK_VERIFIED>;
  try {
    ticket = await tpm
      .verifySignature(key.ref, hashBytes('sha256', approvalMessage(pol, true)), tpmSignature(approval.entry, 'sha256', policyKey))
      .catch((e: unknown) => tpmRefusal(e, 'VerifySignature'));
  } finally {
    await key.flush();
  }
  return withSrk(tpm, async (srk) => {
    const item = await tpm.load(srk.ref, sealed.private, sizedPublic(sealed.public)).catch((e: unknown) => {
      if (!(e instanceof TpmRcError)) throw e;
      throw new SealingError(
        'ERR_SEALING_BLOB',
        `the sealed secret does not load under this TPM's SRK (${e.rc.name}): sealed on another TPM, or this TPM was cleared`,
        { rc: e.rc.name },
        { cause: e },
      );
    });
    try {
      return await tpm.withSession('policy', SHA256, async (session: AuthSession) => {
        await tpmStep('PolicyPCR', () => tpm.policyPCR(session, [{ hash: SHA256, pcrs: [...approval.entry.pcrs] }]));
        await tpmStep('PolicyNV', () => tpm.policyNV(session, sealed.counterIndex, u64(approval.counter.value), TPM_EO.UNSIGNED_LE));
        await tpmStep('PolicyAuthorize', () => tpm.policyAuthorize(session, pol, key.name, ticket, VOUCH_POLICY_REF));
        if (sealed.pin) {
          await tpm.policyAuthValue(session);
          session.authValue = pin ?? new Uint8Array(0);
        }
        try {
          return await tpm.unseal(item.ref, session);
        } catch (e) {
          return tpmRefusal(e, 'Unseal');
        }
      });
    } finally {
      await item.flush();
    }
  });
}

function u64(value: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(value));
  return b;
}

/**
 * The boot-time unseal: finds the release's approval that holds for this TPM's PCRs and counter,
 * then unseals with it. On any SealingError the caller falls back to remote attestation.
 */
export async function unsealSecret(
  tpm: Tpm,
  sealed: SealedSecret,
  document: PcrSignatureDocument,
  policyKey: KeyObject,
  pin?: Uint8Array,
): Promise<Uint8Array> {
  const approval = await findApproval(tpm, document, policyKey, sealed.counterIndex);
  return unsealWithApproval(tpm, sealed, approval, policyKey, pin);
}

/** The sealed secret as a JSON document to keep next to the volume (it is useless off this TPM). */
export function encodeSealedSecret(sealed: SealedSecret): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      version: SEALED_VERSION,
      policyKey: sealed.policyKey,
      counterIndex: sealed.counterIndex,
      pin: sealed.pin,
      public: Buffer.from(sealed.public).toString('base64'),
      private: Buffer.from(sealed.private).toString('base64'),
    }),
  );
}

/** Parses encodeSealedSecret's document; anything else is ERR_SEALING_BLOB. */
export function parseSealedSecret(bytes: Uint8Array): SealedSecret {
  const bad = (why: string): never => {
    throw new SealingError('ERR_SEALING_BLOB', `sealed secret: ${why}`, {});
  };
  if (bytes.length > 16384) bad(`${bytes.length} bytes is not a sealed secret`);
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return bad(`not JSON (${(e as Error).message})`);
  }
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  if (o.version !== SEALED_VERSION) bad(`unsupported version ${String(o.version)}`);
  if (typeof o.policyKey !== 'string' || !/^[0-9a-f]{64}$/.test(o.policyKey)) bad('policyKey is not a key fingerprint');
  if (typeof o.counterIndex !== 'number' || !Number.isInteger(o.counterIndex) || o.counterIndex >>> 24 !== 0x01) bad('counterIndex is not an NV index');
  if (typeof o.pin !== 'boolean') bad('pin is not a boolean');
  const b64 = (v: unknown, what: string): Uint8Array =>
    typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length <= 4096 ? new Uint8Array(Buffer.from(v, 'base64')) : bad(`${what} is not base64`);
  const pub = b64(o.public, 'public');
  try {
    sizedPublic(pub);
  } catch {
    bad('public is not a TPMT_PUBLIC');
  }
  return { policyKey: o.policyKey as string, counterIndex: o.counterIndex as number, pin: o.pin as boolean, public: pub, private: b64(o.private, 'private') };
}
