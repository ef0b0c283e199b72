import { VouchError, defineErrorCodes, type ErrorDetails } from '../../errors/index.ts';

export const TpmCryptoErrorCode = defineErrorCodes('tpm-crypto', {
  ERR_TPM_CRYPTO_UNSUPPORTED: 'A hash, curve, symmetric cipher or signature scheme that the TPM software cryptography does not implement.',
  ERR_TPM_CRYPTO_KEY:
    'A TPMT_PUBLIC or key cannot be used as asked: wrong key type, point not on the curve, missing unique field, or a key that does not match its template.',
  ERR_TPM_CRYPTO_DECRYPT:
    'An encrypted seed or salt (TPM2B_ENCRYPTED_SECRET) could not be recovered: bad RSA-OAEP padding or label, or an ECC point that is not on the curve.',
  ERR_TPM_CRYPTO_INTEGRITY:
    'The outer HMAC of a credential blob or private area does not verify (TPM_RC_INTEGRITY): wrong key, wrong object Name, or altered bytes.',
  ERR_TPM_CRYPTO_SIZE: 'A value has a size the operation cannot take (credential longer than the EK name digest, blob shorter than its HMAC, bad KDF length).',
  ERR_TPM_CRYPTO_SIGNATURE: 'A TPMT_SIGNATURE does not verify under the given key, or its scheme/hash does not fit the key.',
});

export type TpmCryptoErrorCodeName = keyof typeof TpmCryptoErrorCode;

export class TpmCryptoError extends VouchError {
  constructor(code: TpmCryptoErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
