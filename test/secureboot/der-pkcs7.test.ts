// The Authenticode PKCS#7 parser on the strict DER layer (whose own cases are in test/der): real
// signatures, and hostile input (truncated, mutated, random, deeply nested) that may only give typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAuthenticodeSignature, parseCertificateTable, parsePe } from '../../src/secureboot/index.ts';
import { readReal, realBinaries, typedErrorsOnly } from './fixtures.ts';

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
    'ERR_DER_MALFORMED',
  );
  assert.equal(
    typedErrorsOnly(() => parseAuthenticodeSignature(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))),
    'ERR_DER_LIMIT',
  );
});
