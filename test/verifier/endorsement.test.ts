// EK and AK certificate validation (issue 7 §3, issue 8 enrollment): every problem of a bad
// certificate is in the result, typed errors only for unusable trust input. Certificates come from
// the software TPM's issuer and from openssl, whose `openssl verify -purpose any` must agree with
// us on every chain case; the swtpm-localca chain is in endorsement-swtpm.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { isVouchError } from '../../src/errors/index.ts';
import { tpmPublicFromKey } from '../../src/tpm/crypto/index.ts';
import { createCertificateAuthority, issueEkCertificate } from '../../src/tpm/sim/ek-cert.ts';
import { ekTemplate } from '../../src/tpm/templates.ts';
import { EndorsementProblemCode, validateAkCertificate, validateEkCertificate, type EndorsementResult } from '../../src/verifier/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { run } from '../secureboot/fixtures.ts';
import { Extensions, OpensslPki, type IssuedCertificate } from '../helpers/openssl-pki.ts';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const ca = createCertificateAuthority('Vouch test TPM vendor CA', { notBefore: new Date(now.getTime() - 365 * DAY) });
const ekKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const ek = tpmPublicFromKey(ekKey, ekTemplate('ecc'));
const leaf = issueEkCertificate(ca, ekKey, { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 30 * DAY) });
const trust = { roots: [ca.certificate], now };

const codes = (r: EndorsementResult): string[] => r.problems.map((p) => p.code);

test('a certificate for this EK issued by a configured root is valid: chain leaf then root, key checked', async () => {
  const r = await validateEkCertificate(leaf, ek, trust);
  assert.deepEqual(r.problems, []);
  assert.equal(r.valid, true);
  assert.equal(r.keyChecked, true);
  assert.deepEqual(
    r.chain.map((c) => [c.subject, c.root]),
    [
      ['O=Vouch, CN=Vouch simulated TPM EK', false],
      ['O=Vouch, CN=Vouch test TPM vendor CA', true],
    ],
  );
  // PEM for the certificate and the root, and the key as a KeyObject, work the same.
  const pem = (der: Uint8Array): string => new X509Certificate(der).toString();
  assert.equal((await validateEkCertificate(pem(leaf), ekKey, { roots: [pem(ca.certificate)], now })).valid, true);
  const unchecked = await validateEkCertificate(leaf, null, trust);
  assert.equal(unchecked.valid, true);
  assert.equal(unchecked.keyChecked, false);
});

test('a certificate that does not parse is a result, not an exception; bad trust configuration is ERR_ENDORSEMENT_TRUST_INVALID', async () => {
  for (const bad of [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), leaf.subarray(0, leaf.length - 10), 'not a certificate', new Uint8Array(70_000)]) {
    const r = await validateEkCertificate(bad, ek, trust);
    assert.equal(r.valid, false);
    assert.deepEqual(codes(r), [EndorsementProblemCode.unparsable]);
  }
  await assert.rejects(validateEkCertificate(leaf, ek, { roots: [ca.certificate, 'not a certificate'], now }), {
    code: 'ERR_ENDORSEMENT_TRUST_INVALID',
    message: /root #1/,
  });
  await assert.rejects(validateEkCertificate(leaf, ek, { ...trust, intermediates: [new Uint8Array(8)] }), {
    code: 'ERR_ENDORSEMENT_TRUST_INVALID',
    message: /intermediate #0/,
  });
});

test("key-mismatch: a genuine certificate presented for another TPM's EK (the swap attack)", async () => {
  const otherEk = tpmPublicFromKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ekTemplate('ecc'));
  const r = await validateEkCertificate(leaf, otherEk, trust);
  assert.deepEqual(codes(r), [EndorsementProblemCode.keyMismatch]);
  assert.match(r.problems[0]!.message, /another public key than this EK/);
  assert.equal(r.chain.length, 2, 'the chain is still reported');
});

