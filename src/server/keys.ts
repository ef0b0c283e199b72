// The server's EAR signing key (ES256, P-256): made at first start, kept by the key broker like
// any other secret (so every replica signs with the same key and a backup keeps it), published
// with every earlier version at /.well-known/jwks.json so results signed before a rotation still
// verify.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { SecretBroker } from '../broker/index.ts';

export const EAR_KEY_OWNER = 'server';
export const EAR_KEY_NAME = 'ear-signing-key';
export const EAR_ALGORITHM = 'ES256';
/** The media type of an EAR in JWT form (draft-ietf-rats-ear §4). */
const EAR_JWT_TYPE = 'application/eat+jwt';

export interface PublicKeySet {
  readonly keys: readonly JWK[];
}

export class EarKeys {
  readonly #signing: KeyObject;
  readonly #kid: string;
  readonly #jwks: PublicKeySet;

  private constructor(signing: KeyObject, kid: string, jwks: PublicKeySet) {
    this.#signing = signing;
    this.#kid = kid;
    this.#jwks = jwks;
  }

  /** Loads every version of the signing key, making the first one on a new store; signs with the newest. */
  static async open(broker: SecretBroker): Promise<EarKeys> {
    let newest = await broker.read(EAR_KEY_OWNER, EAR_KEY_NAME);
    if (!newest) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      try {
        await broker.issue(EAR_KEY_OWNER, EAR_KEY_NAME, der);
      } finally {
        der.fill(0);
      }
      newest = await broker.read(EAR_KEY_OWNER, EAR_KEY_NAME);
    }
    if (!newest) throw new Error('the EAR signing key vanished after it was issued');
    const keys: JWK[] = [];
    let signing: KeyObject | undefined;
    let kid = '';
    for (let version = newest.version; version >= 1; version--) {
      using secret = version === newest.version ? newest : await broker.read(EAR_KEY_OWNER, EAR_KEY_NAME, version);
      if (!secret) continue;
      const key = createPrivateKey({ key: secret.value, format: 'der', type: 'pkcs8' });
      const jwk = await exportJWK(createPublicKey(key));
      const id = await calculateJwkThumbprint(jwk, 'sha256');
      keys.push({ ...jwk, kid: id, alg: EAR_ALGORITHM, use: 'sig' });
      if (signing === undefined) {
        signing = key;
        kid = id;
      }
    }
    return new EarKeys(signing!, kid, { keys });
  }

  /** The public keys (newest first), as a JWK set. */
  get jwks(): PublicKeySet {
    return this.#jwks;
  }

  get keyId(): string {
    return this.#kid;
  }

  /** Signs an EAR claims set as a JWT. */
  sign(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: EAR_ALGORITHM, kid: this.#kid, typ: EAR_JWT_TYPE }).sign(this.#signing);
  }
}
