// EK certificates from a real swtpm manufactured by swtpm_setup --create-ek-cert with
// swtpm-localca: read from NV by Vouch, validated to the local CA and bound to the EK the TPM
// derives; a certificate for another key, or a chain to an unconfigured CA, is rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tpm } from '../../src/tpm/client.ts';
import { tpmPublicFromKey } from '../../src/tpm/crypto/index.ts';
import { verifyEkCertificate } from '../../src/tpm/ek-certificate.ts';
import { ekTemplate } from '../../src/tpm/templates.ts';
import { startSwtpm } from '../helpers/swtpm.ts';

const P384_EK_HANDLE = 0x81010016;

test('EK certificates read from swtpm NV validate to the swtpm-localca CA and certify exactly the TPM EKs', async (t) => {
  const swtpm = await startSwtpm(t, { manufactured: true });
  if (!swtpm?.transport || !swtpm.caDir) return;
  const tpm = new Tpm(swtpm.transport);
  const root = await readFile(join(swtpm.caDir, 'swtpm-localca-rootca-cert.pem'), 'utf8');
  const issuer = await readFile(join(swtpm.caDir, 'issuercert.pem'), 'utf8');
  const trust = { roots: [root], intermediates: [issuer], now: new Date() };

  const rsaCert = await tpm.readEkCertificate('RSA2048');
  const p384Cert = await tpm.readEkCertificate('ECC_P384');
  const rsaEk = await tpm.createEK('rsa');
  const rsaPublic = rsaEk.public.value;
  await rsaEk.flush();
  const p384Public = (await tpm.readPublic(P384_EK_HANDLE)).public.value;

  const chain = verifyEkCertificate(rsaCert, rsaPublic, trust);
  assert.equal(chain.length, 3, 'leaf, swtpm-localca issuer, root');
  assert.equal(chain[2]!.fingerprint256, new X509Certificate(root).fingerprint256);
  verifyEkCertificate(p384Cert, p384Public, trust);

  // A genuine certificate presented for another EK (the swap attack on enrollment) is refused.
  assert.throws(() => verifyEkCertificate(rsaCert, p384Public, trust), { code: 'ERR_TPM_EKCERT_KEY_MISMATCH', message: /different public key/ });
  const stranger = tpmPublicFromKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, ekTemplate('rsa'));
  assert.throws(() => verifyEkCertificate(rsaCert, stranger, trust), { code: 'ERR_TPM_EKCERT_KEY_MISMATCH', message: /different public key/ });
  // Without the local CA configured as a root, the chain does not reach trust.
  assert.throws(() => verifyEkCertificate(rsaCert, rsaPublic, { roots: [], intermediates: [issuer], now: new Date() }), {
    code: 'ERR_TPM_EKCERT_CHAIN',
    message: /trusted root/,
  });
  // Outside the validity period.
  assert.throws(() => verifyEkCertificate(rsaCert, rsaPublic, { ...trust, now: new Date('1999-01-01T00:00:00Z') }), {
    code: 'ERR_TPM_EKCERT_EXPIRED',
    message: /not valid at/,
  });
});
