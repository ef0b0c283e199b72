/**
 * Quote verification, pure and synchronous: AK public + TPMS_ATTEST bytes + TPMT_SIGNATURE
 * bytes + PCR values + the expected qualifying data and selection → a VerifiedQuote, or a
 * VerifierError that says precisely what failed.
 *
 * Order matters: the signature is checked over the attestation bytes exactly as received before
 * anything in them is believed (go-attestation validateQuote); its hash must be one the caller
 * allows (SHA-1 signatures are forgeable by chosen-prefix collisions, so only where a policy says
 * so); then magic and type (only a restricted key's signature over TPM_GENERATED_VALUE proves the
 * TPM built the structure, so an unrestricted "AK" is refused: TPM2_Sign with it could forge any
 * TPMS_ATTEST); then the nonce, compared in constant time (a mismatch means a replay or a quote
 * made for someone else); then the PCR selection, which must be exactly the one asked for, and
 * pcrDigest = H_sigHash(selected values in selection order).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { constantTimeEqual, fromHex, toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { HashAlgorithm, hashAlgorithmById, type HashAlgorithmName, type PcrValues } from '../hash/index.ts';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST, algLabel, algName } from '../tpm/constants.ts';
import { publicKeyFromTpm, tpmHash, verifyTpmSignature, type SigningScheme } from '../tpm/crypto/index.ts';
import { fromPcrSelection, type PcrSelection } from '../tpm/pcr-selection.ts';
import { decode } from '../tpm/schema/index.ts';
import { TPMS_ATTEST, TPMT_SIGNATURE, type TPML_PCR_SELECTION, type TPMT_PUBLIC } from '../tpm/structures.ts';
import { VerifierError, type VerifierErrorCodeName } from './errors.ts';

/**
 * The attestation key. Its TPMT_PUBLIC lets the verifier enforce that it is a restricted signing
 * key with a fixed scheme; a bare public key (PEM/SPKI, as `tpm2_checkquote -u` takes) carries no
 * TPM attributes, so using one is an explicit choice and the result says the attributes went
 * unchecked.
 */
export type AttestationKey = TPMT_PUBLIC | { readonly barePublicKey: KeyObject | string };

/** Hashes a quote signature may use unless the caller says otherwise. */
export const DEFAULT_QUOTE_SIGNATURE_HASHES: readonly HashAlgorithmName[] = ['sha256', 'sha384', 'sha512'];

export interface QuoteToVerify {
  readonly ak: AttestationKey;
  /** TPMS_ATTEST bytes as received (tpm2_quote -m). Untrusted until the signature verifies. */
  readonly untrustedAttest: Uint8Array;
  /** TPMT_SIGNATURE bytes (tpm2_quote -s, tss format). */
  readonly untrustedSignature: Uint8Array;
  /** Values for at least every quoted PCR; extra values are ignored and not returned. */
  readonly pcrs: PcrValues;
  /**
   * The qualifying data the quote must carry in extraData. Empty only for quotes that were made
   * without one (some cloud vTPM quotes): such a quote proves nothing about freshness, and the
   * result says so (`fresh: false`).
   */
  readonly expectedExtraData: Uint8Array;
  /** The quote must cover exactly these PCRs (per bank; order of banks irrelevant). */
  readonly expectedSelection: readonly PcrSelection[];
  /** Hashes the signature may use (default DEFAULT_QUOTE_SIGNATURE_HASHES; add sha1 only where policy accepts it). */
  readonly allowedSignatureHashes?: readonly HashAlgorithmName[];
}

declare const verifiedQuoteBrand: unique symbol;

/** TPMS_CLOCK_INFO of the quote: a caller sees resets, restarts and whether the clock is safe. */
export interface QuoteClock {
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  /** False after an unorderly shutdown: the clock may have gone back since an earlier quote. */
  readonly safe: boolean;
}

