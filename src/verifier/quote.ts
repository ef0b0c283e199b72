/**
 * Quote verification, pure and synchronous: AK public + TPMS_ATTEST bytes + TPMT_SIGNATURE
 * bytes + PCR values + the expected qualifying data → a VerifiedQuote, or a VerifierError that
 * says precisely what failed.
 *
 * Order matters: the signature is checked over the attestation bytes exactly as received before
 * anything in them is believed (go-attestation validateQuote); then magic and type (only a
 * restricted key's signature over TPM_GENERATED_VALUE proves the TPM built the structure, so an
 * unrestricted "AK" is refused: TPM2_Sign with it could forge any TPMS_ATTEST); then the nonce,
 * compared in constant time (a mismatch means a replay or a quote made for someone else); then
 * the PCR selection and pcrDigest = H_sigHash(selected values in selection order).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { constantTimeEqual, toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { HASH_SIZE, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST, algLabel, algName } from '../tpm/constants.ts';
import { publicKeyFromTpm, tpmHash, verifyTpmSignature, type SigningScheme } from '../tpm/crypto/index.ts';
import { fromPcrSelection, type PcrSelection } from '../tpm/pcr-selection.ts';
import { decode } from '../tpm/schema/index.ts';
import { TPMS_ATTEST, TPMT_SIGNATURE, type TPML_PCR_SELECTION, type TPMT_PUBLIC } from '../tpm/structures.ts';
import { VerifierError, type VerifierErrorCodeName } from './errors.ts';

/** One bank of PCR values: PCR index → value (as PCR_Read or a tpm2-tools file gives them). */
export interface PcrBankValues {
  readonly hash: number;
  readonly values: ReadonlyMap<number, Uint8Array>;
}

/** A PCR selection in readable form (bank and PCR indices). */
export type PcrBankSelection = PcrSelection;

/** The attestation key: its TPMT_PUBLIC (attributes and scheme are then enforced), a KeyObject, or SPKI PEM. */
export type AttestationKey = TPMT_PUBLIC | KeyObject | string;

export interface QuoteToVerify {
  readonly ak: AttestationKey;
  /** TPMS_ATTEST bytes as received (tpm2_quote -m). Untrusted until the signature verifies. */
  readonly untrustedAttest: Uint8Array;
  /** TPMT_SIGNATURE bytes (tpm2_quote -s, tss format). */
  readonly untrustedSignature: Uint8Array;
  /** Values for at least every quoted PCR; extra values are ignored and not returned. */
  readonly pcrs: readonly PcrBankValues[];
  /** The nonce / qualifying data the quote must carry in extraData. */
  readonly expectedExtraData: Uint8Array;
  /** When given, the quote must cover exactly these PCRs (per bank, order of banks irrelevant). */
  readonly expectedSelection?: readonly PcrBankSelection[];
}

declare const verifiedQuoteBrand: unique symbol;

/** Only verifyQuote makes these: later stages (event-log replay, policy) accept nothing else. */
export interface VerifiedQuote {
  readonly [verifiedQuoteBrand]: true;
  readonly attest: TPMS_ATTEST;
  readonly scheme: SigningScheme;
  /** The quoted PCR values, banks in quote order. */
  readonly pcrs: readonly PcrBankValues[];
  readonly selection: readonly PcrBankSelection[];
  readonly pcrDigest: Uint8Array;
}

function fail(code: VerifierErrorCodeName, message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
  throw new VerifierError(code, message, details, cause === undefined ? undefined : { cause });
}

/** A selection in tpm2-tools PCR-list syntax (sha256:0,1,7+sha1:0), "(none)" when empty. */
export function describeSelection(sel: readonly PcrBankSelection[]): string {
  return sel.map((s) => `${algLabel(s.hash)}:${s.pcrs.join(',')}`).join('+') || '(none)';
}

