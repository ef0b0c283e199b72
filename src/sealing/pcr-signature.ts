/**
 * Signed PCR policies in systemd's format: the `.pcrsig` JSON that systemd-measure writes and
 * systemd-stub hands to the initrd (systemd's UKI specification, "TPM2 PCR Signature"):
 *
 *   {"sha256": [{"pcrs": [11], "pkfp": "<hex>", "pol": "<hex>", "sig": "<base64>"}, …], "sha1": […]}
 *
 * One entry per bank and boot phase: `pol` is the TPM2_PolicyPCR digest (always a SHA-256 policy
 * session, whatever the bank) for the PCR values predicted at that phase, `sig` the key's signature
 * over H(pol) with the bank's hash (RSASSA-PKCS1-v1_5, or ECDSA as DER: systemd-measure 252 signs
 * the sha1 bank's entries with SHA-1, as seen running it), `pkfp` the SHA-256 of the key in
 * OpenSSL's i2d_PublicKey form — PKCS#1 RSAPublicKey for RSA, the uncompressed point for EC (what
 * systemd 252 writes; not the SubjectPublicKeyInfo). The TPM checks such a signature with
 * VerifySignature, and PolicyAuthorize then accepts any policy so approved — when the digest it
 * checks, H_nameAlg(pol ‖ policyRef), is the one signed: with a SHA-256 Name that is the sha256 bank's
 * entries, which is why Vouch seals with those.
 *
 * Vouch adds counter-bound entries to the same document: `pol` is PolicyPCR followed by
 * PolicyNV(policy counter ≤ `counter`), and `sig` covers SHA-256(pol ‖ VOUCH_POLICY_REF). The
 * policyRef keeps the two kinds apart: a systemd entry (empty policyRef) never satisfies an object
 * sealed by Vouch, so revoking through the counter cannot be bypassed with a plain PCR signature,
 * and systemd, which computes only PolicyPCR digests, never matches (and ignores) Vouch's entries.
 *
 * Pure: no I/O; the signer may be a callback (a PKCS#11 key signs where the key lives).
 */
import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { concatBytes, fromHex, toHex } from '../bytes/index.ts';
import { DerCursor, DerError, DerTag, decodeInteger, parseDer } from '../der/index.ts';
import { HashAlgorithm, hashBytes } from '../hash/index.ts';
import { isPcrBank, type PcrBank, type Prediction } from '../predict/index.ts';
import { TPM_ALG, TPM_ECC_CURVE, TPM_EO, policy, toPcrSelection, verificationKeyTemplate, type structures } from '../tpm/index.ts';
import { tpmPublicFromKey } from '../tpm/crypto/index.ts';
import { SealingError } from './errors.ts';

/** policyRef of Vouch's counter-bound approvals (see above): signed with the policy, never sent alone. */
export const VOUCH_POLICY_REF: Uint8Array = new TextEncoder().encode('vouch:pcr+nv-counter');

/** Limits of a document read from a UKI or a file: more is no signed policy a release would ship. */
export const MAX_PCRSIG_BYTES = 1 << 20;
export const MAX_PCRSIG_ENTRIES = 256;
const MAX_SIGNATURE_BYTES = 1024;

export interface PcrSignatureEntry {
  /** The PCRs of `pol`'s PolicyPCR, ascending. */
  readonly pcrs: readonly number[];
  /** SHA-256 fingerprint of the signing key (hex, i2d_PublicKey form). */
  readonly pkfp: string;
  /** The approved policy digest (hex, 32 bytes). */
  readonly pol: string;
  /** The signature (base64). */
  readonly sig: string;
  /** Vouch's extension: the policy-counter value the approval holds for (it holds while the TPM's counter ≤ this). */
  readonly counter?: number;
}

/** A `.pcrsig` document: entries per PCR bank. */
export type PcrSignatureDocument = Readonly<Partial<Record<PcrBank, readonly PcrSignatureEntry[]>>>;

/** The policy counter an approval is bound to: the NV index's Name (as written) and the counter value. */
export interface PolicyCounterBinding {
  readonly nvName: Uint8Array;
  readonly value: number;
}

