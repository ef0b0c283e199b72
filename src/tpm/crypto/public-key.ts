/**
 * TPMT_PUBLIC → node:crypto KeyObject / PEM (SubjectPublicKeyInfo), for verifying TPM signatures
 * with node:crypto and writing keys in the form openssl and tpm2-tools read (`ak.pub.pem`).
 * RSA: modulus from unique, exponent 0 meaning 65537 (Part 2, 12.2.3.5). ECC: unique.x/y,
 * left-padded to the curve's size (a TPM may return a coordinate with leading zeros stripped).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_ECC_CURVE } from '../constants.ts';
import { TpmError } from '../errors.ts';
import type { TPMT_PUBLIC } from '../structures.ts';

const CURVES: Readonly<Record<number, { jwk: string; size: number }>> = {
  [TPM_ECC_CURVE.NIST_P256]: { jwk: 'P-256', size: 32 },
  [TPM_ECC_CURVE.NIST_P384]: { jwk: 'P-384', size: 48 },
  [TPM_ECC_CURVE.NIST_P521]: { jwk: 'P-521', size: 66 },
};

const b64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

function leftPad(b: Uint8Array, size: number, what: string): Uint8Array {
  if (b.length > size) throw new TpmError('ERR_TPM_BAD_SIZE', `${what}: ${b.length} bytes, curve coordinates have ${size}`, {});
  const out = new Uint8Array(size);
  out.set(b, size - b.length);
  return out;
}

/** The public key of an RSA or ECC TPM object (throws ERR_TPM_UNSUPPORTED for other types/curves). */
export function publicKeyFromTpmt(pub: TPMT_PUBLIC): KeyObject {
  try {
    if (pub.type === TPM_ALG.RSA) {
      const params = pub.parameters as { exponent: number };
      const modulus = pub.unique as Uint8Array;
      if (modulus.length === 0) throw new TpmError('ERR_TPM_BAD_SIZE', 'RSA public key without a modulus', {});
      const e = params.exponent === 0 ? 65537 : params.exponent;
      const eBytes = Buffer.alloc(4);
      eBytes.writeUInt32BE(e);
      let i = 0;
      while (i < 3 && eBytes[i] === 0) i++;
      return createPublicKey({ key: { kty: 'RSA', n: b64url(modulus), e: b64url(eBytes.subarray(i)) }, format: 'jwk' });
    }
    if (pub.type === TPM_ALG.ECC) {
      const params = pub.parameters as { curveID: number };
      const curve = CURVES[params.curveID];
      if (!curve) throw new TpmError('ERR_TPM_UNSUPPORTED', `ECC curve 0x${params.curveID.toString(16)} is not supported`, { curve: params.curveID });
      const point = pub.unique as { x: Uint8Array; y: Uint8Array };
      return createPublicKey({
        key: { kty: 'EC', crv: curve.jwk, x: b64url(leftPad(point.x, curve.size, 'x')), y: b64url(leftPad(point.y, curve.size, 'y')) },
        format: 'jwk',
      });
    }
  } catch (e) {
    if (e instanceof TpmError) throw e;
    throw new TpmError('ERR_TPM_BAD_VALUE', `not a valid public key: ${(e as Error).message}`, {}, { cause: e });
  }
  throw new TpmError('ERR_TPM_UNSUPPORTED', `object type 0x${pub.type.toString(16)} has no public key`, { type: pub.type });
}

/** PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as `tpm2_readpublic -f pem` writes. */
export function publicKeyPem(pub: TPMT_PUBLIC): string {
  return publicKeyFromTpmt(pub).export({ type: 'spki', format: 'pem' }).toString();
}
