// Secure Boot decisions, cross-checked with sbverify on sbsign-signed images and on the real
// Debian/Microsoft-signed binaries with the certificates they chain to (taken from the binaries).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  authenticodeHash,
  encodeSignatureDatabase,
  parseAuthenticodeSignature,
  parseCertificateTable,
  parsePe,
  parseSignatureDatabase,
  shimVendorCertificates,
  signImage,
  verifyImage,
  type EfiSignatureList,
  type SecureBootVerdict,
} from '../../src/secureboot/index.ts';
import { parseCertificateFields } from '../../src/der/index.ts';
import { findTool, peer, unavailable } from '../helpers/peers.ts';
import { bytesOf, certificateDb, createTestPki, hashDb, readReal, realBinaries, run, syntheticPe, typedErrorsOnly, type TestPki } from './fixtures.ts';

let dir = '';
let pki: TestPki | undefined;
let unsigned: Uint8Array;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vouch-secureboot-verify-'));
  unsigned = syntheticPe('PE32+', [
    { name: '.text', data: bytesOf('text', 5000) },
    { name: '.data', data: bytesOf('data', 777) },
  ]);
  writeFileSync(join(dir, 'unsigned.efi'), unsigned);
  const openssl = findTool('openssl');
  if (openssl) pki = createTestPki(dir, openssl);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** sbsign the test image; `addIntermediate` puts the intermediate CA in the signature's bag. */