/**
 * Signs `message` hashed with `hash` (the bank's algorithm): RSASSA-PKCS1-v1_5, or ECDSA with a DER
 * signature, as OpenSSL's EVP_DigestSign does for systemd-measure. A file key is
 * `keySigner(privateKey)`; a PKCS#11 key is a callback doing the same (CKM_SHA256_RSA_PKCS, or
 * CKM_ECDSA over the digest, DER-encoded).
 */
export type PolicySigner = (message: Uint8Array, hash: PcrBank) => Uint8Array | Promise<Uint8Array>;

export function keySigner(privateKey: KeyObject): PolicySigner {
  policyKeyKind(privateKey);
  if (privateKey.type !== 'private') throw new SealingError('ERR_SEALING_KEY', 'signing PCR policies needs the private key', {});
  return (message, hash) => new Uint8Array(cryptoSign(hash, message, privateKey));
}

function policyKeyKind(key: KeyObject): 'rsa' | 'ec' {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' && (details.modulusLength ?? 0) >= 2048 && (details.modulusLength ?? 0) <= 4096) return 'rsa';
  if (type === 'ec' && (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1')) return 'ec';
  throw new SealingError(
    'ERR_SEALING_KEY',
    `a ${String(type)} key${details.modulusLength ? ` of ${details.modulusLength} bits` : details.namedCurve ? ` on ${details.namedCurve}` : ''} cannot sign PCR policies (RSA 2048-4096 or ECDSA P-256/P-384)`,
    { type },
  );
}

function publicOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** `pkfp`: SHA-256 of i2d_PublicKey (PKCS#1 RSAPublicKey DER, or the uncompressed EC point), as systemd computes it. */
export function policyKeyFingerprint(key: KeyObject): string {
  const pub = publicOf(key);
  let form: Uint8Array;
  if (policyKeyKind(pub) === 'rsa') {
    form = new Uint8Array(pub.export({ type: 'pkcs1', format: 'der' }));
  } else {
    const jwk = pub.export({ format: 'jwk' });
    form = concatBytes(new Uint8Array([4]), new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')), new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url')));
  }
  return toHex(hashBytes('sha256', form));
}

/** The key as the TPM loads it (LoadExternal) to verify approvals: its Name is what PolicyAuthorize names. */
export function policyKeyPublic(key: KeyObject): structures.TPMT_PUBLIC {
  const pub = publicOf(key);
  const details = pub.asymmetricKeyDetails ?? {};
  const template =
    policyKeyKind(pub) === 'rsa'
      ? verificationKeyTemplate({ kind: 'rsa', keyBits: details.modulusLength as 2048 | 3072 | 4096 })
      : verificationKeyTemplate({ kind: 'ecc', curveID: details.namedCurve === 'secp384r1' ? TPM_ECC_CURVE.NIST_P384 : TPM_ECC_CURVE.NIST_P256 });
  return tpmPublicFromKey(pub, template);
}

const BANK_ALG: Readonly<Record<PcrBank, number>> = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 };

function u64(value: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(value));
  return b;
}

/**
 * The approved policy for PCR values of one bank: TPM2_PolicyPCR in a SHA-256 session (values in
 * PCR order), then with `counter` TPM2_PolicyNV(counter ≤ value) — exactly what a policy session
 * reaches on a TPM whose PCRs hold these values.
 */
export function pcrPolicyDigest(bank: PcrBank, pcrs: readonly number[], values: readonly Uint8Array[], counter?: PolicyCounterBinding): Uint8Array {
  const selection = toPcrSelection([{ hash: BANK_ALG[bank] as structures.TpmHashAlg, pcrs: [...pcrs].sort((a, b) => a - b) }]);
  const sha256 = TPM_ALG.SHA256;
  const afterPcr = policy.policyPcr(sha256, policy.policyStart(sha256), selection, values);
  return counter ? policy.policyNv(sha256, afterPcr, counter.nvName, u64(counter.value), 0, TPM_EO.UNSIGNED_LE) : afterPcr;
}