/**
 * Imported AK keys by public area: a verifier checks many quotes of the same enrolled AKs, and
 * importing the key costs as much as verifying the signature. Weak, so forgotten AKs go away.
 */
const importedAks = new WeakMap<TPMT_PUBLIC, { key: KeyObject; scheme?: SigningScheme }>();

function akKey(ak: AttestationKey): { key: KeyObject; scheme?: SigningScheme } {
  if (typeof ak === 'object' && 'type' in ak && typeof ak.type === 'number') {
    const cached = importedAks.get(ak);
    if (cached) return cached;
    const imported = importAk(ak);
    importedAks.set(ak, imported);
    return imported;
  }
  return importAk(ak);
}

function importAk(ak: AttestationKey): { key: KeyObject; scheme?: SigningScheme } {
  if (typeof ak === 'string') {
    try {
      return { key: createPublicKey(ak) };
    } catch (e) {
      return fail('ERR_QUOTE_AK_INVALID', `the AK public key does not parse as PEM: ${(e as Error).message}`, {}, e);
    }
  }
  if (!('type' in ak) || typeof ak.type !== 'number') return { key: ak };
  const pub = ak;
  if (!pub.objectAttributes.sign || !pub.objectAttributes.restricted) {
    fail('ERR_QUOTE_AK_INVALID', 'the AK must be a restricted signing key: only then does a signature over TPM_GENERATED_VALUE prove the TPM made the quote', {
      sign: pub.objectAttributes.sign,
      restricted: pub.objectAttributes.restricted,
    });
  }
  let key: KeyObject;
  try {
    key = publicKeyFromTpm(pub);
  } catch (e) {
    return fail('ERR_QUOTE_AK_INVALID', `the AK public area is not a usable key: ${(e as Error).message}`, {}, e);
  }
  const scheme = (pub.parameters as { scheme?: { scheme: number; details: { hashAlg: number } | null } }).scheme;
  if (scheme && scheme.scheme !== TPM_ALG.NULL && scheme.details) {
    return { key, scheme: { sigAlg: scheme.scheme as SigningScheme['sigAlg'], hashAlg: scheme.details.hashAlg } };
  }
  return { key };
}

function sameSelection(a: readonly PcrBankSelection[], b: readonly PcrBankSelection[]): boolean {
  const norm = (sel: readonly PcrBankSelection[]): string =>
    sel
      .filter((s) => s.pcrs.length > 0)
      .map((s) => `${s.hash}:${[...s.pcrs].sort((x, y) => x - y).join(',')}`)
      .sort()
      .join('|');
  return norm(a) === norm(b);
}

/**
 * Verifies a quote; throws VerifierError (ERR_QUOTE_*) with the precise reason.
 *
 * @example
 *   const quote = verifyQuote({ ak: node.akPublic, untrustedAttest, untrustedSignature, pcrs, expectedExtraData: qualifyingData });
 *   // quote.pcrs now holds exactly the values the TPM signed: replay the event log against these
 *
 * Caller's duties: the AK must be bound to a trusted EK (enrollment's credential activation) —
 * with a PEM or KeyObject its attributes cannot be checked here, so pass the TPMT_PUBLIC when you
 * have it; expectedExtraData must be fresh per challenge and used once (else replays pass); use
 * the returned `pcrs`, not the ones supplied (extra, unquoted values are dropped). For
 * throughput, keep one TPMT_PUBLIC object per enrolled AK and pass that same object each time:
 * the imported key is cached per object (importing costs about a third of an ECDSA verification).
 */