function sbsign(t: import('node:test').TestContext, name: string, signer: 'leaf' | 'other', addIntermediate: boolean): string | undefined {
  const tool = peer(t, 'sbsign');
  if (!tool || !peer(t, 'openssl') || !pki) return undefined;
  const out = join(dir, name);
  const args = ['--key', pki[signer].key, '--cert', pki[signer].cert, '--output', out, join(dir, 'unsigned.efi')];
  if (addIntermediate) args.unshift('--addcert', pki.intermediate.cert);
  const r = run(tool, args);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

function sbverifyAccepts(file: string, cert: string): boolean {
  return run(findTool('sbverify')!, ['--cert', cert, file]).status === 0;
}

const which = ['root', 'intermediate', 'leaf', 'other'] as const;

test('real: shim verifies against the Microsoft UEFI CA 2011 and 2023 from its own signatures; Debian-signed binaries against the Debian CA in shim', (t) => {
  const shim = readReal(t, realBinaries.shim);
  const grub = readReal(t, realBinaries.grub);
  const mm = readReal(t, realBinaries.mokManager);
  const fb = readReal(t, realBinaries.fallback);
  if (!shim || !grub || !mm || !fb) return;
  const shimPe = parsePe(shim);
  const [ms2011, ms2023] = parseCertificateTable(shimPe).map((w) => parseAuthenticodeSignature(w.data).certificates.at(-1)!.der);
  const debianCa = shimVendorCertificates(shimPe)!.authorized;
  for (const ca of [ms2011!, ms2023!]) {
    const v = verifyImage(shimPe, { db: certificateDb(ca) });
    assert.equal(v.verified, true, v.message);
    assert.equal(v.reason, 'signed-by-db-certificate');
    assert.deepEqual(v.authority, { type: 'x509', owner: '11111111-2222-3333-4444-555555555555', certificate: ca });
  }
  assert.match(verifyImage(shimPe, { db: certificateDb(ms2011!) }).signatures[0]!.signer!.subject, /Microsoft Windows UEFI Driver Publisher/);
  assert.equal(verifyImage(shimPe, { db: certificateDb(debianCa) }).verified, false);
  for (const image of [grub, mm, fb]) {
    assert.equal(verifyImage(image, { db: certificateDb(debianCa) }).verified, true);
    assert.equal(verifyImage(image, { db: certificateDb(ms2011!) }).reason, 'no-signature-chains-to-db');
  }
  // Revoking only the 2011 signature rejects shim even though the 2023 one still chains to db (UEFI: any revoked signature rejects).
  const revoked = verifyImage(shimPe, { db: certificateDb(ms2023!), dbx: certificateDb(ms2011!) });
  assert.equal(revoked.verified, false);
  assert.equal(revoked.reason, 'certificate-in-dbx');
});

test('real: a Debian signed kernel verifies against the Debian CA (when the boot lab has fetched one)', (t) => {
  const kernel = '/var/cache/vouch-bootlab/vmlinuz';
  if (!existsSync(kernel)) {
    unavailable(t, `no Debian kernel at ${kernel}`, 'run scripts/bootlab-assets.sh (scripts/install-deps.sh does, as root)');
    return;
  }
  const shim = readReal(t, realBinaries.shim);
  if (!shim) return;
  const v = verifyImage(new Uint8Array(readFileSync(kernel)), { db: certificateDb(shimVendorCertificates(parsePe(shim))!.authorized) });
  assert.equal(v.verified, true, v.message);
});

test("real: Debian 12's systemd-boot (shipped unsigned) is refused, allowed by its hash in db, and once sbsign-signed Vouch and sbverify agree", (t) => {
  const boot = readReal(t, realBinaries.systemdBoot);
  const shim = readReal(t, realBinaries.shim);
  const tool = peer(t, 'sbsign');
  if (!boot || !shim || !tool || !pki) return;
  const debianCa = shimVendorCertificates(parsePe(shim))!.authorized;
  const refused = verifyImage(boot, { db: certificateDb(debianCa) });
  assert.deepEqual([refused.verified, refused.reason], [false, 'unsigned-and-hash-not-in-db']);
  const byHash = verifyImage(boot, { db: hashDb('sha256', authenticodeHash(boot)) });
  assert.deepEqual([byHash.verified, byHash.reason], [true, 'hash-in-db']);
  const signedPath = join(dir, 'systemd-bootx64.signed.efi');
  const r = run(tool, ['--key', pki.leaf.key, '--cert', pki.leaf.cert, '--output', signedPath, realBinaries.systemdBoot]);
  assert.equal(r.status, 0, r.stderr);
  const signed = new Uint8Array(readFileSync(signedPath));
  for (const name of which) {
    const ours: boolean = verifyImage(signed, { db: certificateDb(pki[name].der) }).verified;
    assert.equal(ours, name === 'intermediate' || name === 'leaf', `vouch, db=${name}`);
    assert.equal(sbverifyAccepts(signedPath, pki[name].cert), ours, `sbverify, db=${name}`);
  }
  // The hash-in-db entry was for the unsigned file; sbsign padded it, so it no longer matches.
  assert.equal(verifyImage(signed, { db: hashDb('sha256', authenticodeHash(boot)) }).verified, boot.length % 8 === 0);
});

test('sbsign-signed, signer certificate only: Vouch and sbverify agree for db = root, intermediate, leaf, unrelated', (t) => {
  const file = sbsign(t, 'leaf-only.efi', 'leaf', false);
  if (!file || !pki) return;
  const image = new Uint8Array(readFileSync(file));
  const expected = { root: false, intermediate: true, leaf: true, other: false };
  for (const name of which) {
    const ours: boolean = verifyImage(image, { db: certificateDb(pki[name].der) }).verified;
    assert.equal(ours, expected[name], `vouch, db=${name}`);
    assert.equal(sbverifyAccepts(file, pki[name].cert), ours, `sbverify, db=${name}`);
  }
});

test('intermediate in the bag: any db certificate in the chain trusts it; regression: sbverify also accepts an unrelated certificate, UEFI and Vouch do not', (t) => {
  const file = sbsign(t, 'with-intermediate.efi', 'leaf', true);
  if (!file || !pki) return;
  const image = new Uint8Array(readFileSync(file));
  for (const name of ['root', 'intermediate', 'leaf'] as const) assert.equal(verifyImage(image, { db: certificateDb(pki[name].der) }).verified, true, name);
  const v = verifyImage(image, { db: certificateDb(pki.other.der) });
  assert.equal(v.verified, false);
  assert.deepEqual(v.signatures[0]!.chain, ['CN=Vouch Test Signer', 'CN=Vouch Test Intermediate CA']);
  // sbverify's verify callback treats an incomplete chain as trusted: it is not a trust reference here.
  assert.equal(sbverifyAccepts(file, pki.other.cert), true);
});

test('a modified byte in a covered range fails, in CheckSum it passes: Vouch and sbverify agree', (t) => {
  const file = sbsign(t, 'flip.efi', 'other', false);
  if (!file || !pki) return;
  const signed = new Uint8Array(readFileSync(file));
  const pe = parsePe(signed);
  const db = certificateDb(pki.other.der);
  const sectionStart = pe.sections[0]!.pointerToRawData;
  const hashedEnd = pe.certificateTable!.offset;
  const check = (offset: number, expectVerified: boolean): void => {
    const copy = signed.slice();
    copy[offset]! ^= 0x5a;
    const flipped = join(dir, 'flipped.efi');
    writeFileSync(flipped, copy);
    const ours: SecureBootVerdict = verifyImage(copy, { db });
    assert.equal(ours.verified, expectVerified, `offset ${offset}: ${ours.message}`);
    assert.equal(sbverifyAccepts(flipped, pki!.other.cert), expectVerified, `sbverify, offset ${offset}`);
    if (!expectVerified) assert.equal(ours.signatures[0]!.digestMatches, false);
  };
  for (let i = 0; i < 4; i++) check(pe.checksumOffset + i, true);
  check(pe.peHeaderOffset + 8, false); // TimeDateStamp
  check(hashedEnd - 1, false); // sbsign's alignment padding is hashed too
  fc.assert(
    fc.property(fc.integer({ min: sectionStart, max: hashedEnd - 1 }), (offset) => {
      check(offset, false);
    }),
    { numRuns: 12 },
  );
});

test('dbx: image hash, signer or CA certificate, certificate TBS hash each reject; db hash allows an unsigned image', (t) => {
  const file = sbsign(t, 'dbx.efi', 'leaf', true);
  if (!file || !pki) return;
  const image = new Uint8Array(readFileSync(file));
  const db = certificateDb(pki.root.der);
  assert.equal(verifyImage(image, { db }).verified, true);
  const byHash = verifyImage(image, { db, dbx: hashDb('sha256', authenticodeHash(image)) });
  assert.equal(byHash.reason, 'hash-in-dbx');
  assert.equal(verifyImage(image, { db, dbx: hashDb('sha1', authenticodeHash(image, 'sha1')) }).reason, 'hash-in-dbx');
  assert.equal(verifyImage(image, { db, dbx: certificateDb(pki.leaf.der) }).reason, 'certificate-in-dbx');
  assert.equal(verifyImage(image, { db, dbx: certificateDb(pki.intermediate.der) }).reason, 'certificate-in-dbx');
  assert.equal(verifyImage(image, { db, dbx: certificateDb(pki.other.der) }).verified, true);
  const tbsHash = createHash('sha256').update(parseCertificateFields(pki.intermediate.der).tbs).digest();
  const dbxTbs = parseSignatureDatabase(
    encodeSignatureDatabase([
      { type: 'x509Sha256', signatures: [{ owner: '77fa9abd-0359-4d32-bd60-28f4e78f784b', data: new Uint8Array([...tbsHash, ...new Uint8Array(16)]) }] },
    ]),
  );
  const byTbs = verifyImage(image, { db, dbx: dbxTbs });
  assert.equal(byTbs.reason, 'certificate-hash-in-dbx');
  assert.equal(byTbs.signatures[0]!.revokedBy?.type, 'x509Sha256');

  assert.equal(verifyImage(unsigned, { db }).reason, 'unsigned-and-hash-not-in-db');
  const allowed = verifyImage(unsigned, { db: hashDb('sha256', authenticodeHash(unsigned)) });
  assert.equal(allowed.verified, true);
  assert.equal(allowed.reason, 'hash-in-db');
  assert.equal(allowed.authority?.type, 'sha256');
  assert.equal(
    verifyImage(unsigned, { db: hashDb('sha256', authenticodeHash(unsigned)), dbx: hashDb('sha256', authenticodeHash(unsigned)) }).reason,
    'hash-in-dbx',
  );
});

test('Vouch-signed images: sbverify and Vouch accept them; appended second signature; revoking either signer rejects', (t) => {
  const sbverify = peer(t, 'sbverify');
  if (!sbverify || !pki) return;
  const identity = (name: 'leaf' | 'other') => ({ certificate: readFileSync(pki![name].cert, 'utf8'), privateKey: readFileSync(pki![name].key, 'utf8') });
  const once = signImage(unsigned, identity('other'));
  const file = join(dir, 'vouch-signed.efi');
  writeFileSync(file, once);
  assert.equal(sbverifyAccepts(file, pki.other.cert), true);
  assert.equal(verifyImage(once, { db: certificateDb(pki.other.der) }).verified, true);

  const twice = signImage(once, { ...identity('leaf'), chain: [pki.intermediate.der] }, { mode: 'append' });
  assert.equal(parseCertificateTable(parsePe(twice)).length, 2);
  assert.equal(authenticodeHash(twice).toString(), authenticodeHash(once).toString());
  writeFileSync(file, twice);
  assert.equal(sbverifyAccepts(file, pki.other.cert), true);
  assert.equal(verifyImage(twice, { db: certificateDb(pki.other.der) }).verified, true);
  assert.equal(verifyImage(twice, { db: certificateDb(pki.root.der) }).verified, true);
  assert.equal(verifyImage(twice, { db: certificateDb(pki.root.der), dbx: certificateDb(pki.other.der) }).reason, 'certificate-in-dbx');
  assert.equal(verifyImage(twice, { db: certificateDb(pki.other.der), dbx: certificateDb(pki.leaf.der) }).reason, 'certificate-in-dbx');

  const replaced = signImage(twice, identity('leaf'));
  assert.equal(parseCertificateTable(parsePe(replaced)).length, 1);
  assert.equal(verifyImage(replaced, { db: certificateDb(pki.other.der) }).verified, false);
});

test('ECDSA P-256 signer: Vouch signs and verifies', (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const key = join(dir, 'ec.key');
  const cert = join(dir, 'ec.crt');
  assert.equal(
    run(openssl, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=Vouch EC signer',
      '-days',
      '30',
    ]).status,
    0,
  );
  const signed = signImage(unsigned, { certificate: readFileSync(cert, 'utf8'), privateKey: readFileSync(key, 'utf8') }, { digest: 'sha384' });
  const sig = parseAuthenticodeSignature(parseCertificateTable(parsePe(signed))[0]!.data);
  assert.equal(sig.digestAlgorithm, 'sha384');
  const v = verifyImage(signed, { db: certificateDb(sig.certificates[0]!.der) });
  assert.equal(v.verified, true, v.message);
});