/** Only verifyQuote makes these: later stages (event-log replay, policy) accept nothing else. */
export interface VerifiedQuote {
  readonly [verifiedQuoteBrand]: true;
  readonly attest: TPMS_ATTEST;
  readonly scheme: SigningScheme;
  /** Exactly the quoted PCR values, nothing else. */
  readonly pcrs: PcrValues;
  readonly selection: readonly PcrSelection[];
  readonly pcrDigest: Uint8Array;
  readonly clock: QuoteClock;
  readonly firmwareVersion: bigint;
  /** False when the quote carries no qualifying data: it could have been made at any time. */
  readonly fresh: boolean;
  /** Whether the AK's TPM attributes (restricted, sign, fixed scheme) were checked: false for a bare public key. */
  readonly akAttributesChecked: boolean;
}

function fail(code: VerifierErrorCodeName, message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
  throw new VerifierError(code, message, details, cause === undefined ? undefined : { cause });
}

/** A selection in tpm2-tools PCR-list syntax (sha256:0,1,7+sha1:0), "(none)" when empty. */
export function describeSelection(sel: readonly PcrSelection[]): string {
  return sel.map((s) => `${algLabel(s.hash)}:${s.pcrs.join(',')}`).join('+') || '(none)';
}

interface ImportedAk {
  readonly key: KeyObject;
  /** The AK's own fixed scheme (TPMT_PUBLIC only). */
  readonly scheme?: SigningScheme;
  readonly attributesChecked: boolean;
}

/**
 * Imported AK keys by public area: a verifier checks many quotes of the same enrolled AKs, and
 * importing the key costs as much as verifying the signature. Weak, so forgotten AKs go away.
 */
const importedAks = new WeakMap<TPMT_PUBLIC, ImportedAk>();

function isTpmtPublic(ak: AttestationKey): ak is TPMT_PUBLIC {
  return 'objectAttributes' in ak;
}

function akKey(ak: AttestationKey): ImportedAk {
  if (!isTpmtPublic(ak)) return importBareKey(ak.barePublicKey);
  const cached = importedAks.get(ak);
  if (cached) return cached;
  const imported = importTpmAk(ak);
  importedAks.set(ak, imported);
  return imported;
}

function importBareKey(key: KeyObject | string): ImportedAk {
  if (typeof key !== 'string') return { key, attributesChecked: false };
  try {
    return { key: createPublicKey(key), attributesChecked: false };
  } catch (e) {
    return fail('ERR_QUOTE_AK_INVALID', `the AK public key does not parse as PEM: ${(e as Error).message}`, {}, e);
  }
}

function importTpmAk(pub: TPMT_PUBLIC): ImportedAk {
  if (!pub.objectAttributes.sign || !pub.objectAttributes.restricted) {
    fail('ERR_QUOTE_AK_INVALID', 'the AK must be a restricted signing key: only then does a signature over TPM_GENERATED_VALUE prove the TPM made the quote', {
      sign: pub.objectAttributes.sign,
      restricted: pub.objectAttributes.restricted,
    });
  }
  const scheme = (pub.parameters as { scheme?: { scheme: number; details: { hashAlg: number } | null } }).scheme;
  if (!scheme || scheme.scheme === TPM_ALG.NULL || !scheme.details) {
    // A restricted key with TPM_ALG_NULL would let each TPM2_Quote caller pick the scheme and hash.
    fail('ERR_QUOTE_AK_INVALID', 'the AK has no fixed signing scheme (TPM_ALG_NULL): the caller of each quote could choose a weaker one', {});
  }
  let key: KeyObject;
  try {
    key = publicKeyFromTpm(pub);
  } catch (e) {
    return fail('ERR_QUOTE_AK_INVALID', `the AK public area is not a usable key: ${(e as Error).message}`, {}, e);
  }
  return { key, scheme: { sigAlg: scheme.scheme as SigningScheme['sigAlg'], hashAlg: scheme.details.hashAlg }, attributesChecked: true };
}

/** Whether two selections name the same PCRs of the same banks (order and empty banks irrelevant). */
export function sameSelection(a: readonly PcrSelection[], b: readonly PcrSelection[]): boolean {
  return normalizedSelection(a) === normalizedSelection(b);
}

function normalizedSelection(sel: readonly PcrSelection[]): string {
  return sel
    .filter((s) => s.pcrs.length > 0)
    .map((s) => `${s.hash}:${[...new Set(s.pcrs)].sort((x, y) => x - y).join(',')}`)
    .sort()
    .join('|');
}

