// Pins the public API of src/secureboot that eventlog and predict build on: names at runtime,
// shapes at type-check time (`npx tsc` fails if a signature drifts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as secureboot from '../../src/secureboot/index.ts';
import type { AuthenticodeHashAlgorithm, PeImage, SecureBootVerdict, SignatureEntry, EfiSignatureList, NewSection } from '../../src/secureboot/index.ts';
import type { Equal } from '../helpers/type-equal.ts';

const pinned: [
  Equal<Parameters<typeof secureboot.authenticodeHash>, [image: Uint8Array | PeImage, algorithm?: AuthenticodeHashAlgorithm]>,
  Equal<ReturnType<typeof secureboot.authenticodeHash>, Uint8Array>,
  Equal<ReturnType<typeof secureboot.parseSignatureDatabase>, EfiSignatureList[]>,
  Equal<ReturnType<typeof secureboot.signatureEntries>, SignatureEntry[]>,
  Equal<ReturnType<typeof secureboot.verifyImage>, SecureBootVerdict>,
  Equal<Parameters<typeof secureboot.appendSections>, [image: Uint8Array, sections: readonly NewSection[]]>,
  Equal<SecureBootVerdict['authority'], SignatureEntry | undefined>,
] = [true, true, true, true, true, true, true];

test('public API: the functions other areas import exist', () => {
  assert.ok(pinned.every(Boolean));
  for (const name of [
    'parsePe',
    'peSectionContent',
    'authenticodeHash',
    'parseSignatureDatabase',
    'parseSignatureDatabaseFile',
    'encodeSignatureDatabase',
    'signatureEntries',
    'guidToString',
    'guidFromString',
    'parseCertificateTable',
    'parseAuthenticodeSignature',
    'verifyImage',
    'appendSections',
    'stripSignatures',
    'signImage',
    'peSbat',
    'shimVendorCertificates',
  ]) {
    assert.equal(typeof (secureboot as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(secureboot.AuthenticodeHashAlgorithm.sha256, 'sha256');
  assert.equal(secureboot.SignatureType.x509, 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072');
});