test('tampered signatures: wrong signed digest, broken signature value, missing signer certificate are reported, not trusted', (t) => {
  if (!peer(t, 'openssl') || !pki) return;
  const signed = signImage(unsigned, { certificate: readFileSync(pki.other.cert, 'utf8'), privateKey: readFileSync(pki.other.key, 'utf8') });
  const db: EfiSignatureList[] = certificateDb(pki.other.der);
  const entry = parseCertificateTable(parsePe(signed))[0]!;
  const sig = parseAuthenticodeSignature(entry.data);
  const at = (needle: Uint8Array): number => Buffer.from(signed).indexOf(Buffer.from(needle));
  const mutate = (offset: number): Uint8Array => {
    const copy = signed.slice();
    copy[offset]! ^= 1;
    return copy;
  };
  const badSignature = verifyImage(mutate(at(sig.signer.signature) + 10), { db });
  assert.equal(badSignature.verified, false);
  assert.equal(badSignature.signatures[0]!.problem?.code, 'ERR_SECUREBOOT_SIGNATURE_INVALID');
  assert.match(badSignature.signatures[0]!.problem.message, /does not verify/);
  const badDigest = verifyImage(mutate(at(sig.imageDigest) + 3), { db });
  assert.equal(badDigest.verified, false);
  assert.match(badDigest.signatures[0]!.problem!.message, /messageDigest/);
  const badSerial = verifyImage(mutate(at(sig.signer.serialNumber) + sig.signer.serialNumber.length - 1), { db });
  assert.match(badSerial.signatures[0]!.problem!.message, /not in the certificate bag/);
});