function decodeSignature(bytes: Uint8Array): TPMT_SIGNATURE {
  try {
    return decode(TPMT_SIGNATURE, bytes, 'TPMT_SIGNATURE');
  } catch (e) {
    return fail('ERR_QUOTE_MALFORMED', `quote signature: ${(e as Error).message}`, { part: 'signature', ...(isVouchError(e) ? { cause: e.code } : {}) }, e);
  }
}

function checkSignature(q: QuoteToVerify, ak: ImportedAk): SigningScheme {
  const signature = decodeSignature(q.untrustedSignature);
  let scheme: SigningScheme;
  try {
    scheme = verifyTpmSignature(ak.key, { message: q.untrustedAttest }, signature);
  } catch (e) {
    if (isVouchError(e) && e.code !== 'ERR_TPM_CRYPTO_UNSUPPORTED') fail('ERR_QUOTE_SIGNATURE', `quote signature: ${e.message}`, { ...e.details }, e);
    return fail('ERR_QUOTE_SIGNATURE', `quote signature cannot be checked: ${(e as Error).message}`, {}, e);
  }
  if (ak.scheme && (ak.scheme.sigAlg !== scheme.sigAlg || ak.scheme.hashAlg !== scheme.hashAlg)) {
    fail(
      'ERR_QUOTE_SIGNATURE',
      `quote signed with ${algName(scheme.sigAlg)}/${algName(scheme.hashAlg)} but the AK's scheme is ${algName(ak.scheme.sigAlg)}/${algName(ak.scheme.hashAlg)}`,
      { expected: ak.scheme, got: scheme },
    );
  }
  const allowed = q.allowedSignatureHashes ?? DEFAULT_QUOTE_SIGNATURE_HASHES;
  const hash = hashAlgorithmById(scheme.hashAlg);
  if (hash === undefined || !allowed.includes(hash)) {
    fail('ERR_QUOTE_SIGNATURE_HASH', `quote signed with ${algName(scheme.hashAlg)}, which is not allowed here (allowed: ${allowed.join(', ')})`, {
      hash: hash ?? algName(scheme.hashAlg),
      allowed,
    });
  }
  return scheme;
}

function decodeAttest(bytes: Uint8Array): TPMS_ATTEST {
  let attest: TPMS_ATTEST;
  try {
    attest = decode(TPMS_ATTEST, bytes, 'TPMS_ATTEST');
  } catch (e) {
    return fail('ERR_QUOTE_MALFORMED', `quote message: ${(e as Error).message}`, { part: 'attest' }, e);
  }
  if (attest.magic !== TPM_GENERATED_VALUE) {
    fail(
      'ERR_QUOTE_NOT_A_QUOTE',
      `TPMS_ATTEST.magic is 0x${attest.magic.toString(16)}, not TPM_GENERATED_VALUE 0xff544347: the TPM did not generate this structure`,
      { magic: attest.magic },
    );
  }
  if (attest.type !== TPM_ST.ATTEST_QUOTE) {
    fail(
      'ERR_QUOTE_NOT_A_QUOTE',
      `TPMS_ATTEST.type is 0x${attest.type.toString(16)}, not TPM_ST_ATTEST_QUOTE (0x8018): a different attestation was presented as a quote`,
      { type: attest.type },
    );
  }
  return attest;
}

/** The quoted values in selection order, checked for presence and size. */
function quotedValues(selection: readonly PcrSelection[], supplied: PcrValues): { values: PcrValues; ordered: Uint8Array[] } {
  const values: Partial<Record<HashAlgorithmName, Record<string, string>>> = {};
  const ordered: Uint8Array[] = [];
  for (const { hash, pcrs } of selection) {
    const bank = hashAlgorithmById(hash);
    if (bank === undefined) fail('ERR_QUOTE_MALFORMED', `the quote selects PCR bank ${algName(hash)}, which is not a hash algorithm`, { hash });
    const out = (values[bank] ??= {});
    for (const pcr of pcrs) {
      const hex = supplied[bank]?.[String(pcr)];
      if (hex === undefined) fail('ERR_QUOTE_PCR_MISSING', `no ${bank} value supplied for quoted PCR ${pcr}`, { bank, pcr });
      const value = pcrValue(hex, bank, pcr);
      out[String(pcr)] = toHex(value);
      ordered.push(value);
    }
  }
  return { values, ordered };
}