/** What the key signs for a policy: pol, or pol ‖ VOUCH_POLICY_REF for a counter-bound one (the TPM verifies its hash). */
export function approvalMessage(pol: Uint8Array, counterBound: boolean): Uint8Array {
  return counterBound ? concatBytes(pol, VOUCH_POLICY_REF) : pol;
}

/** The values a policy names at one boot phase: `phase` is the pcrphase words measured so far, joined by ':' ('' before any). */
export interface PhaseValues {
  readonly phase: string;
  readonly values: readonly Uint8Array[];
}

/**
 * PCR values of `pcrs` in `bank` at each boot phase of a prediction: PCR 11 after the UKI's
 * sections and after each systemd-pcrphase word the profile lists (as systemd-measure signs
 * "enter-initrd", "enter-initrd:leave-initrd", …), the other PCRs at their final predicted values.
 * A profile without phases gives one entry, the values after the UKI.
 */
export function phaseValues(prediction: Prediction, bank: PcrBank, pcrs: readonly number[]): PhaseValues[] {
  const final = prediction.banks[bank];
  if (!final) throw new SealingError('ERR_SEALING_PREDICTION', `the prediction has no ${bank} bank`, { bank });
  const sorted = [...pcrs].sort((a, b) => a - b);
  for (const pcr of sorted) {
    if (final[String(pcr)] === undefined) throw new SealingError('ERR_SEALING_PREDICTION', `the prediction does not cover PCR ${pcr}`, { bank, pcr });
  }
  const valuesWith = (pcr11: Uint8Array): Uint8Array[] => sorted.map((p) => (p === 11 ? pcr11 : fromHex(final[String(p)]!)));
  const phases: PhaseValues[] = [];
  const words: string[] = [];
  let pcr11: Uint8Array = new Uint8Array(HashAlgorithm[bank].size);
  let beforePhases: Uint8Array | undefined;
  for (const event of prediction.events) {
    if (event.pcr !== 11) continue;
    if (event.by === 'systemd-pcrphase') {
      beforePhases ??= pcr11;
      words.push(event.description);
    }
    const digest = event.digests[bank];
    if (digest === undefined) throw new SealingError('ERR_SEALING_PREDICTION', `a PCR 11 event has no ${bank} digest`, { bank });
    pcr11 = hashBytes(bank, pcr11, fromHex(digest));
    if (event.by === 'systemd-pcrphase') phases.push({ phase: words.join(':'), values: valuesWith(pcr11) });
  }
  if (beforePhases === undefined) phases.push({ phase: '', values: valuesWith(pcr11) });
  return phases;
}

export interface SignPoliciesOptions {
  /** The public half of the signing key (its fingerprint goes into each entry). */
  readonly publicKey: KeyObject;
  readonly signer: PolicySigner;
  /** Banks to sign for (default sha256). */
  readonly banks?: readonly PcrBank[];
  /** PCRs each policy covers (default 11, as systemd-cryptenroll --tpm2-public-key-pcrs). */
  readonly pcrs?: readonly number[];
  /** Also write Vouch's counter-bound entries for this policy counter. */
  readonly counter?: PolicyCounterBinding;
}

export interface SignedPolicies {
  readonly document: PcrSignatureDocument;
  /** Which phase each entry is for, in document order per bank (the JSON itself does not say). */
  readonly phases: Readonly<Partial<Record<PcrBank, readonly string[]>>>;
}

/**
 * Signs a release's predicted PCRs: for each bank and phase a systemd entry (PolicyPCR) and, with
 * `counter`, a Vouch entry bound to the policy counter.
 *
 * @example
 *   const { document } = await signPcrPolicies(prediction, { publicKey, signer: keySigner(privateKey), pcrs: [7, 11] });
 *   await writeFile('uki.pcrsig', serializePcrSignature(document));
 */