test('validity at the injected time: the certificate and its root, every problem listed', async () => {
  const late = await validateEkCertificate(leaf, ek, { ...trust, now: new Date(now.getTime() + 31 * DAY) });
  assert.deepEqual(codes(late), [EndorsementProblemCode.expired]);
  const early = await validateEkCertificate(leaf, ek, { ...trust, now: new Date(now.getTime() - 2 * DAY) });
  assert.deepEqual(codes(early), [EndorsementProblemCode.notYetValid]);
  const expiredRoot = createCertificateAuthority('Vouch test TPM vendor CA', {
    key: ca.key,
    notBefore: new Date(now.getTime() - 20 * DAY),
    notAfter: new Date(now.getTime() - DAY),
  });
  const r = await validateEkCertificate(leaf, ek, { roots: [expiredRoot.certificate], now });
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.certificate]),
    [[EndorsementProblemCode.expired, 1]],
  );
});

test('chain-incomplete and issuer-not-ca: no root, an impostor CA of the same name, an end-entity certificate as issuer', async () => {
  assert.deepEqual(codes(await validateEkCertificate(leaf, ek, { roots: [], now })), [EndorsementProblemCode.chainIncomplete]);
  const impostor = createCertificateAuthority('Vouch test TPM vendor CA', { notBefore: new Date(now.getTime() - DAY) });
  assert.deepEqual(codes(await validateEkCertificate(leaf, ek, { roots: [impostor.certificate], now })), [EndorsementProblemCode.chainIncomplete]);
  // A leaf "issued" by an EK certificate (CA:FALSE, no keyCertSign) that chains to the root.
  const endEntityKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const endEntity = issueEkCertificate(ca, endEntityKeys.publicKey, { notBefore: new Date(now.getTime() - DAY) });
  const forged = issueEkCertificate({ key: endEntityKeys.privateKey, certificate: endEntity }, ekKey, { notBefore: new Date(now.getTime() - DAY) });
  const r = await validateEkCertificate(forged, ek, { roots: [ca.certificate], intermediates: [endEntity], now });
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.certificate]),
    [
      [EndorsementProblemCode.issuerNotCa, 1],
      [EndorsementProblemCode.issuerKeyUsage, 1],
    ],
  );
});

test('an RSA EK certificate from the software TPM issuer: keyEncipherment, valid; as an AK certificate it is not', async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const cert = issueEkCertificate(ca, rsa, { notBefore: new Date(now.getTime() - DAY) });
  assert.equal((await validateEkCertificate(cert, tpmPublicFromKey(rsa, ekTemplate('rsa')), trust)).valid, true);
  const asAk = await validateAkCertificate(cert, rsa, trust);
  assert.deepEqual(codes(asAk), [EndorsementProblemCode.keyUsage]);
  assert.match(asAk.problems[0]!.message, /must allow digitalSignature; key usage: keyEncipherment/);
});

test("the software TPM's certificates (written by the DER writer) are what openssl reads and verifies: TCG extensions included", (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-simca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pem = (der: Uint8Array): string => new X509Certificate(der).toString();
  writeFileSync(join(dir, 'ca.pem'), pem(ca.certificate));
  writeFileSync(join(dir, 'ek.pem'), pem(leaf));
  const verdict = run(openssl, ['verify', '-purpose', 'any', '-attime', String(now.getTime() / 1000), '-CAfile', join(dir, 'ca.pem'), join(dir, 'ek.pem')]);
  assert.equal(verdict.status, 0, verdict.stdout + verdict.stderr);
  const text = run(openssl, ['x509', '-in', join(dir, 'ek.pem'), '-noout', '-text']).stdout;
  assert.match(text, /X509v3 Key Usage: critical\s+Key Agreement/);
  assert.match(text, /X509v3 Extended Key Usage:\s+2\.23\.133\.8\.1/);
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
});

test('mutated EK certificates give a result, never an exception', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(leaf.length - 1), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
      const mutated = Uint8Array.from(leaf);
      mutated[at]! ^= flip;
      try {
        const r = await validateEkCertificate(mutated, ek, trust);
        assert.equal(r.valid, false, `byte ${at} ^ ${flip} still valid`);
      } catch (e) {
        assert.fail(`byte ${at} ^ ${flip}: ${isVouchError(e) ? e.code : String(e)}`);
      }
    }),
    { numRuns: 150 },
  );
});

