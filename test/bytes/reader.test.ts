import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader, ByteWriter, fromHex, toHex, BytesError } from '../../src/bytes/index.ts';

test('reader/writer round-trip integers of every width and endianness', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (a, b, c) => {
      const w = new ByteWriter(1).u16(a).u32(b).u64(c).u16le(a).u32le(b).u64le(c);
      const r = new ByteReader(w.finish());
      assert.equal(r.u16(), a);
      assert.equal(r.u32(), b >>> 0);
      assert.equal(r.u64(), c);
      assert.equal(r.u16le(), a);
      assert.equal(r.u32le(), b >>> 0);
      assert.equal(r.u64le(), c);
      r.expectEnd();
    }),
  );
});

test('truncated, oversized and trailing input give typed errors', () => {
  const r = new ByteReader(new Uint8Array([0, 5, 1, 2]));
  const n = r.u16('len');
  assert.throws(
    () => r.take(n, 1024, 'buf'),
    (e: unknown) => e instanceof BytesError && e.code === 'ERR_BYTES_TRUNCATED',
  );
  assert.throws(
    () => new ByteReader(new Uint8Array(8)).take(8, 4, 'buf'),
    (e: unknown) => e instanceof BytesError && e.code === 'ERR_BYTES_TOO_LARGE',
  );
  assert.throws(
    () => new ByteReader(new Uint8Array(2)).expectEnd(),
    (e: unknown) => e instanceof BytesError && e.code === 'ERR_BYTES_TRAILING',
  );
});

test('hex parses both cases and rejects junk', () => {
  assert.equal(toHex(fromHex('0xDEADbeef')), 'deadbeef');
  assert.throws(() => fromHex('abc'), { code: 'ERR_BYTES_HEX' });
  assert.throws(() => fromHex('zz'), { code: 'ERR_BYTES_HEX' });
});