/**
 * The db/dbx a real firmware measured into PCR 7 (EV_EFI_VARIABLE_DRIVER_CONFIG): the
 * UEFI_VARIABLE_DATA {VariableName GUID, UnicodeNameLength u64, VariableDataLength u64, name, data}
 * found by its d719b2cb-… GUID and name in a shared event log.
 */
function variableFromLog(log: Uint8Array, name: 'db' | 'dbx'): EfiSignatureList[] {
  const bytes = Buffer.from(log);
  const guid = Buffer.from([0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f]);
  for (let i = bytes.indexOf(guid); i >= 0; i = bytes.indexOf(guid, i + 1)) {
    const nameLength = Number(bytes.readBigUInt64LE(i + 16));
    const dataLength = Number(bytes.readBigUInt64LE(i + 24));
    if (nameLength !== name.length || bytes.subarray(i + 32, i + 32 + 2 * nameLength).toString('utf16le') !== name) continue;
    const start = i + 32 + 2 * nameLength;
    // The first match is the EV_EFI_VARIABLE_DRIVER_CONFIG event; later ones are authority events.
    return parseSignatureDatabase(log.subarray(start, start + dataLength));
  }
  throw new Error(`no ${name} variable in the log`);
}

test('real firmware db and dbx (from the shared GCE Debian 10 and Arch workstation event logs) allow shim and not GRUB', (t) => {
  const shim = readReal(t, realBinaries.shim);
  const grub = readReal(t, realBinaries.grub);
  if (!shim || !grub) return;
  for (const log of ['debian-10.bin', 'arch-linux-workstation.bin']) {
    const bytes = new Uint8Array(readFileSync(join('test', 'vectors', 'eventlogs', log)));
    const databases = { db: variableFromLog(bytes, 'db'), dbx: variableFromLog(bytes, 'dbx') };
    const v = verifyImage(shim, databases);
    assert.equal(v.verified, true, `${log}: ${v.message}`);
    assert.ok(v.authority?.type === 'x509');
    assert.match(new X509Certificate(Buffer.from(v.authority.certificate)).subject, /Microsoft Corporation UEFI CA 2011/);
    assert.equal(verifyImage(grub, databases).verified, false, log);
  }
});