// Issue 7 §1: an empty subject made every failure path of the old EK check throw a TypeError.
test('an empty-subject EK certificate (fixture): valid for its key; every failure a typed problem, never a TypeError', async () => {
  const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, 'fixtures', name));
  const cert = new Uint8Array(fixture('empty-subject-ek.der'));
  const key = createPublicKey(fixture('empty-subject-ek.pub.pem'));
  const at = { roots: [fixture('empty-subject-ek-ca.pem').toString()], now: new Date('2030-01-01T00:00:00Z') };
  const ok = await validateEkCertificate(cert, key, at);
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(
    ok.chain.map((c) => c.subject),
    ['(empty subject)', 'CN=Vouch Test TPM Vendor CA'],
  );
  assert.deepEqual(codes(await validateEkCertificate(cert, ekKey, at)), [EndorsementProblemCode.keyMismatch]);
  const alone = await validateEkCertificate(cert, key, { roots: [], now: new Date('2200-01-01T00:00:00Z') });
  assert.deepEqual(codes(alone), [EndorsementProblemCode.chainIncomplete, EndorsementProblemCode.expired]);
  assert.match(alone.problems[0]!.message, /issued \(empty subject\) \(issuer CN=Vouch Test TPM Vendor CA\)/);
});

interface OpensslCase {
  readonly name: string;
  readonly leaf: IssuedCertificate;
  readonly roots: readonly IssuedCertificate[];
  readonly intermediates: readonly IssuedCertificate[];
  readonly at: Date;
  readonly valid: boolean;
  /** Our problem code when not valid. */
  readonly problem?: EndorsementProblemCode;
}

