// edk2/OVMF variable stores: Debian's snakeoil and Microsoft VARS files read correctly (the
// snakeoil db holds the certificate shipped next to it), and malformed stores — truncated,
// random, mutated — give ERR_PREDICT_VARSTORE only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { parseVariableStore } from '../../src/predict/index.ts';
import { parseSignatureDatabase, signatureEntries } from '../../src/secureboot/index.ts';
import { isVouchError } from '../../src/errors/index.ts';
import { OVMF } from '../helpers/bootlab.ts';
import { packageFile } from '../helpers/peers.ts';

const MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';

function typedOnly(bytes: Uint8Array): void {
  try {
    parseVariableStore(bytes);
  } catch (e) {
    assert.ok(isVouchError(e) && e.code === 'ERR_PREDICT_VARSTORE', `untyped failure: ${String(e)}`);
  }
}

test('the snakeoil store holds PK, KEK and db with the snakeoil certificate, and no SecureBoot (it is volatile)', async (t) => {
  if (!packageFile(t, OVMF.snakeoilVars, 'ovmf')) return;
  const vars = parseVariableStore(new Uint8Array(await readFile(OVMF.snakeoilVars)));
  const names = vars.map((v) => v.name);
  for (const n of ['PK', 'KEK', 'db', 'dbx']) assert.ok(names.includes(n), `${n} missing`);
  assert.ok(!names.includes('SecureBoot'));
  const db = vars.find((v) => v.name === 'db' && v.vendorGuid === 'd719b2cb-3d3a-4596-a3bc-dad00e67656f')!;
  const [entry] = signatureEntries(parseSignatureDatabase(db.data));
  assert.equal(entry?.type, 'x509');
  const shipped = new X509Certificate(await readFile(OVMF.snakeoilCert));
  assert.ok(Buffer.from(entry.certificate).equals(shipped.raw));
  // Names are unique among live variables (deleted copies are skipped).
  const keys = vars.map((v) => `${v.vendorGuid}/${v.name}`);
  assert.equal(new Set(keys).size, keys.length);
});

test('the Microsoft store has the Microsoft UEFI CA 2011 in db', async (t) => {
  if (!packageFile(t, MS_VARS, 'ovmf')) return;
  const db = parseVariableStore(new Uint8Array(await readFile(MS_VARS))).find((v) => v.name === 'db')!;
  const subjects = signatureEntries(parseSignatureDatabase(db.data)).flatMap((e) => (e.type === 'x509' ? [new X509Certificate(e.certificate).subject] : []));
  assert.ok(
    subjects.some((s) => s.includes('Microsoft Corporation UEFI CA 2011')),
    subjects.join(' | '),
  );
});

test('malformed stores: every truncation, random bytes and mutations give typed errors only', async (t) => {
  if (!packageFile(t, OVMF.snakeoilVars, 'ovmf')) return;
  const real = new Uint8Array(await readFile(OVMF.snakeoilVars));
  // The variables live in the first ~68 KiB: mutations there hit every variable header field.
  const used = 0x11000;
  for (let n = 0; n < used; n += 97) typedOnly(real.subarray(0, n));
  assert.throws(
    () => parseVariableStore(new Uint8Array(100)),
    (e: unknown) => isVouchError(e) && e.code === 'ERR_PREDICT_VARSTORE',
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => typedOnly(bytes)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: used - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
      const mutated = real.slice();
      for (const [at, value] of edits) mutated[at] = value;
      typedOnly(mutated);
    }),
    { numRuns: 300 },
  );
});
