/**
 * Attestation and signing commands (Part 3, 15, 18, 20): Quote, Certify, Sign, HMAC, VerifySignature.
 */
import * as C from '../commands.ts';
import { constantTimeEqual } from '../../bytes/index.ts';
import { HASH_SIZE, TPM_ALG, TPM_GENERATED_VALUE, TPM_RH, TPM_ST } from '../constants.ts';
import { TpmCryptoError, publicKeyFromTpm, signTpm, verifyTpmSignature, type Signed } from '../crypto/index.ts';
import { tpmHash } from '../names.ts';
import { TPM2B_ATTEST, type TPMS_ATTEST, type TPMT_SIGNATURE } from '../structures.ts';
import { selectedValues } from './pcrs.ts';
import { hmacSign } from './keys.ts';
import { FIRMWARE_VERSION, on, type Handler, type SimObject } from './model.ts';
import { failHandle, failParam } from './rc.ts';
import type { SoftwareTpm } from './simulator.ts';
import { checkTicket, verifiedTicket } from './tickets.ts';

const A = TPM_ALG;
const SCHEMES_BY_TYPE: Readonly<Record<number, readonly number[]>> = {
  [A.RSA]: [A.RSASSA, A.RSAPSS],
  [A.ECC]: [A.ECDSA],
  [A.KEYEDHASH]: [A.HMAC],
};

interface Scheme {
  readonly scheme: number;
  readonly hashAlg: number;
}

/**
 * The scheme a signature uses (Part 3, 20.2): the key's own when it has one (then inScheme must be
 * NULL or the same), else inScheme, which must then name one.
 */
function signingScheme(key: SimObject, inScheme: { scheme: number; details: unknown }, n: number): Scheme {
  const own = (key.public.value.parameters as { scheme: { scheme: number; details: { hashAlg: number } | null } }).scheme;
  const asked = inScheme.scheme === A.NULL ? undefined : { scheme: inScheme.scheme, hashAlg: (inScheme.details as { hashAlg: number }).hashAlg };
  let chosen: Scheme;
  if (own.scheme !== A.NULL) {
    chosen = { scheme: own.scheme, hashAlg: own.details!.hashAlg };
    if (asked && (asked.scheme !== chosen.scheme || asked.hashAlg !== chosen.hashAlg)) failParam('SCHEME', n, "inScheme differs from the key's scheme");
  } else {
    chosen = asked ?? failParam('SCHEME', n, 'the key has no scheme and inScheme is NULL');
  }
  if (!(SCHEMES_BY_TYPE[key.public.value.type] ?? []).includes(chosen.scheme)) failParam('SCHEME', n, 'the scheme does not fit the key type');
  if (!HASH_SIZE[chosen.hashAlg]) failParam('HASH', n, 'scheme hash not implemented');
  return chosen;
}

function signingKey(tpm: SoftwareTpm, handle: number, n: number): SimObject {
  const obj = tpm.object(handle, n);
  if (!obj.public.value.objectAttributes.sign) failHandle('KEY', n, 'not a signing key');
  if (!obj.sensitive) failHandle('KEY', n, 'a public-only key cannot sign');
  return obj;
}

/** Signs with the object's key: node:crypto keys through src/tpm/crypto, keyed-hash keys by HMAC. */
function sign(tpm: SoftwareTpm, obj: SimObject, scheme: Scheme, signed: Signed): TPMT_SIGNATURE {
  if (scheme.scheme === A.HMAC) {
    const digest = 'digest' in signed ? signed.digest : tpmHash(scheme.hashAlg, signed.message);
    return {
      sigAlg: A.HMAC,
      signature: { hashAlg: scheme.hashAlg as never, digest: hmacSign(scheme.hashAlg, obj.sensitive!.sensitive, digest) },
    };
  }
  return signTpm(tpm.privateKey(obj), { sigAlg: scheme.scheme as never, hashAlg: scheme.hashAlg }, signed, tpm.random);
}

/** Whether `sig` over `digest` verifies under the object's key. */
function verifies(obj: SimObject, digest: Uint8Array, sig: TPMT_SIGNATURE): boolean {
  const pub = obj.public.value;
  if (sig.sigAlg === A.HMAC) {
    const { hashAlg, digest: mac } = sig.signature as { hashAlg: number; digest: Uint8Array };
    return (
      pub.type === A.KEYEDHASH &&
      obj.sensitive !== null &&
      HASH_SIZE[hashAlg] !== undefined &&
      constantTimeEqual(hmacSign(hashAlg, obj.sensitive.sensitive, digest), mac)
    );
  }
  if (pub.type !== A.RSA && pub.type !== A.ECC) return false;
  try {
    verifyTpmSignature(publicKeyFromTpm(pub), { digest }, sig);
    return true;
  } catch (e) {
    if (e instanceof TpmCryptoError) return false;
    throw e;
  }
}

