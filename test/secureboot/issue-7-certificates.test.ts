// Issue 7 §1: certificates that crashed Secure Boot verification and `vouch pe show`.
// - An empty subject (and issuer): legal, used by cloud vTPM and TCG EK certificates; node reports
//   the name as undefined and every `.subject.replace` threw a TypeError. Fixture: a small image
//   signed by sbsign with a self-signed empty-subject certificate (fixtures/README.md).
// - A bag certificate OpenSSL rejects, or whose DER is broken, was ERR_CLI_INTERNAL in pe show: now a
//   typed problem on that certificate, with the rest of the image still shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DerCursor, DerTag, parseCertificateFields, parseDer } from '../../src/der/index.ts';
import {
  EMPTY_SUBJECT,
  describeSignatures,
  parseAuthenticodeSignature,
  parseCertificateTable,
  parsePe,
  signImage,
  verifyImage,
} from '../../src/secureboot/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { OpensslPki } from '../helpers/openssl-pki.ts';
import { peer } from '../helpers/peers.ts';
import { bytesOf, certificateDb, run, syntheticPe, tempDir } from './fixtures.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const imagePath = join(fixtures, 'empty-subject.efi');
const certPath = join(fixtures, 'empty-subject.pem');
const image = new Uint8Array(readFileSync(imagePath));
const certDer = new Uint8Array(Buffer.from(readFileSync(certPath, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'));

/** The image with one byte of its bag certificate changed (the signature over the attributes stays valid). */
function withCertificateByte(locate: (cert: Uint8Array) => number, value: number): Uint8Array {
  const bagCert = parseAuthenticodeSignature(parseCertificateTable(parsePe(image))[0]!.data).certificates[0]!.der;
  const at = Buffer.from(image).indexOf(Buffer.from(bagCert)) + locate(bagCert);
  const copy = Uint8Array.from(image);
  copy[at] = value;
  return copy;
}

/** Offset of the RSAPublicKey SEQUENCE tag inside the SPKI BIT STRING: DER-valid, but not a key once changed. */
function publicKeyTag(cert: Uint8Array): number {
  const spki = parseCertificateFields(cert).subjectPublicKeyInfo;
  const c = new DerCursor(parseDer(spki), 'spki');
  c.next('algorithm');
  const bits = c.next('key', DerTag.bitString);
  return Buffer.from(cert).indexOf(Buffer.from(spki)) + bits.offset + (bits.raw.length - bits.content.length) + 1;
}

/** Offset of the length byte of the first Extension SEQUENCE (as in fbx64-byte117974.efi). */
function firstExtensionLength(cert: Uint8Array): number {
  const tbs = new DerCursor(parseDer(parseCertificateFields(cert).tbs), 'tbs').rest('field', 16);
  const list = new DerCursor(tbs.at(-1)!, 'extensions').next('list', DerTag.sequence);
  const first = new DerCursor(list, 'list').next('e0', DerTag.sequence);
  return Buffer.from(cert).indexOf(Buffer.from(first.raw)) + 1;
}

test('an image signed by an empty-subject certificate verifies against it; the signer is shown as (empty subject)', () => {
  const v = verifyImage(image, { db: certificateDb(certDer) });
  assert.equal(v.verified, true);
  assert.equal(v.signatures[0]!.signer!.subject, EMPTY_SUBJECT);
  assert.equal(v.signatures[0]!.signer!.issuer, '(empty issuer)');
  assert.deepEqual(v.signatures[0]!.chain, [EMPTY_SUBJECT]);
  assert.match(v.message, /chains to db certificate \(empty subject\)/);
  const described = describeSignatures(parsePe(image));
  assert.equal(described.signatures[0]!.signer!.subject, EMPTY_SUBJECT);
});

test('vouch secureboot verify and pe show on the empty-subject image: a verdict and a listing, no crash', async () => {
  const verify = await runVouch(['secureboot', 'verify', imagePath, '--db', certPath]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /verified \(signed-by-db-certificate\).*\(empty subject\)/);
  const show = await runVouch(['pe', 'show', imagePath]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /signature #0: sha256 by \(empty subject\)/);
  const json = JSON.parse((await runVouch(['pe', 'show', imagePath, '--json'])).stdout) as { result: { signatures: { signer: { subject: string } }[] } };
  assert.equal(json.result.signatures[0]!.signer.subject, EMPTY_SUBJECT);
});

test('a bag certificate OpenSSL rejects: ERR_SECUREBOOT_CERTIFICATE_INVALID on that certificate, the rest of the image shown', async (t) => {
  const damaged = withCertificateByte(publicKeyTag, 0x31);
  const problem = describeSignatures(parsePe(damaged)).signatures[0]!.certificates[0]!.problem;
  assert.equal(problem?.code, 'ERR_SECUREBOOT_CERTIFICATE_INVALID');
  const v = verifyImage(damaged, { db: certificateDb(certDer) });
  assert.equal(v.verified, false);
  assert.equal(v.signatures[0]!.problem?.code, 'ERR_SECUREBOOT_CERTIFICATE_INVALID');

  const file = join(tempDir(t), 'damaged.efi');
  writeFileSync(file, damaged);
  const show = await runVouch(['pe', 'show', file]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /signature #0: sha256 by \(signer certificate not usable\)/);
  assert.match(show.stdout, /ERR_SECUREBOOT_CERTIFICATE_INVALID: certificate #0 is not a usable X\.509 certificate/);
  assert.match(show.stdout, /\.text/, 'sections still listed');
  assert.match(show.stdout, /sbat sbat,1/, 'SBAT still listed');
  const verify = await runVouch(['secureboot', 'verify', file, '--db', certPath]);
  assert.equal(verify.code, 3, verify.stderr);
  assert.match(verify.stdout, /NOT verified \(no-signature-chains-to-db\).*certificate #0/);
});

test('a bag certificate whose DER is broken (extension length, as fbx64-byte117974.efi): ERR_DER_MALFORMED on that certificate', async (t) => {
  const damaged = withCertificateByte(firstExtensionLength, 0x7f);
  const described = describeSignatures(parsePe(damaged)).signatures[0]!;
  assert.equal(described.problem, undefined, 'the signature itself still parses');
  assert.equal(described.digestAlgorithm, 'sha256');
  assert.equal(described.certificates[0]!.problem?.code, 'ERR_DER_MALFORMED');
  const file = join(tempDir(t), 'damaged.efi');
  writeFileSync(file, damaged);
  const show = await runVouch(['pe', 'show', file]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /ERR_DER_MALFORMED: certificate #0: DER tbsCertificate\.extensions\.extension\[0\]/);
  assert.equal(verifyImage(damaged, { db: certificateDb(certDer) }).signatures[0]!.problem?.code, 'ERR_DER_MALFORMED');
});

test('peers: sbsign with an empty-subject leaf under a named CA → vouch verifies by the CA; vouch signs with it → sbverify accepts', (t) => {
  const openssl = peer(t, 'openssl');
  const sbsign = peer(t, 'sbsign');
  const sbverify = peer(t, 'sbverify');
  if (!openssl || !sbsign || !sbverify) return;
  const pki = new OpensslPki(t, openssl);
  const dir = pki.dir;
  const ca = pki.issue('ca', { subject: '/CN=Vouch Empty-Subject Test CA', extensions: ['basicConstraints = critical, CA:TRUE', 'keyUsage = keyCertSign'] });
  const leaf = pki.issue('leaf', { subject: '/', extensions: ['basicConstraints = CA:FALSE', 'subjectAltName = critical, DNS:signer.example'], issuer: ca });
  assert.match(run(openssl, ['x509', '-in', leaf.cert, '-noout', '-subject']).stdout, /^subject=\s*$/m);

  const unsigned = join(dir, 'app.efi');
  writeFileSync(unsigned, syntheticPe('PE32+', [{ name: '.text', data: bytesOf('empty subject signer', 700) }]));
  const bySbsign = join(dir, 'app.sbsign.efi');
  const signing = run(sbsign, ['--key', leaf.key, '--cert', leaf.cert, '--output', bySbsign, unsigned]);
  assert.equal(signing.status, 0, signing.stderr);
  const v = verifyImage(new Uint8Array(readFileSync(bySbsign)), { db: certificateDb(ca.der) });
  assert.equal(v.verified, true, v.message);
  assert.deepEqual(v.signatures[0]!.chain, [EMPTY_SUBJECT, 'CN=Vouch Empty-Subject Test CA']);

  const byVouch = join(dir, 'app.vouch.efi');
  writeFileSync(byVouch, signImage(new Uint8Array(readFileSync(unsigned)), { certificate: leaf.pem, privateKey: readFileSync(leaf.key, 'utf8') }));
  assert.equal(run(sbverify, ['--cert', leaf.cert, byVouch]).status, 0, 'sbverify accepts the signature vouch made with the empty-subject certificate');
  assert.throws(() => signImage(image, { certificate: leaf.pem, privateKey: readFileSync(ca.key, 'utf8') }), {
    code: 'ERR_SECUREBOOT_SIGN_FAILED',
    message: /does not belong to certificate \(empty subject\)/,
  });
});