test('openssl verify -purpose any agrees on every chain case (empty-subject TCG-profile EK leaves under openssl-made CAs)', async (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const pki = new OpensslPki(t, openssl);
  const soon = new Date(Date.now() + DAY);
  const root = pki.issue('root', { subject: '/CN=Vouch Test TPM Root CA', extensions: Extensions.ca, days: 3650 });
  const otherRoot = pki.issue('impostor-root', { subject: '/CN=Vouch Test TPM Root CA', extensions: Extensions.ca, days: 3650 });
  const inter = pki.issue('intermediate', {
    subject: '/CN=Vouch Test TPM Issuing CA',
    extensions: [...Extensions.ca, 'authorityKeyIdentifier = keyid'],
    issuer: root,
  });
  const good = pki.issue('ek', { subject: '/', extensions: Extensions.rsaEk, issuer: inter, key: 'rsa' });
  const ek = (name: string, issuer: IssuedCertificate, extra: readonly string[] = []): IssuedCertificate =>
    pki.issue(name, { subject: '/', extensions: [...extra, ...Extensions.rsaEk], issuer, key: good });
  const notCa = pki.issue('not-a-ca', {
    subject: '/CN=Not A CA',
    extensions: ['basicConstraints = critical, CA:FALSE', 'keyUsage = keyCertSign'],
    issuer: root,
  });
  const noCertSign = pki.issue('no-cert-sign', {
    subject: '/CN=No CertSign',
    extensions: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, digitalSignature'],
    issuer: root,
  });
  const pathZero = pki.issue('pathlen-0', {
    subject: '/CN=Pathlen Zero CA',
    extensions: ['basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign'],
    issuer: root,
  });
  const below = pki.issue('below-pathlen-0', { subject: '/CN=Below Pathlen Zero', extensions: Extensions.ca, issuer: pathZero });
  const unknownCritical = ek('ek-unknown-critical', inter, ['1.3.6.1.4.1.57264.99 = critical, DER:0500']);

  const cases: OpensslCase[] = [
    { name: 'complete chain', leaf: good, roots: [root], intermediates: [inter], at: soon, valid: true },
    { name: 'intermediate missing', leaf: good, roots: [root], intermediates: [], at: soon, valid: false, problem: 'chain-incomplete' },
    { name: 'an impostor root of the same name', leaf: good, roots: [otherRoot], intermediates: [inter], at: soon, valid: false, problem: 'chain-incomplete' },
    {
      name: 'after the leaf expired',
      leaf: good,
      roots: [root],
      intermediates: [inter],
      at: new Date(Date.now() + 40 * DAY),
      valid: false,
      problem: 'expired',
    },
    {
      name: 'before the leaf is valid',
      leaf: good,
      roots: [root],
      intermediates: [inter],
      at: new Date(Date.now() - 2 * DAY),
      valid: false,
      problem: 'not-yet-valid',
    },
    { name: 'issuer is not a CA', leaf: ek('ek-under-not-ca', notCa), roots: [root], intermediates: [notCa], at: soon, valid: false, problem: 'issuer-not-ca' },
    {
      name: 'issuer may not sign certificates',
      leaf: ek('ek-under-no-cert-sign', noCertSign),
      roots: [root],
      intermediates: [noCertSign],
      at: soon,
      valid: false,
      problem: 'issuer-key-usage',
    },
    {
      name: 'pathlen 0 with a CA below',
      leaf: ek('ek-too-deep', below),
      roots: [root],
      intermediates: [pathZero, below],
      at: soon,
      valid: false,
      problem: 'path-length-exceeded',
    },
    { name: 'pathlen 0 directly above the leaf', leaf: ek('ek-under-pathlen-0', pathZero), roots: [root], intermediates: [pathZero], at: soon, valid: true },
    {
      name: 'an unknown critical extension',
      leaf: unknownCritical,
      roots: [root],
      intermediates: [inter],
      at: soon,
      valid: false,
      problem: 'unprocessed-critical-extension',
    },
  ];
  for (const c of cases) {
    const theirs = pki.verify(c.leaf, c.roots, c.intermediates, c.at);
    const ours = await validateEkCertificate(c.leaf.der, null, {
      roots: c.roots.map((r) => r.pem),
      intermediates: c.intermediates.map((i) => i.der),
      now: c.at,
    });
    assert.equal(theirs, c.valid, `openssl on "${c.name}"`);
    assert.equal(ours.valid, c.valid, `vouch on "${c.name}": ${JSON.stringify(ours.problems)}`);
    if (c.problem) assert.ok(codes(ours).includes(c.problem), `"${c.name}": ${codes(ours).join(', ')}`);
  }
  assert.equal(
    (await validateEkCertificate(good.der, null, { roots: [root.pem], intermediates: [inter.pem], now: soon })).chain[0]!.subject,
    '(empty subject)',
  );
});

