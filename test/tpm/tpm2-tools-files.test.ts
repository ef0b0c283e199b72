// tpm2-tools file formats: round trips, a layout pinned by hand, and hostile files (truncated,
// oversized, random, mutated) → typed errors only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TpmError } from '../../src/tpm/errors.ts';
import { toPcrSelection } from '../../src/tpm/pcr-selection.ts';
import {
  encodeCredentialFile,
  encodePcrsSerialized,
  parseCredentialFile,
  parsePcrList,
  parsePcrValues,
  parsePcrsSerialized,
} from '../../src/tpm/tpm2-tools-files.ts';
import { hashAlgorithmById } from '../../src/hash/index.ts';

const sizes: Record<number, number> = { 0x0004: 20, 0x000b: 32, 0x000c: 48 };
const selectionArb = fc
  .uniqueArray(fc.constantFrom(0x0004, 0x000b, 0x000c), { minLength: 1, maxLength: 3 })
  .chain((banks) =>
    fc.tuple(
      ...banks.map((hash) =>
        fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 24 }).map((pcrs) => ({ hash: hash, pcrs: pcrs.sort((a, b) => a - b) })),
      ),
    ),
  );
const withValues = selectionArb.chain((sel) =>
  fc.tuple(fc.constant(sel), fc.tuple(...sel.flatMap((s) => s.pcrs.map(() => fc.uint8Array({ minLength: sizes[s.hash]!, maxLength: sizes[s.hash]! }))))),
);

function typedOnly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof TpmError, `untyped error: ${(e as Error).message}`);
  }
}

test('serialized PCR file: layout of tpm2-tools (132-byte selection list, u32 block count, 532-byte TPML_DIGEST blocks)', () => {
  const sel = toPcrSelection([{ hash: 0x000b, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8] }]);
  const values = Array.from({ length: 9 }, (_, i) => new Uint8Array(32).fill(i));
  const bytes = encodePcrsSerialized(sel, values);
  assert.equal(bytes.length, 132 + 4 + 2 * 532);
  assert.equal(Buffer.from(bytes.subarray(0, 11)).toString('hex'), '01000000' + '0b00' + '03' + 'ff0100' + '00');
  assert.equal(Buffer.from(bytes.subarray(132, 142)).toString('hex'), '02000000' + '08000000' + '2000');
  assert.equal(bytes[132 + 4 + 532]!, 1, 'second block holds the ninth value');
});

test('serialized PCR file and raw values: round trip', () => {
  fc.assert(
    fc.property(withValues, ([sel, values]) => {
      const selection = toPcrSelection(sel);
      const parsed = parsePcrsSerialized(encodePcrsSerialized(selection, values));
      assert.deepStrictEqual(parsed.ordered, values);
      assert.deepStrictEqual(parsed.selection, selection);
      const raw = parsePcrValues(Buffer.concat(values), selection);
      assert.deepStrictEqual(raw.ordered, values);
      for (const s of sel) assert.deepStrictEqual(Object.keys(parsed.values[hashAlgorithmById(s.hash)!]!).map(Number), s.pcrs);
    }),
    { numRuns: 100 },
  );
});

test('hostile PCR files: truncated, extended, random, mutated → typed errors only', () => {
  const sel = toPcrSelection([
    { hash: 0x000b, pcrs: [0, 7] },
    { hash: 0x0004, pcrs: [1] },
  ]);
  const good = encodePcrsSerialized(sel, [new Uint8Array(32), new Uint8Array(32), new Uint8Array(20)]);
  for (let n = 0; n < good.length; n += 7) assert.throws(() => parsePcrsSerialized(good.subarray(0, n)), TpmError);
  assert.throws(() => parsePcrsSerialized(new Uint8Array([...good, 0])), { code: 'ERR_TPM_TRAILING' });
  const manyBlocks = good.slice();
  new DataView(manyBlocks.buffer).setUint32(132, 0xffffffff, true);
  assert.throws(() => parsePcrsSerialized(manyBlocks), { code: 'ERR_TPM_TOO_LARGE' });
  const wrongSize = good.slice();
  new DataView(wrongSize.buffer).setUint16(140, 20, true);
  assert.throws(() => parsePcrsSerialized(wrongSize), { code: 'ERR_TPM_BAD_VALUE' });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 1400 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => {
          const b = good.slice();
          for (const [at, v] of edits) b[at % b.length] = v;
          return b;
        }),
      ),
      (b) => {
        typedOnly(() => parsePcrsSerialized(b));
        typedOnly(() => parsePcrValues(b, sel));
      },
    ),
  );
  assert.throws(() => parsePcrValues(new Uint8Array(83), sel), { code: 'ERR_TPM_TRUNCATED' });
  assert.throws(() => parsePcrValues(new Uint8Array(85), sel), { code: 'ERR_TPM_TRAILING' });
  assert.throws(() => parsePcrValues(new Uint8Array(32), [{ hash: 0x0001 as never, pcrSelect: new Uint8Array([1, 0, 0]) }]), { code: 'ERR_TPM_BAD_ALG' });
});

test('credential file: round trip and hostile input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), fc.uint8Array({ maxLength: 512 }), (credentialBlob, secret) => {
      assert.deepStrictEqual(parseCredentialFile(encodeCredentialFile({ credentialBlob, secret })), { credentialBlob, secret });
    }),
  );
  const good = encodeCredentialFile({ credentialBlob: new Uint8Array(68), secret: new Uint8Array(256) });
  for (let n = 0; n < good.length; n += 5) assert.throws(() => parseCredentialFile(good.subarray(0, n)), TpmError);
  assert.throws(() => parseCredentialFile(new Uint8Array([...good, 1])), { code: 'ERR_TPM_TRAILING' });
  assert.throws(() => parseCredentialFile(new Uint8Array([0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1, 0xff, 0xff, 0, 0])), { code: 'ERR_TPM_TOO_LARGE' });
  assert.throws(() => parseCredentialFile(new Uint8Array([0xba, 0xdc, 0xc0, 0xdf, 0, 0, 0, 1, 0, 0, 0, 0])), {
    code: 'ERR_TPM_BAD_VALUE',
    message: /^not a tpm2-tools credential file: magic 0xbadcc0df/,
  });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => typedOnly(() => parseCredentialFile(b))));
});

test('PCR lists in tpm2-tools syntax', () => {
  assert.deepStrictEqual(parsePcrList('sha256:0,1,2+sha1:7'), [
    { hash: 0x000b, pcrs: [0, 1, 2] },
    { hash: 0x0004, pcrs: [7] },
  ]);
  assert.deepStrictEqual(parsePcrList('sha384:0-3,16'), [{ hash: 0x000c, pcrs: [0, 1, 2, 3, 16] }]);
  assert.equal(parsePcrList('sha256:all')[0]!.pcrs.length, 24);
  for (const bad of ['', 'sha256', 'md5:1', 'sha256:32', 'sha256:5-2', 'sha256:x', 'sha256:0+sha1:1+sha256:1'])
    assert.throws(() => parsePcrList(bad), TpmError, bad);
});
