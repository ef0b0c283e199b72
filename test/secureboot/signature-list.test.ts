// EFI signature lists: cross-checked with efitools (which writes .esl and .auth files and reads
// them back), shim's built-in dbx, and properties; hostile input gives typed errors only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { toHex } from '../../src/bytes/index.ts';
import {
  SignatureType,
  authenticodeHash,
  encodeSignatureDatabase,
  guidFromString,
  guidToString,
  parsePe,
  parseSignatureDatabase,
  parseSignatureDatabaseFile,
  shimVendorCertificates,
  signatureEntries,
  type SignatureTypeName,
} from '../../src/secureboot/index.ts';
import { peer } from '../helpers/peers.ts';
import { createTestPki, readReal, realBinaries, run, syntheticPe, bytesOf, tempDir, typedErrorsOnly } from './fixtures.ts';

const OWNER = '605dab50-e046-4300-abb6-3dd810dd8b23';

test('GUIDs: mixed-endian wire form and text form round-trip (property), EFI_CERT_X509_GUID bytes as the spec lays them out', () => {
  assert.equal(toHex(guidFromString(SignatureType.x509)), 'a159c0a5e494a74a87b5ab155c2bf072');
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => toHex(guidFromString(guidToString(b))) === toHex(b)));
});

test('efitools: cert-to-efi-sig-list, hash-to-efi-sig-list and sign-efi-sig-list (.auth) files parse', (t) => {
  const openssl = peer(t, 'openssl');
  const certToEsl = peer(t, 'cert-to-efi-sig-list');
  const hashToEsl = peer(t, 'hash-to-efi-sig-list');
  const signEsl = peer(t, 'sign-efi-sig-list');
  if (!openssl || !certToEsl || !hashToEsl || !signEsl) return;
  const dir = tempDir(t);
  const pki = createTestPki(dir, openssl);
  assert.equal(run(certToEsl, ['-g', OWNER, pki.other.cert, join(dir, 'db.esl')]).status, 0);
  const db = parseSignatureDatabaseFile(new Uint8Array(readFileSync(join(dir, 'db.esl'))));
  assert.equal(db.format, 'esl');
  assert.deepEqual(signatureEntries(db.lists), [{ type: 'x509', owner: OWNER, certificate: pki.other.der }]);

  const image = join(dir, 'image.efi');
  const bytes = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('t', 4096) }]);
  writeFileSync(image, bytes);
  assert.equal(run(hashToEsl, [image, join(dir, 'hash.esl')]).status, 0);
  const hashes = signatureEntries(parseSignatureDatabase(new Uint8Array(readFileSync(join(dir, 'hash.esl')))));
  assert.deepEqual(hashes, [{ type: 'sha256', owner: hashes[0]?.owner, digest: authenticodeHash(bytes) }]);

  // A signed update for db: EFI_VARIABLE_AUTHENTICATION_2 header, then the lists.
  const auth = join(dir, 'db.auth');
  const r = run(signEsl, ['-g', OWNER, '-k', pki.other.key, '-c', pki.other.cert, '-t', '2024-01-02 03:04:05', 'db', join(dir, 'db.esl'), auth]);
  assert.equal(r.status, 0, r.stderr);
  const parsedAuth = parseSignatureDatabaseFile(new Uint8Array(readFileSync(auth)));
  assert.equal(parsedAuth.format, 'auth');
  assert.equal(parsedAuth.timestamp?.year, 2024);
  assert.equal(parsedAuth.timestamp.second, 5);
  assert.ok(parsedAuth.authentication!.length > 100);
  assert.deepEqual(parsedAuth.lists, db.lists);
});

test('efitools sig-list-to-certs reads what encodeSignatureDatabase writes', (t) => {
  const openssl = peer(t, 'openssl');
  const toCerts = peer(t, 'sig-list-to-certs');
  if (!openssl || !toCerts) return;
  const dir = tempDir(t);
  const pki = createTestPki(dir, openssl);
  const esl = encodeSignatureDatabase([
    { type: 'x509', signatures: [{ owner: OWNER, data: pki.root.der }] },
    {
      type: 'sha256',
      signatures: [
        { owner: OWNER, data: new Uint8Array(32).fill(7) },
        { owner: OWNER, data: new Uint8Array(32).fill(9) },
      ],
    },
    { type: 'x509', signatures: [{ owner: OWNER, data: pki.leaf.der }] },
  ]);
  writeFileSync(join(dir, 'ours.esl'), esl);
  assert.equal(run(toCerts, [join(dir, 'ours.esl'), join(dir, 'out')]).status, 0);
  const written = readdirSync(dir)
    .filter((f) => f.startsWith('out'))
    .sort();
  assert.deepEqual(written, ['out-0.der', 'out-1.hash', 'out-2.hash', 'out-3.der']);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out-0.der'))), pki.root.der);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out-3.der'))), pki.leaf.der);
});