test('fuzz: mutated signed images (headers, certificate table, signature) give a verdict or a typed error', (t) => {
  if (!peer(t, 'openssl') || !pki) return;
  const signed = signImage(unsigned, {
    certificate: readFileSync(pki.leaf.cert, 'utf8'),
    privateKey: readFileSync(pki.leaf.key, 'utf8'),
    chain: [pki.intermediate.der],
  });
  const db = certificateDb(pki.root.der);
  const table = parsePe(signed).certificateTable!;
  const interesting = fc.oneof(fc.integer({ min: 0, max: 0x200 - 1 }), fc.integer({ min: table.offset, max: signed.length - 1 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(interesting, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const copy = signed.slice();
      for (const [i, b] of edits) copy[i] = b;
      const code = typedErrorsOnly(() => verifyImage(copy, { db }));
      return code === undefined || code.startsWith('ERR_');
    }),
    { numRuns: 300 },
  );
});

test('nested signatures (osslsigncode -nest): parsed and checked, but as in UEFI only top-level signatures decide', (t) => {
  const osslsigncode = peer(t, 'osslsigncode');
  if (!osslsigncode || !pki) return;
  const outer = join(dir, 'outer.efi');
  const nested = join(dir, 'nested.efi');
  assert.equal(
    run(osslsigncode, ['sign', '-certs', pki.other.cert, '-key', pki.other.key, '-h', 'sha256', '-in', join(dir, 'unsigned.efi'), '-out', outer]).status,
    0,
  );
  assert.equal(
    run(osslsigncode, [
      'sign',
      '-nest',
      '-certs',
      pki.leaf.cert,
      '-ac',
      pki.intermediate.cert,
      '-key',
      pki.leaf.key,
      '-h',
      'sha384',
      '-in',
      outer,
      '-out',
      nested,
    ]).status,
    0,
  );
  const image = new Uint8Array(readFileSync(nested));
  const sig = parseAuthenticodeSignature(parseCertificateTable(parsePe(image))[0]!.data);
  assert.equal(sig.nested.length, 1);
  assert.equal(sig.nested[0]!.digestAlgorithm, 'sha384');
  const byNested = verifyImage(image, { db: certificateDb(pki.root.der) });
  assert.equal(byNested.verified, false);
  assert.deepEqual(
    byNested.signatures.map((s) => [s.nested, s.digestMatches, s.signatureValid, s.trustedBy !== undefined]),
    [
      [false, true, true, false],
      [true, true, true, true],
    ],
  );
  assert.equal(verifyImage(image, { db: certificateDb(pki.other.der) }).verified, true);
});
