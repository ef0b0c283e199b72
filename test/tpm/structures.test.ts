// Every TPM structure and every command's parameter/response area: decode(encode(x)) = x for
// random values; random, truncated, extended and mutated bytes give typed TpmErrors only, and
// whatever does decode re-encodes to the very same bytes (the encoding is canonical).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as S from '../../src/tpm/structures.ts';
import { allCommandSchemas } from '../../src/tpm/commands.ts';
import { decode, encode, type AnySchema } from '../../src/tpm/schema/index.ts';
import { TpmError } from '../../src/tpm/errors.ts';
import { arbitraryOf } from './schema-arbitrary.ts';

const structureSchemas = Object.entries(S as Record<string, unknown>).filter(
  (e): e is [string, AnySchema] => typeof e[1] === 'object' && e[1] !== null && 'kind' in e[1] && 'read' in e[1],
);
const commandSchemas: [string, AnySchema][] = allCommandSchemas.flatMap((c) => [
  [`${c.name} parameters`, c.params as AnySchema],
  [`${c.name} response`, c.response as AnySchema],
]);
const everySchema = [...structureSchemas, ...commandSchemas];

/** Decodes untrusted bytes: a value, or a TpmError, never anything else. */
function decodeUntrusted(schema: AnySchema, bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; error: TpmError } {
  try {
    return { ok: true, value: decode(schema, bytes) };
  } catch (e) {
    if (!(e instanceof TpmError))
      throw new Error(`${schema.name}: non-typed error ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, { cause: e });
    return { ok: false, error: e };
  }
}

test('the schema list covers the structures of the task', () => {
  const names = new Set(structureSchemas.map(([n]) => n));
  for (const n of [
    'TPMT_PUBLIC',
    'TPM2B_PUBLIC',
    'TPMT_SENSITIVE',
    'TPM2B_SENSITIVE',
    'TPM2B_SENSITIVE_CREATE',
    'TPML_PCR_SELECTION',
    'TPMS_PCR_SELECTION',
    'TPML_DIGEST',
    'TPMT_SIGNATURE',
    'TPMS_ATTEST',
    'TPMS_CLOCK_INFO',
    'TPM2B_ID_OBJECT',
    'TPM2B_ENCRYPTED_SECRET',
    'TPMT_TK_CREATION',
    'TPMT_TK_VERIFIED',
    'TPMT_TK_AUTH',
    'TPMT_TK_HASHCHECK',
    'TPMS_NV_PUBLIC',
    'TPMS_CAPABILITY_DATA',
    'TPMT_SYM_DEF',
    'TPMT_SYM_DEF_OBJECT',
    'TPMT_RSA_SCHEME',
    'TPMT_ECC_SCHEME',
    'TPMS_SENSITIVE_CREATE',
    'TPMS_CREATION_DATA',
    'TPMS_AUTH_COMMAND',
    'TPMS_AUTH_RESPONSE',
    'TPMT_HA',
    'TPML_DIGEST_VALUES',
  ]) {
    assert.ok(names.has(n), n);
  }
  assert.ok(commandSchemas.length >= 2 * 45);
});

describe('round trip: decode(encode(x)) = x', () => {
  for (const [name, schema] of everySchema) {
    test(name, () => {
      fc.assert(
        fc.property(arbitraryOf(schema), (value) => {
          const bytes = encode(schema, value);
          assert.deepStrictEqual(decode(schema, bytes), value);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe('hostile bytes: typed errors only, canonical when accepted', () => {
  for (const [name, schema] of everySchema) {
    test(name, () => {
      const valid = arbitraryOf(schema).map((v) => encode(schema, v));
      const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([b, edits]) => {
        const out = b.slice();
        for (const [at, v] of edits) if (out.length) out[at % out.length] = v;
        return out;
      });
      const inputs = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated);
      fc.assert(
        fc.property(inputs, (bytes) => {
          const r = decodeUntrusted(schema, bytes);
          if (r.ok) assert.deepStrictEqual(encode(schema, r.value), bytes, 'accepted bytes re-encode identically');
        }),
        { numRuns: 150 },
      );
      fc.assert(
        fc.property(valid, (bytes) => {
          for (let n = 0; n < bytes.length; n++) {
            const r = decodeUntrusted(schema, bytes.subarray(0, n));
            assert.equal(r.ok, false, `prefix of ${n}/${bytes.length} bytes accepted`);
            assert.equal(r.error.code, 'ERR_TPM_TRUNCATED');
          }
          const extended = decodeUntrusted(schema, new Uint8Array([...bytes, 0]));
          assert.equal(extended.ok, false);
          assert.equal(extended.error.code, 'ERR_TPM_TRAILING');
        }),
        { numRuns: 15 },
      );
    });
  }
});

describe('named maximums are enforced before allocating', () => {
  test('TPML_DIGEST with 9 entries (max 8) and with 2^32-1 entries', () => {
    for (const count of [9, 0xffffffff]) {
      const bytes = new Uint8Array([count >>> 24, (count >>> 16) & 255, (count >>> 8) & 255, count & 255]);
      assert.throws(() => decode(S.TPML_DIGEST, bytes), { code: 'ERR_TPM_TOO_LARGE' });
    }
  });
  test('TPM2B_DIGEST of 65 bytes (max 64)', () => {
    assert.throws(() => decode(S.TPM2B_DIGEST, new Uint8Array([0, 65, ...new Uint8Array(65)])), { code: 'ERR_TPM_TOO_LARGE' });
  });
  test('TPM2B_PUBLIC announcing 0xffff bytes', () => {
    assert.throws(() => decode(S.TPM2B_PUBLIC, new Uint8Array([0xff, 0xff, 0, 1])), { code: 'ERR_TPM_TOO_LARGE' });
  });
  test('a sized structure may not be empty and must be consumed exactly', () => {
    assert.throws(() => decode(S.TPM2B_ATTEST, new Uint8Array([0, 0])), { code: 'ERR_TPM_BAD_SIZE' });
    // TPM2B_ECC_POINT of 6 bytes holding a 4-byte TPMS_ECC_POINT (two empty coordinates) + 2 spare bytes.
    assert.throws(() => decode(S.TPM2B_ECC_POINT, new Uint8Array([0, 6, 0, 0, 0, 0, 0, 0])), { code: 'ERR_TPM_BAD_SIZE' });
  });
});

describe('selectors and attribute words', () => {
  test('unknown algorithm in TPMT_SIGNATURE is ERR_TPM_BAD_ALG', () => {
    assert.throws(() => decode(S.TPMT_SIGNATURE, new Uint8Array([0x00, 0x0b, 0, 0])), { code: 'ERR_TPM_BAD_ALG' });
  });
  test('unknown attestation type is ERR_TPM_BAD_TAG', () => {
    const b = new Uint8Array([0xff, 0x54, 0x43, 0x47, 0x80, 0x99]);
    assert.throws(() => decode(S.TPMS_ATTEST, b), { code: 'ERR_TPM_BAD_TAG' });
  });
  test('reserved TPMA_OBJECT bits are refused, named ones round-trip', () => {
    assert.throws(() => decode(S.TPMA_OBJECT, new Uint8Array([0, 0, 0, 1])), { code: 'ERR_TPM_BAD_VALUE' });
    const v = decode(S.TPMA_OBJECT, new Uint8Array([0x00, 0x05, 0x00, 0x72]));
    assert.equal(v.restricted && v.sign && v.fixedTPM && v.fixedParent && v.sensitiveDataOrigin && v.userWithAuth, true);
    assert.equal(S.TPMA_OBJECT.toWord(v), 0x00050072);
  });
  test('TPMA_NV keeps the index type field', () => {
    const v = S.TPMA_NV.make({ nt: 4, authRead: true });
    assert.equal(S.TPMA_NV.toWord(v), 0x00040040);
    assert.deepStrictEqual(decode(S.TPMA_NV, encode(S.TPMA_NV, v)), v);
  });
  test('TPMI_YES_NO other than 0/1 is refused', () => {
    assert.throws(() => decode(S.TPMS_CLOCK_INFO, new Uint8Array([...new Uint8Array(16), 2])), { code: 'ERR_TPM_BAD_VALUE' });
  });
  test('encoding a value that does not fit its schema is ERR_TPM_ENCODE', () => {
    assert.throws(() => encode(S.TPM2B_DIGEST, new Uint8Array(65)), { code: 'ERR_TPM_ENCODE' });
    assert.throws(() => encode(S.TPMS_PCR_SELECTION, { hash: 0x0099 as never, pcrSelect: new Uint8Array(3) }), { code: 'ERR_TPM_ENCODE' });
  });
});

test('a known TPMT_PUBLIC: the TCG EK template L-1 encodes to the bytes of the profile', async () => {
  const { ekTemplate } = await import('../../src/tpm/templates.ts');
  const bytes = encode(S.TPMT_PUBLIC, ekTemplate('rsa'));
  // type RSA, nameAlg SHA256, attributes 0x000300b2, 32-byte policy, AES-128-CFB, NULL scheme, 2048, exponent 0, 256-byte unique.
  assert.equal(Buffer.from(bytes.subarray(0, 10)).toString('hex'), '0001000b000300b20020');
  assert.equal(Buffer.from(bytes.subarray(42, 56)).toString('hex'), '0006008000430010080000000000');
  assert.equal(bytes.length, 10 + 32 + 14 + 2 + 256);
});