export async function signPcrPolicies(prediction: Prediction, options: SignPoliciesOptions): Promise<SignedPolicies> {
  const pkfp = policyKeyFingerprint(options.publicKey);
  const pcrs = [...(options.pcrs ?? [11])].sort((a, b) => a - b);
  if (pcrs.length === 0 || new Set(pcrs).size !== pcrs.length || pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23))
    throw new SealingError('ERR_SEALING_PREDICTION', `the PCRs to sign must be distinct PCR indexes 0-23, not ${pcrs.join(',')}`, { pcrs });
  const document: Partial<Record<PcrBank, PcrSignatureEntry[]>> = {};
  const phases: Partial<Record<PcrBank, string[]>> = {};
  const publicKey = publicOf(options.publicKey);
  for (const bank of options.banks ?? ['sha256']) {
    const entries: PcrSignatureEntry[] = [];
    const names: string[] = [];
    for (const at of phaseValues(prediction, bank, pcrs)) {
      for (const counter of options.counter ? [undefined, options.counter] : [undefined]) {
        const pol = pcrPolicyDigest(bank, pcrs, at.values, counter);
        const sig = await options.signer(approvalMessage(pol, counter !== undefined), bank);
        // A signer that signs with another key, or with another hash, must not produce a document.
        if (!cryptoVerify(bank, approvalMessage(pol, counter !== undefined), publicKey, sig))
          throw new SealingError(
            'ERR_SEALING_PCRSIG_SIGNATURE',
            `the signer's signature for ${bank} phase "${at.phase}" does not verify under the policy key`,
            {
              bank,
              phase: at.phase,
            },
          );
        entries.push({ pcrs, pkfp, pol: toHex(pol), sig: Buffer.from(sig).toString('base64'), ...(counter ? { counter: counter.value } : {}) });
        names.push(at.phase);
      }
    }
    document[bank] = entries;
    phases[bank] = names;
  }
  return { document, phases };
}

/** The document as systemd-measure writes it (`--json=short`): one line of JSON. */
export function serializePcrSignature(document: PcrSignatureDocument): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(document));
}

function formatError(message: string, details: Record<string, unknown> = {}): never {
  throw new SealingError('ERR_SEALING_PCRSIG_FORMAT', `signed PCR policy: ${message}`, details);
}