test("shim's built-in dbx (vendor_deauthorized) is a real ESL of SHA-256 hashes", (t) => {
  const bytes = readReal(t, realBinaries.shim);
  if (!bytes) return;
  const vendor = shimVendorCertificates(parsePe(bytes))!;
  const entries = signatureEntries(parseSignatureDatabase(vendor.deauthorized));
  assert.ok(entries.length > 50);
  assert.ok(entries.every((e) => e.type === 'sha256' || e.type === 'x509'));
  assert.deepEqual(parseSignatureDatabase(encodeSignatureDatabase(parseSignatureDatabase(vendor.deauthorized))), parseSignatureDatabase(vendor.deauthorized));
});

test('efivarfs files (4-byte attribute prefix) and empty variables', () => {
  const esl = encodeSignatureDatabase([{ type: 'sha256', signatures: [{ owner: OWNER, data: new Uint8Array(32) }] }]);
  const efivarfs = new Uint8Array(4 + esl.length);
  efivarfs.set([0x27, 0, 0, 0]); // NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS
  efivarfs.set(esl, 4);
  const parsed = parseSignatureDatabaseFile(efivarfs);
  assert.equal(parsed.format, 'efivarfs');
  assert.equal(parsed.attributes, 0x27);
  assert.equal(parsed.lists.length, 1);
  assert.deepEqual(parseSignatureDatabaseFile(new Uint8Array([7, 0, 0, 0])).lists, []);
  assert.deepEqual(parseSignatureDatabase(new Uint8Array(0)), []);
});

test('X509_SHA256 revocation entries decode the TBS hash and EFI_TIME (zero time: always revoked)', () => {
  const time = new Uint8Array(16);
  new DataView(time.buffer).setUint16(0, 2023, true);
  time.set([5, 9, 12, 30, 45], 2);
  const data = new Uint8Array(48);
  data.fill(0xaa, 0, 32);
  data.set(time, 32);
  const [withTime, always] = signatureEntries(
    parseSignatureDatabase(
      encodeSignatureDatabase([
        {
          type: 'x509Sha256',
          signatures: [
            { owner: OWNER, data },
            { owner: OWNER, data: new Uint8Array(48).fill(0xbb, 0, 32) },
          ],
        },
      ]),
    ),
  );
  assert.equal(withTime?.type, 'x509Sha256');
  if (always?.type !== 'x509Sha256') return;
  assert.equal(toHex(withTime.tbsDigest), 'aa'.repeat(32));
  assert.deepEqual(withTime.timeOfRevocation, { year: 2023, month: 5, day: 9, hour: 12, minute: 30, second: 45, nanosecond: 0, timeZone: 0, daylight: 0 });
  assert.equal(always.timeOfRevocation, null);
});

const fixedSizes: Record<Exclude<SignatureTypeName, 'x509'>, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  rsa2048: 256,
  rsa2048Sha256: 256,
  rsa2048Sha1: 256,
  x509Sha256: 48,
  x509Sha384: 64,
  x509Sha512: 80,
};