function pcrValue(hex: string, bank: HashAlgorithmName, pcr: number): Uint8Array {
  let value: Uint8Array;
  try {
    value = fromHex(hex);
  } catch (e) {
    return fail('ERR_QUOTE_PCR_DIGEST_MISMATCH', `${bank} PCR ${pcr} value is not hex`, { bank, pcr }, e);
  }
  const size = HashAlgorithm[bank].size;
  if (value.length !== size) fail('ERR_QUOTE_PCR_DIGEST_MISMATCH', `${bank} PCR ${pcr} value has ${value.length} bytes, not ${size}`, { bank, pcr });
  return value;
}

/**
 * Verifies a quote; throws VerifierError (ERR_QUOTE_*) with the precise reason.
 *
 * @example
 *   const quote = verifyQuote({ ak: node.akPublic, untrustedAttest, untrustedSignature, pcrs,
 *     expectedExtraData: qualifyingData, expectedSelection: ALL_SHA256_PCRS });
 *   // quote.pcrs now holds exactly the values the TPM signed: replay the event log against these
 *
 * Caller's duties: the AK must be bound to a trusted EK (enrollment's credential activation);
 * expectedExtraData must be fresh per challenge and used once (else replays pass); use the
 * returned `pcrs`, not the ones supplied; look at `clock` if resets matter to you. For
 * throughput, keep one TPMT_PUBLIC object per enrolled AK and pass that same object each time:
 * the imported key is cached per object (importing costs about a third of an ECDSA verification).
 */
export function verifyQuote(q: QuoteToVerify): VerifiedQuote {
  const ak = akKey(q.ak);
  const scheme = checkSignature(q, ak);
  const attest = decodeAttest(q.untrustedAttest);
  if (!constantTimeEqual(attest.extraData, q.expectedExtraData)) {
    fail(
      'ERR_QUOTE_NONCE_MISMATCH',
      `quote extraData ${toHex(attest.extraData)} is not the expected nonce ${toHex(q.expectedExtraData)}: replayed or made for another challenge`,
      { expected: toHex(q.expectedExtraData), got: toHex(attest.extraData) },
    );
  }

  const info = attest.attested as { pcrSelect: TPML_PCR_SELECTION; pcrDigest: Uint8Array };
  const selection = fromPcrSelection(info.pcrSelect);
  if (!sameSelection(q.expectedSelection, selection)) {
    fail('ERR_QUOTE_SELECTION_MISMATCH', `quote covers ${describeSelection(selection)}, expected ${describeSelection(q.expectedSelection)}`, {
      expected: describeSelection(q.expectedSelection),
      got: describeSelection(selection),
    });
  }

  const { values, ordered } = quotedValues(selection, q.pcrs);
  const computed = tpmHash(scheme.hashAlg, ...ordered);
  if (!constantTimeEqual(computed, info.pcrDigest)) {
    fail(
      'ERR_QUOTE_PCR_DIGEST_MISMATCH',
      `the supplied values of ${describeSelection(selection)} hash to ${toHex(computed)}, the quote says ${toHex(info.pcrDigest)}`,
      { expected: toHex(info.pcrDigest), got: toHex(computed), selection: describeSelection(selection) },
    );
  }
  return {
    attest,
    scheme,
    pcrs: values,
    selection,
    pcrDigest: info.pcrDigest,
    clock: { ...attest.clockInfo },
    firmwareVersion: attest.firmwareVersion,
    fresh: q.expectedExtraData.length > 0,
    akAttributesChecked: ak.attributesChecked,
  } as unknown as VerifiedQuote;
}

/** The verdict form of verifyQuote, for reporting: never throws for a bad quote. */
export type QuoteVerdict =
  | { readonly verified: true; readonly quote: VerifiedQuote }
  | { readonly verified: false; readonly code: VerifierErrorCodeName; readonly reason: string; readonly details: Readonly<Record<string, unknown>> };

export function checkQuote(q: QuoteToVerify): QuoteVerdict {
  try {
    return { verified: true, quote: verifyQuote(q) };
  } catch (e) {
    if (e instanceof VerifierError) return { verified: false, code: e.code as VerifierErrorCodeName, reason: e.message, details: e.details };
    throw e;
  }
}