test('the TCG profile beyond the chain: extended key usage, key usage by key type, not a CA; AK certificates need digitalSignature', async (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const pki = new OpensslPki(t, openssl);
  const soon = new Date(Date.now() + DAY);
  const root = pki.issue('root', { subject: '/CN=Vouch Test Cloud vTPM CA', extensions: Extensions.ca, days: 3650 });
  const at = { roots: [root.pem], now: soon };
  const leafWith = (name: string, extensions: readonly string[], key: 'ec' | 'rsa' = 'ec'): IssuedCertificate =>
    pki.issue(name, { subject: '/', extensions: ['subjectAltName = critical, DNS:node.example', ...extensions], issuer: root, key });

  const eccEk = leafWith('ecc-ek', ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, keyAgreement', 'extendedKeyUsage = 2.23.133.8.1']);
  const eccKey = createPublicKey(eccEk.pem);
  assert.deepEqual(codes(await validateEkCertificate(eccEk.der, eccKey, at)), []);
  const noEku = leafWith('no-eku', ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, keyAgreement']);
  assert.deepEqual(codes(await validateEkCertificate(noEku.der, null, at)), [EndorsementProblemCode.extendedKeyUsage]);
  const wrongUsage = leafWith('ecc-ek-key-encipherment', ['basicConstraints = CA:FALSE', 'keyUsage = keyEncipherment', 'extendedKeyUsage = 2.23.133.8.1']);
  const r = await validateEkCertificate(wrongUsage.der, null, at);
  assert.deepEqual(codes(r), [EndorsementProblemCode.keyUsage]);
  assert.match(r.problems[0]!.message, /an ECC EK certificate must allow keyAgreement; key usage: keyEncipherment/);
  const isCa = leafWith('ek-is-ca', ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyAgreement', 'extendedKeyUsage = 2.23.133.8.1']);
  assert.deepEqual(codes(await validateEkCertificate(isCa.der, null, at)), [EndorsementProblemCode.certificateIsCa]);

  // Cloud mode: an AK certificate with an empty subject (as cloud vTPM CAs issue them).
  const ak = pki.issue('ak', { subject: '/', extensions: Extensions.ak, issuer: root });
  const akKey = createPublicKey(ak.pem);
  const akResult = await validateAkCertificate(ak.der, tpmPublicFromKey(akKey, { ...ekTemplate('ecc') }), at);
  assert.deepEqual(akResult.problems, []);
  assert.equal(akResult.chain[0]!.subject, '(empty subject)');
  assert.deepEqual(codes(await validateAkCertificate(ak.der, eccKey, at)), [EndorsementProblemCode.keyMismatch]);
  assert.deepEqual(codes(await validateEkCertificate(ak.der, akKey, at)), [EndorsementProblemCode.extendedKeyUsage, EndorsementProblemCode.keyUsage]);
  assert.ok(pki.verify(ak, [root], [], soon), 'openssl accepts the AK chain as well');
});

test('vouch verify ekcert: exit 0 with the chain; exit 3 with every reason; --json; --ek and --ak are exclusive', async (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const pki = new OpensslPki(t, openssl);
  const root = pki.issue('root', { subject: '/CN=Vouch Test TPM Root CA', extensions: Extensions.ca, days: 3650 });
  const inter = pki.issue('intermediate', { subject: '/CN=Vouch Test TPM Issuing CA', extensions: Extensions.ca, issuer: root });
  const ekCert = pki.issue('ek', { subject: '/', extensions: Extensions.rsaEk, issuer: inter, key: 'rsa' });
  const ekPem = `${pki.dir}/ek.pub.pem`;
  run(openssl, ['x509', '-in', ekCert.cert, '-pubkey', '-noout', '-out', ekPem]);
  const roots = pki.bundle('cli-roots', [root]);

  const ok = await runVouch(['verify', 'ekcert', ekCert.cert, '--root', roots, '--intermediate', inter.cert, '--ek', ekPem]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    ok.stdout,
    /valid EK certificate; certifies this EK\n {2}chain: \(empty subject\) ← CN=Vouch Test TPM Issuing CA ← CN=Vouch Test TPM Root CA \(root\)/,
  );

  const later = new Date(Date.now() + 40 * DAY).toISOString();
  const bad = await runVouch(['verify', 'ekcert', ekCert.cert, '--root', roots, '--ak', ekPem, '--at', later]);
  assert.equal(bad.code, 3);
  assert.match(bad.stdout, /NOT a valid AK certificate/);
  assert.match(bad.stdout, /chain-incomplete \[#0\]/);
  assert.match(bad.stdout, /expired \[#0\]/);
  assert.match(bad.stdout, /key-usage \[#0\]: an AK certificate must allow digitalSignature/);

  const json = await runVouch(['verify', 'ekcert', ekCert.cert, '--root', roots, '--intermediate', inter.cert, '--json']);
  const doc = JSON.parse(json.stdout) as { result: { valid: boolean; keyChecked: boolean; chain: unknown[] } };
  assert.equal(json.code, 0);
  assert.deepEqual([doc.result.valid, doc.result.keyChecked, doc.result.chain.length], [true, false, 3]);

  const both = await runVouch(['verify', 'ekcert', ekCert.cert, '--root', roots, '--ek', ekPem, '--ak', ekPem]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /ERR_CLI_USAGE: give --ek or --ak, not both/);
  const badRoot = await runVouch(['verify', 'ekcert', ekCert.cert, '--root', ekPem]);
  assert.equal(badRoot.code, 1);
  assert.match(badRoot.stderr, /ERR_ENDORSEMENT_TRUST_INVALID: root #0/);
});