const listArbitrary = fc.oneof(
  fc.constantFrom(...(Object.keys(fixedSizes) as (keyof typeof fixedSizes)[])).chain((type) =>
    fc.record({
      type: fc.constant(type as string),
      signatures: fc.array(fc.record({ owner: fc.uuid(), data: fc.uint8Array({ minLength: fixedSizes[type], maxLength: fixedSizes[type] }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  ),
  fc.integer({ min: 1, max: 64 }).chain((size) =>
    fc.record({
      type: fc.constantFrom('x509', '01234567-89ab-cdef-0123-456789abcdef'),
      signatures: fc.array(fc.record({ owner: fc.uuid(), data: fc.uint8Array({ minLength: size, maxLength: size }) }), { minLength: 1, maxLength: 3 }),
    }),
  ),
);

test('property: parse(encode(lists)) gives back every type, owner and signature', () => {
  fc.assert(
    fc.property(fc.array(listArbitrary, { maxLength: 4 }), (lists) => {
      const parsed = parseSignatureDatabase(encodeSignatureDatabase(lists));
      assert.equal(parsed.length, lists.length);
      for (const [i, list] of lists.entries()) {
        const want = list.type in SignatureType ? SignatureType[list.type as SignatureTypeName] : list.type;
        assert.equal(parsed[i]!.typeGuid, want);
        assert.deepEqual(
          parsed[i]!.signatures.map((s) => [s.owner, toHex(s.data)]),
          list.signatures.map((s) => [s.owner.toLowerCase(), toHex(s.data)]),
        );
      }
    }),
    { numRuns: 200 },
  );
});

test('malformed lists: sizes that do not add up, wrong fixed sizes, trailing bytes, truncation', () => {
  const good = encodeSignatureDatabase([{ type: 'sha256', signatures: [{ owner: OWNER, data: new Uint8Array(32) }] }]);
  const edit = (f: (v: DataView) => void): Uint8Array => {
    const copy = good.slice();
    f(new DataView(copy.buffer));
    return copy;
  };
  const code = (bytes: Uint8Array): string | undefined => typedErrorsOnly(() => parseSignatureDatabase(bytes));
  assert.equal(code(edit((v) => v.setUint32(16, 1000, true))), 'ERR_SECUREBOOT_ESL_MALFORMED'); // ListSize past the end
  assert.equal(code(edit((v) => v.setUint32(16, 20, true))), 'ERR_SECUREBOOT_ESL_MALFORMED'); // ListSize < header
  assert.equal(code(edit((v) => v.setUint32(24, 47, true))), 'ERR_SECUREBOOT_ESL_MALFORMED'); // SignatureSize not tiling
  assert.equal(code(edit((v) => v.setUint32(20, 48, true))), 'ERR_SECUREBOOT_ESL_MALFORMED'); // header on a standard type
  assert.equal(code(edit((v) => v.setUint32(24, 8, true))), 'ERR_SECUREBOOT_ESL_MALFORMED'); // smaller than the owner
  const wrongSize = encodeSignatureDatabase([{ type: '01234567-89ab-cdef-0123-456789abcdef', signatures: [{ owner: OWNER, data: new Uint8Array(31) }] }]);
  wrongSize.set(guidFromString(SignatureType.sha256));
  assert.equal(code(wrongSize), 'ERR_SECUREBOOT_ESL_MALFORMED');
  assert.throws(() => encodeSignatureDatabase([{ type: 'sha256', signatures: [{ owner: OWNER, data: new Uint8Array(31) }] }]), {
    code: 'ERR_SECUREBOOT_ESL_MALFORMED',
  });
  const trailing = new Uint8Array(good.length + 3);
  trailing.set(good);
  assert.equal(code(trailing), 'ERR_SECUREBOOT_ESL_MALFORMED');
  for (let n = 1; n < good.length; n++) assert.ok(code(good.subarray(0, n)), `prefix ${n}`);
  assert.equal(
    typedErrorsOnly(() => parseSignatureDatabaseFile(new Uint8Array(50).fill(0), 'auth')),
    'ERR_SECUREBOOT_AUTH_MALFORMED',
  );
});

test('fuzz: random and mutated databases (all three file forms) give typed errors only', (t) => {
  const bytes = readReal(t, realBinaries.shim);
  if (!bytes) return;
  const real = shimVendorCertificates(parsePe(bytes))!.deauthorized;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(real.length),
      (edits, cut) => {
        const copy = real.slice(0, Math.max(cut, 1));
        for (const [i, b] of edits) if (i < copy.length) copy[i] = b;
        typedErrorsOnly(() => parseSignatureDatabase(copy));
        typedErrorsOnly(() => parseSignatureDatabaseFile(copy));
        return true;
      },
    ),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom('auto', 'esl', 'efivarfs', 'auth'), (random, format) => {
      typedErrorsOnly(() => parseSignatureDatabaseFile(random, format));
      return true;
    }),
    { numRuns: 400 },
  );
});
