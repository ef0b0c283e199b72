// The strict DER reader and the Authenticode PKCS#7 parser: spec cases, real signatures, and
// hostile input (truncated, mutated, random, deeply nested) that may only give typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHex } from '../../src/bytes/index.ts';
import { DerCursor, DerTag, decodeOid, parseAuthenticodeSignature, parseCertificateTable, parseDer, parsePe } from '../../src/secureboot/index.ts';
import { readReal, realBinaries, typedErrorsOnly } from './fixtures.ts';

const derError = { code: 'ERR_SECUREBOOT_DER_MALFORMED' };

test('DER: definite minimal lengths only; BER indefinite, non-minimal, overlong and trailing bytes are rejected', () => {
  assert.equal(toHex(parseDer(new Uint8Array([0x04, 0x02, 0xaa, 0xbb])).content), 'aabb');
  const long = new Uint8Array(3 + 200);
  long.set([0x04, 0x81, 200]);
  assert.equal(parseDer(long).content.length, 200);
  assert.throws(() => parseDer(new Uint8Array([0x30, 0x80, 0, 0])), derError); // indefinite
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x81, 0x01, 0xaa])), derError); // long form for 1
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x82, 0x00, 0x81, ...new Uint8Array(0x81)])), derError); // leading zero
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x85, 1, 0, 0, 0, 0])), derError); // 5 length bytes
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x03, 0xaa])), derError); // past the end
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x01, 0xaa, 0x00])), derError); // trailing
  assert.throws(() => parseDer(new Uint8Array([0x1f, 0x81, 0x01, 0x00])), derError); // high tag number
  assert.throws(() => new DerCursor(parseDer(new Uint8Array([0x04, 0x00])), 'x'), derError); // primitive has no children
});

test('DER: OIDs decode (X.690 §8.19 examples and the Authenticode ones); malformed arcs are rejected', () => {
  const oid = (hex: string): string => decodeOid(parseDer(new Uint8Array(Buffer.from(hex, 'hex'))));
  assert.equal(oid('06062a864886f70d'), '1.2.840.113549');
  assert.equal(oid('06092a864886f70d010702'), '1.2.840.113549.1.7.2');
  assert.equal(oid('060a2b060104018237020104'), '1.3.6.1.4.1.311.2.1.4');
  assert.equal(oid('0603883703'), '2.999.3');
  assert.throws(() => oid('06022a86'), derError); // ends inside an arc
  assert.throws(() => oid('06032a8001'), derError); // non-minimal arc
  assert.throws(() => oid('0600'), derError);
});

test('DER: cursors check each field tag and reject unread fields', () => {
  const seq = parseDer(new Uint8Array([0x30, 0x05, 0x02, 0x01, 0x05, 0x05, 0x00]));
  const c = new DerCursor(seq, 'S');
  assert.equal(c.optional('absent', DerTag.octetString), undefined);
  assert.equal(c.next('n', DerTag.integer).content[0], 5);
  assert.throws(() => c.end(), derError);
  assert.throws(() => c.next('wrong', DerTag.integer), derError);
});

test('real signatures: SignedData fields as signers wrote them', (t) => {
  const shim = readReal(t, realBinaries.shim);
  const grub = readReal(t, realBinaries.grub);
  if (!shim || !grub) return;
  const [first, second] = parseCertificateTable(parsePe(shim)).map((w) => parseAuthenticodeSignature(w.data));
  assert.equal(first!.digestAlgorithm, 'sha256');
  assert.equal(first!.certificates.length, 2);
  assert.equal(first!.signer.digestAlgorithm, 'sha256');
  assert.ok(first!.signer.messageDigest?.length === 32);
  assert.equal(first!.signer.contentType, '1.3.6.1.4.1.311.2.1.4');
  assert.equal(second!.certificates.length, 2);
  assert.deepEqual(first!.nested, []);
  const g = parseAuthenticodeSignature(parseCertificateTable(parsePe(grub))[0]!.data);
  assert.equal(g.certificates.length, 1);
  assert.equal(g.signer.signatureAlgorithm, '1.2.840.113549.1.1.1');
});

test('fuzz: every truncation and random mutations of a real signature give typed errors only', (t) => {
  const grub = readReal(t, realBinaries.grub);
  if (!grub) return;
  const data = parseCertificateTable(parsePe(grub))[0]!.data;
  let der = data;
  while (der.at(-1) === 0) der = der.subarray(0, der.length - 1); // drop the alignment padding
  for (let n = 0; n < der.length - 1; n++)
    assert.ok(
      typedErrorsOnly(() => parseAuthenticodeSignature(der.subarray(0, n))),
      `prefix ${n}`,
    );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(data.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
      const copy = data.slice();
      for (const [i, b] of edits) copy[i] = b;
      typedErrorsOnly(() => parseAuthenticodeSignature(copy));
      return true;
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (random) => {
      typedErrorsOnly(() => parseAuthenticodeSignature(random));
      typedErrorsOnly(() => parseAuthenticodeSignature(new Uint8Array([0x30, 0x82, random.length >> 8, random.length & 0xff, ...random])));
      return true;
    }),
    { numRuns: 500 },
  );
});

test('fuzz: deep nesting and huge declared lengths are bounded', () => {
  const depth = 10_000;
  const nested = new Uint8Array(depth * 2);
  for (let i = 0; i < depth; i++) nested.set([0x30, 0x80], i * 2);
  assert.equal(
    typedErrorsOnly(() => parseAuthenticodeSignature(nested)),
    'ERR_SECUREBOOT_DER_MALFORMED',
  );
  assert.equal(
    typedErrorsOnly(() => parseAuthenticodeSignature(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))),
    'ERR_SECUREBOOT_DER_MALFORMED',
  );
});
