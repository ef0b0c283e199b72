// What binds a quote to one challenge and one agent (docs/design.md "Attestation", step 2): the quote's
// qualifying data is SHA-256(nonce ‖ JWK thumbprint of the agent's ephemeral public key). The TPM
// signs it, so the quote proves the key was chosen before the quote was made — a response (the
// secrets JWE to that key) replayed to another agent, or a quote replayed with another key, is
// useless.
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

/** RFC 7638 thumbprint (SHA-256) of a public JWK, as raw bytes. */
export async function jwkThumbprint(jwk: JWK): Promise<Uint8Array> {
  return new Uint8Array(Buffer.from(await calculateJwkThumbprint(jwk, 'sha256'), 'base64url'));
}

/** The quote's extraData for a challenge nonce and the agent's ephemeral public key. */
export async function qualifyingData(nonce: Uint8Array, ephemeralPublic: JWK): Promise<Uint8Array> {
  return new Uint8Array(
    createHash('sha256')
      .update(nonce)
      .update(await jwkThumbprint(ephemeralPublic))
      .digest(),
  );
}