export function verifyQuote(q: QuoteToVerify): VerifiedQuote {
  const { key, scheme: akScheme } = akKey(q.ak);

  let signature: TPMT_SIGNATURE;
  try {
    signature = decode(TPMT_SIGNATURE, q.untrustedSignature, 'TPMT_SIGNATURE');
  } catch (e) {
    return fail('ERR_QUOTE_MALFORMED', `quote signature: ${(e as Error).message}`, { part: 'signature', ...(isVouchError(e) ? { cause: e.code } : {}) }, e);
  }

  let scheme: SigningScheme;
  try {
    scheme = verifyTpmSignature(key, { message: q.untrustedAttest }, signature);
  } catch (e) {
    if (isVouchError(e) && e.code !== 'ERR_TPM_CRYPTO_UNSUPPORTED') fail('ERR_QUOTE_SIGNATURE', `quote signature: ${e.message}`, { ...e.details }, e);
    return fail('ERR_QUOTE_SIGNATURE', `quote signature cannot be checked: ${(e as Error).message}`, {}, e);
  }
  if (akScheme && (akScheme.sigAlg !== scheme.sigAlg || akScheme.hashAlg !== scheme.hashAlg)) {
    fail(
      'ERR_QUOTE_SIGNATURE',
      `quote signed with ${algName(scheme.sigAlg)}/${algName(scheme.hashAlg)} but the AK's scheme is ${algName(akScheme.sigAlg)}/${algName(akScheme.hashAlg)}`,
      {
        expected: akScheme,
        got: scheme,
      },
    );
  }

  let attest: TPMS_ATTEST;
  try {
    attest = decode(TPMS_ATTEST, q.untrustedAttest, 'TPMS_ATTEST');
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
  if (!constantTimeEqual(attest.extraData, q.expectedExtraData)) {
    fail(
      'ERR_QUOTE_NONCE_MISMATCH',
      `quote extraData ${toHex(attest.extraData)} is not the expected nonce ${toHex(q.expectedExtraData)}: replayed or made for another challenge`,
      {
        expected: toHex(q.expectedExtraData),
        got: toHex(attest.extraData),
      },
    );
  }

  const info = attest.attested as { pcrSelect: TPML_PCR_SELECTION; pcrDigest: Uint8Array };
  const selection = fromPcrSelection(info.pcrSelect);
  if (q.expectedSelection && !sameSelection(q.expectedSelection, selection)) {
    fail('ERR_QUOTE_SELECTION_MISMATCH', `quote covers ${describeSelection(selection)}, expected ${describeSelection(q.expectedSelection)}`, {
      expected: describeSelection(q.expectedSelection),
      got: describeSelection(selection),
    });
  }

  const quoted: PcrBankValues[] = [];
  const ordered: Uint8Array[] = [];
  for (const bank of selection) {
    const supplied = q.pcrs.find((b) => b.hash === bank.hash);
    const values = new Map<number, Uint8Array>();
    for (const pcr of bank.pcrs) {
      const v = supplied?.values.get(pcr);
      if (!v) fail('ERR_QUOTE_PCR_MISSING', `no ${algLabel(bank.hash)} value supplied for quoted PCR ${pcr}`, { bank: algLabel(bank.hash), pcr });
      if (v.length !== HASH_SIZE[bank.hash]) {
        fail('ERR_QUOTE_PCR_DIGEST_MISMATCH', `${algLabel(bank.hash)} PCR ${pcr} value has ${v.length} bytes, not ${HASH_SIZE[bank.hash] ?? '?'}`, {
          bank: algLabel(bank.hash),
          pcr,
        });
      }
      values.set(pcr, v);
      ordered.push(v);
    }
    quoted.push({ hash: bank.hash, values });
  }
  const computed = tpmHash(scheme.hashAlg, ...ordered);
  if (!constantTimeEqual(computed, info.pcrDigest)) {
    fail(
      'ERR_QUOTE_PCR_DIGEST_MISMATCH',
      `the supplied values of ${describeSelection(selection)} hash to ${toHex(computed)}, the quote says ${toHex(info.pcrDigest)}`,
      {
        expected: toHex(info.pcrDigest),
        got: toHex(computed),
        selection: describeSelection(selection),
      },
    );
  }
  return { attest, scheme, pcrs: quoted, selection, pcrDigest: info.pcrDigest } as unknown as VerifiedQuote;
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
