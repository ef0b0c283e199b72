// EK certificates from a real swtpm manufactured by swtpm_setup --create-ek-cert with
// swtpm-localca: read from NV by Vouch, validated to the local CA and bound to the EK the TPM
// derives, with `openssl verify` agreeing on the chain; a certificate for another key, or a chain
// to an unconfigured CA, is refused with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tpm } from '../../src/tpm/client.ts';
import { tpmPublicFromKey } from '../../src/tpm/crypto/index.ts';
import { ekTemplate } from '../../src/tpm/templates.ts';
import { EndorsementProblemCode, validateEkCertificate } from '../../src/verifier/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { run } from '../secureboot/fixtures.ts';

const P384_EK_HANDLE = 0x81010016;

test('EK certificates read from swtpm NV validate to the swtpm-localca CA and certify exactly the TPM EKs', async (t) => {
  const swtpm = await startSwtpm(t, { manufactured: true });
  const openssl = peer(t, 'openssl');
  if (!swtpm?.transport || !swtpm.caDir || !openssl) return;
  const tpm = new Tpm(swtpm.transport);
  const rootPath = join(swtpm.caDir, 'swtpm-localca-rootca-cert.pem');
  const issuerPath = join(swtpm.caDir, 'issuercert.pem');
  const trust = { roots: [await readFile(rootPath, 'utf8')], intermediates: [await readFile(issuerPath, 'utf8')], now: new Date() };

  const rsaCert = await tpm.readEkCertificate('RSA2048');
  const p384Cert = await tpm.readEkCertificate('ECC_P384');
  const rsaEk = await tpm.createEK('rsa');
  const rsaPublic = rsaEk.public.value;
  await rsaEk.flush();
  const p384Public = (await tpm.readPublic(P384_EK_HANDLE)).public.value;

  const rsa = await validateEkCertificate(rsaCert, rsaPublic, trust);
  assert.deepEqual(rsa.problems, []);
  assert.deepEqual(
    rsa.chain.map((c) => c.subject),
    ['CN=unknown', 'CN=swtpm-localca', 'CN=swtpm-localca-rootca'],
  );
  assert.deepEqual((await validateEkCertificate(p384Cert, p384Public, trust)).problems, [], 'the P-384 EK certificate: keyAgreement, tcg-kp-EKCertificate');

  // openssl verify agrees on both chains.
  for (const [name, der] of [
    ['rsa', rsaCert],
    ['p384', p384Cert],
  ] as const) {
    const file = join(swtpm.stateDir, `ek-${name}.der`);
    await writeFile(file, der);
    const pem = run(openssl, ['x509', '-inform', 'DER', '-in', file, '-out', `${file}.pem`]);
    assert.equal(pem.status, 0, pem.stderr);
    const verdict = run(openssl, ['verify', '-purpose', 'any', '-CAfile', rootPath, '-untrusted', issuerPath, `${file}.pem`]);
    assert.equal(verdict.status, 0, verdict.stdout + verdict.stderr);
  }

  // A genuine certificate presented for another EK (the swap attack on enrollment) is refused.
  assert.deepEqual(
    (await validateEkCertificate(rsaCert, p384Public, trust)).problems.map((p) => p.code),
    [EndorsementProblemCode.keyMismatch],
  );
  const stranger = tpmPublicFromKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, ekTemplate('rsa'));
  assert.deepEqual(
    (await validateEkCertificate(rsaCert, stranger, trust)).problems.map((p) => p.code),
    [EndorsementProblemCode.keyMismatch],
  );
  // Without the local CA configured as a root, the chain does not reach trust.
  assert.deepEqual(
    (await validateEkCertificate(rsaCert, rsaPublic, { ...trust, roots: [] })).problems.map((p) => p.code),
    [EndorsementProblemCode.chainIncomplete],
  );
  // Before the certificates were issued.
  const early = await validateEkCertificate(rsaCert, rsaPublic, { ...trust, now: new Date('1999-01-01T00:00:00Z') });
  assert.ok(early.problems.every((p) => p.code === EndorsementProblemCode.notYetValid) && early.problems.length === 3);

  // The CLI, given the certificate as read from NV and the CA files swtpm_setup wrote.
  const cli = await runVouch(['verify', 'ekcert', join(swtpm.stateDir, 'ek-rsa.der'), '--root', rootPath, '--intermediate', issuerPath]);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /valid EK certificate; key not checked/);
});
