// EK certificate validation: each failed check has its own stable code (parse, key mismatch,
// validity, chain), so enrollment can say which one to fix. Certificates are made in-process by
// the software TPM's X.509 issuer; the swtpm-localca chain is in crosscheck-ekcert.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { isVouchError } from '../../src/errors/index.ts';
import { tpmPublicFromKey } from '../../src/tpm/crypto/index.ts';
import { verifyEkCertificate } from '../../src/tpm/ek-certificate.ts';
import { createCertificateAuthority, issueEkCertificate } from '../../src/tpm/sim/ek-cert.ts';
import { ekTemplate } from '../../src/tpm/templates.ts';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const ca = createCertificateAuthority('Vouch test TPM vendor CA', { notBefore: new Date(now.getTime() - 365 * DAY) });
const ekKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const ek = tpmPublicFromKey(ekKey, ekTemplate('ecc'));
const leaf = issueEkCertificate(ca, ekKey, { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 30 * DAY) });
const trust = { roots: [ca.certificate], now };

test('a certificate for this EK issued by a configured root is accepted; the chain is leaf then root', () => {
  const chain = verifyEkCertificate(leaf, ek, trust);
  assert.equal(chain.length, 2);
  assert.ok(chain[1]!.raw.equals(Buffer.from(ca.certificate)));
  // PEM roots work as well as DER.
  verifyEkCertificate(leaf, ek, { roots: [chain[1]!.toString()], now });
});

test('ERR_TPM_EKCERT_PARSE: the EK certificate or a configured certificate is not X.509', () => {
  assert.throws(() => verifyEkCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), ek, trust), {
    code: 'ERR_TPM_EKCERT_PARSE',
    message: /the EK certificate is not an X.509/,
  });
  assert.throws(() => verifyEkCertificate(leaf.subarray(0, leaf.length - 10), ek, trust), { code: 'ERR_TPM_EKCERT_PARSE' });
  assert.throws(() => verifyEkCertificate(leaf, ek, { roots: [ca.certificate, 'not a certificate'], now }), {
    code: 'ERR_TPM_EKCERT_PARSE',
    message: /root certificate #1/,
  });
  assert.throws(() => verifyEkCertificate(leaf, ek, { ...trust, intermediates: [new Uint8Array(8)] }), {
    code: 'ERR_TPM_EKCERT_PARSE',
    message: /intermediate certificate #0/,
  });
});

test("ERR_TPM_EKCERT_KEY_MISMATCH: a genuine certificate presented for another TPM's EK", () => {
  const otherEk = tpmPublicFromKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ekTemplate('ecc'));
  assert.throws(() => verifyEkCertificate(leaf, otherEk, trust), { code: 'ERR_TPM_EKCERT_KEY_MISMATCH', message: /different public key/ });
});

test('ERR_TPM_EKCERT_EXPIRED: the EK certificate or its root outside the validity period', () => {
  assert.throws(() => verifyEkCertificate(leaf, ek, { ...trust, now: new Date(now.getTime() + 31 * DAY) }), {
    code: 'ERR_TPM_EKCERT_EXPIRED',
    message: /EK certificate .* is not valid at/,
  });
  assert.throws(() => verifyEkCertificate(leaf, ek, { ...trust, now: new Date(now.getTime() - 2 * DAY) }), { code: 'ERR_TPM_EKCERT_EXPIRED' });
  const expiredRoot = createCertificateAuthority('Vouch test TPM vendor CA', {
    key: ca.key,
    notBefore: new Date(now.getTime() - 20 * DAY),
    notAfter: new Date(now.getTime() - DAY),
  });
  assert.throws(() => verifyEkCertificate(leaf, ek, { roots: [expiredRoot.certificate], now }), {
    code: 'ERR_TPM_EKCERT_EXPIRED',
    message: /root CA certificate/,
  });
});

test('ERR_TPM_EKCERT_CHAIN: no configured root, another CA of the same name, an end-entity certificate as issuer', () => {
  assert.throws(() => verifyEkCertificate(leaf, ek, { roots: [], now }), { code: 'ERR_TPM_EKCERT_CHAIN', message: /does not reach a trusted root/ });
  // Same subject name, different key: the signature check refuses it.
  const impostor = createCertificateAuthority('Vouch test TPM vendor CA', { notBefore: new Date(now.getTime() - DAY) });
  assert.throws(() => verifyEkCertificate(leaf, ek, { roots: [impostor.certificate], now }), { code: 'ERR_TPM_EKCERT_CHAIN' });
  // A leaf "issued" by an end-entity certificate (CA:FALSE, no keyCertSign) that chains to the root.
  const endEntityKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const endEntity = issueEkCertificate(ca, endEntityKeys.publicKey, { notBefore: new Date(now.getTime() - DAY) });
  const forged = issueEkCertificate({ key: endEntityKeys.privateKey, certificate: endEntity }, ekKey, { notBefore: new Date(now.getTime() - DAY) });
  assert.throws(() => verifyEkCertificate(forged, ek, { roots: [ca.certificate], intermediates: [endEntity], now }), { code: 'ERR_TPM_EKCERT_CHAIN' });
});

test('mutated EK certificates are refused with a typed error only', () => {
  fc.assert(
    fc.property(fc.nat(leaf.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
      const mutated = Uint8Array.from(leaf);
      mutated[at]! ^= flip;
      try {
        verifyEkCertificate(mutated, ek, trust);
      } catch (e) {
        assert.ok(isVouchError(e) && /^ERR_TPM_(EKCERT_|CRYPTO_)/.test(e.code), `untyped or unexpected error: ${String(e)}`);
      }
    }),
    { numRuns: 300 },
  );
});