/** Parses a `.pcrsig` document (untrusted: a UKI section or a file); signatures are checked by verifyPcrSignature. */
export function parsePcrSignature(bytes: Uint8Array): PcrSignatureDocument {
  if (bytes.length > MAX_PCRSIG_BYTES) formatError(`${bytes.length} bytes, more than ${MAX_PCRSIG_BYTES}`, { size: bytes.length });
  let value: unknown;
  try {
    // systemd-stub hands the section over as is; ukify pads it with NULs to the section alignment.
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/\0+$/, ''));
  } catch (e) {
    return formatError(`not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return formatError('the document is not a JSON object of banks');
  const document: Partial<Record<PcrBank, PcrSignatureEntry[]>> = {};
  let total = 0;
  for (const [bank, list] of Object.entries(value as Record<string, unknown>)) {
    if (!isPcrBank(bank)) formatError(`unknown bank ${JSON.stringify(bank)} (sha1, sha256, sha384, sha512)`, { bank });
    if (!Array.isArray(list)) formatError(`bank ${bank} is not a list of entries`, { bank });
    total += list.length;
    if (total > MAX_PCRSIG_ENTRIES) formatError(`more than ${MAX_PCRSIG_ENTRIES} entries`, { max: MAX_PCRSIG_ENTRIES });
    document[bank] = list.map((raw: unknown, i) => parseEntry(raw, `${bank}[${i}]`));
  }
  return document;
}

function parseEntry(raw: unknown, where: string): PcrSignatureEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return formatError(`${where} is not an object`, { entry: where });
  const o = raw as Record<string, unknown>;
  const { pcrs, pkfp, pol, sig, counter } = o;
  if (!Array.isArray(pcrs) || pcrs.length === 0 || pcrs.length > 24 || !pcrs.every((p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 23))
    formatError(`${where}.pcrs is not a list of PCR indexes 0-23`, { entry: where });
  const sorted = [...(pcrs as number[])].sort((a, b) => a - b);
  if (new Set(sorted).size !== sorted.length) formatError(`${where}.pcrs names a PCR twice`, { entry: where });
  if (typeof pkfp !== 'string' || !/^[0-9a-f]{64}$/.test(pkfp)) formatError(`${where}.pkfp is not a SHA-256 fingerprint in hex`, { entry: where });
  if (typeof pol !== 'string' || !/^[0-9a-f]{64}$/.test(pol)) formatError(`${where}.pol is not a SHA-256 policy digest in hex`, { entry: where });
  if (typeof sig !== 'string' || sig.length > (MAX_SIGNATURE_BYTES * 4) / 3 + 4 || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig))
    formatError(`${where}.sig is not a base64 signature of at most ${MAX_SIGNATURE_BYTES} bytes`, { entry: where });
  if (counter !== undefined && (!Number.isSafeInteger(counter) || (counter as number) < 0))
    formatError(`${where}.counter is not a non-negative integer`, { entry: where });
  return { pcrs: sorted, pkfp: pkfp, pol: pol, sig: sig, ...(counter !== undefined ? { counter: counter as number } : {}) };
}

/**
 * Checks every entry signed by `publicKey` (by pkfp; entries of other keys are left alone, as
 * systemd does) and returns how many there were. A bad signature is ERR_SEALING_PCRSIG_SIGNATURE:
 * a release must not ship a document with one.
 */
export function verifyPcrSignature(document: PcrSignatureDocument, publicKey: KeyObject): number {
  const pkfp = policyKeyFingerprint(publicKey);
  const pub = publicOf(publicKey);
  let verified = 0;
  for (const [bank, entries] of Object.entries(document) as [PcrBank, readonly PcrSignatureEntry[]][]) {
    entries.forEach((entry, i) => {
      if (entry.pkfp !== pkfp) return;
      const message = approvalMessage(fromHex(entry.pol), entry.counter !== undefined);
      if (!cryptoVerify(bank, message, pub, Buffer.from(entry.sig, 'base64')))
        throw new SealingError('ERR_SEALING_PCRSIG_SIGNATURE', `signed PCR policy ${bank}[${i}]: the signature does not verify under the key ${pkfp}`, {
          bank,
          entry: i,
        });
      verified++;
    });
  }
  return verified;
}

/**
 * The entry approving `pol` for these PCRs of `bank` under `publicKey` (counter-bound entries when
 * `counterBound`), or undefined.
 */
export function findSignedPolicy(
  document: PcrSignatureDocument,
  publicKey: KeyObject,
  bank: PcrBank,
  pcrs: readonly number[],
  matches: (entry: PcrSignatureEntry) => boolean,
): PcrSignatureEntry | undefined {
  const pkfp = policyKeyFingerprint(publicKey);
  const wanted = [...pcrs].sort((a, b) => a - b).join(',');
  return (document[bank] ?? []).find((e) => e.pkfp === pkfp && e.pcrs.join(',') === wanted && matches(e));
}

/** An entry's signature (of `bank`) as the TPM takes it in VerifySignature (RSASSA, or ECDSA r and s from the DER). */
export function tpmSignature(entry: PcrSignatureEntry, bank: PcrBank, publicKey: KeyObject): structures.TPMT_SIGNATURE {
  const sig = new Uint8Array(Buffer.from(entry.sig, 'base64'));
  const hash = BANK_ALG[bank] as structures.TpmHashAlg;
  if (policyKeyKind(publicOf(publicKey)) === 'rsa') return { sigAlg: TPM_ALG.RSASSA, signature: { hash, sig } };
  try {
    const cursor = new DerCursor(parseDer(sig, 'ECDSA signature', DerTag.sequence), 'ECDSA signature');
    const integer = (field: string): Uint8Array => {
      const bytes = decodeInteger(cursor.next(field, DerTag.integer), field);
      // DER INTEGERs carry a leading zero when the top bit is set; the TPM takes the magnitude.
      return bytes[0] === 0 && bytes.length > 1 ? bytes.subarray(1) : bytes;
    };
    const signatureR = integer('r');
    const signatureS = integer('s');
    if (!cursor.done) formatError('the ECDSA signature has fields after r and s');
    return { sigAlg: TPM_ALG.ECDSA, signature: { hash, signatureR, signatureS } };
  } catch (e) {
    if (e instanceof DerError) formatError(`the ECDSA signature is not DER (${e.message})`);
    throw e;
  }
}