/** TPMS_ATTEST signed by `signHandle` (or unsigned with TPM_RH_NULL, as Certify allows). */
function attest(
  tpm: SoftwareTpm,
  signHandle: number,
  n: number,
  inScheme: { scheme: number; details: unknown },
  qualifyingData: Uint8Array,
  attested: (hashAlg: number) => Pick<TPMS_ATTEST, 'type' | 'attested'>,
): { info: ReturnType<typeof TPM2B_ATTEST.wrap>; signature: TPMT_SIGNATURE } {
  const signer = signHandle === TPM_RH.NULL ? undefined : signingKey(tpm, signHandle, n);
  const scheme = signer ? signingScheme(signer, inScheme, 2) : { scheme: A.NULL, hashAlg: A.SHA256 };
  const body = attested(scheme.hashAlg);
  const info = TPM2B_ATTEST.wrap({
    magic: TPM_GENERATED_VALUE,
    type: body.type,
    qualifiedSigner: signer ? signer.qualifiedName : new Uint8Array(0),
    extraData: qualifyingData,
    clockInfo: tpm.clockInfo(),
    firmwareVersion: (BigInt(FIRMWARE_VERSION.high) << 32n) | BigInt(FIRMWARE_VERSION.low),
    attested: body.attested,
  });
  const signature: TPMT_SIGNATURE = signer ? sign(tpm, signer, scheme, { message: info.bytes }) : { sigAlg: A.NULL, signature: null };
  return { info, signature };
}

export const attestHandlers: readonly (readonly [number, Handler])[] = [
  on(C.Quote, (tpm, h, p) => {
    const { info, signature } = attest(tpm, h.signHandle, 1, p.inScheme, p.qualifyingData, (hashAlg) => ({
      type: TPM_ST.ATTEST_QUOTE,
      attested: { pcrSelect: p.PCRselect, pcrDigest: tpmHash(hashAlg, ...selectedValues(tpm, p.PCRselect)) },
    }));
    return { quoted: info, signature };
  }),
  on(C.Certify, (tpm, h, p) => {
    const obj = tpm.object(h.objectHandle, 1);
    const { info, signature } = attest(tpm, h.signHandle, 2, p.inScheme, p.qualifyingData, () => ({
      type: TPM_ST.ATTEST_CERTIFY,
      attested: { name: obj.name, qualifiedName: obj.qualifiedName },
    }));
    return { certifyInfo: info, signature };
  }),
  on(C.Sign, (tpm, h, p) => {
    const obj = signingKey(tpm, h.keyHandle, 1);
    const scheme = signingScheme(obj, p.inScheme, 2);
    if (p.digest.length !== HASH_SIZE[scheme.hashAlg]) failParam('SIZE', 1, 'digest size does not match the scheme hash');
    // A restricted key signs only digests the TPM hashed itself (ticket), so it cannot be made to sign a forged TPMS_ATTEST.
    if (obj.public.value.objectAttributes.restricted && !checkTicket(tpm, p.validation, TPM_ST.HASHCHECK, p.digest))
      failParam('TICKET', 3, 'a restricted key needs a valid TPM2_Hash ticket');
    return { signature: sign(tpm, obj, scheme, { digest: p.digest }) };
  }),
  on(C.HMAC, (tpm, h, p) => {
    const obj = signingKey(tpm, h.handle, 1);
    if (obj.public.value.type !== A.KEYEDHASH) failHandle('TYPE', 1, 'TPM2_HMAC needs a keyed-hash key');
    const scheme = signingScheme(obj, p.hashAlg === A.NULL ? { scheme: A.NULL, details: null } : { scheme: A.HMAC, details: { hashAlg: p.hashAlg } }, 2);
    return { outHMAC: hmacSign(scheme.hashAlg, obj.sensitive!.sensitive, p.buffer) };
  }),
  on(C.VerifySignature, (tpm, h, p) => {
    const obj = tpm.object(h.keyHandle, 1);
    if (!obj.public.value.objectAttributes.sign) failHandle('KEY', 1, 'not a signing key');
    if (!verifies(obj, p.digest, p.signature)) failParam('SIGNATURE', 2, 'the signature does not verify');
    const hierarchy = obj.public.value.nameAlg === A.NULL ? TPM_RH.NULL : obj.hierarchy;
    return { validation: verifiedTicket(tpm, hierarchy, p.digest, obj.name) };
  }),
];
