// The Authenticode hash must equal, to the byte, what UEFI firmware computes: checked against the
// digests the signers of real Debian binaries embedded, osslsigncode, efitools, and by property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { toHex } from '../../src/bytes/index.ts';
import { VouchError } from '../../src/errors/index.ts';
import {
  MAX_HASHED_BYTES_PER_FILE_BYTE,
  authenticodeHash,
  authenticodeRanges,
  parseAuthenticodeSignature,
  parseCertificateTable,
  parsePe,
  signImage,
  verifyImage,
} from '../../src/secureboot/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { bytesOf, createTestPki, overlappingSectionsPe, readReal, realBinaries, run, syntheticPe, tempDir } from './fixtures.ts';

const signedBinaries = [realBinaries.shim, realBinaries.mokManager, realBinaries.fallback, realBinaries.grub];

test('real signed Debian binaries: the hash equals the digest their signers embedded (every signature)', (t) => {
  for (const path of signedBinaries) {
    const bytes = readReal(t, path);
    if (!bytes) return;
    const pe = parsePe(bytes);
    const entries = parseCertificateTable(pe);
    assert.ok(entries.length >= 1, path);
    for (const entry of entries) {
      const sig = parseAuthenticodeSignature(entry.data);
      assert.equal(toHex(authenticodeHash(pe, sig.digestAlgorithm)), toHex(sig.imageDigest), `${path} (${sig.digestAlgorithm})`);
    }
  }
});

test('osslsigncode computes the same digest (grub signed by Debian)', (t) => {
  const tool = peer(t, 'osslsigncode');
  const bytes = readReal(t, realBinaries.grub);
  if (!tool || !bytes) return;
  const out = run(tool, ['verify', '-in', realBinaries.grub]).stdout;
  const calculated = /Calculated message digest\s*:\s*([0-9A-F]+)/.exec(out)?.[1];
  assert.equal(calculated?.toLowerCase(), toHex(authenticodeHash(bytes, 'sha256')));
});

test('efitools hash-to-efi-sig-list agrees; it pads to 8 bytes first, as sbsign does, while UEFI hashes the file as is', (t) => {
  const tool = peer(t, 'hash-to-efi-sig-list');
  if (!tool) return;
  const dir = tempDir(t);
  for (const path of [realBinaries.linuxStub, realBinaries.shimUnsigned, realBinaries.systemdBoot]) {
    const bytes = readReal(t, path);
    if (!bytes) return;
    const esl = join(dir, 'hash.esl');
    assert.equal(run(tool, [path, esl]).status, 0);
    const efitoolsDigest = toHex(new Uint8Array(readFileSync(esl)).subarray(-32));
    const padded = new Uint8Array((bytes.length + 7) & ~7);
    padded.set(bytes);
    assert.equal(toHex(authenticodeHash(padded)), efitoolsDigest, path);
    if (bytes.length % 8 !== 0) assert.notEqual(toHex(authenticodeHash(bytes)), efitoolsDigest, `${path}: unpadded differs`);
  }
});

test('signing pads the image, so the signed hash differs from the unsigned one unless already aligned', (t) => {
  const fallback = readReal(t, realBinaries.fallback);
  const fallbackUnsigned = readReal(t, '/usr/lib/shim/fbx64.efi');
  const mm = readReal(t, realBinaries.mokManager);
  const mmUnsigned = readReal(t, '/usr/lib/shim/mmx64.efi');
  if (!fallback || !fallbackUnsigned || !mm || !mmUnsigned) return;
  assert.equal(fallbackUnsigned.length % 8, 0);
  assert.equal(toHex(authenticodeHash(fallback)), toHex(authenticodeHash(fallbackUnsigned)));
  assert.notEqual(mmUnsigned.length % 8, 0);
  assert.notEqual(toHex(authenticodeHash(mm)), toHex(authenticodeHash(mmUnsigned)));
});

test('PE32 and PE32+: osslsigncode verifies our signature and computes our digest', (t) => {
  const tool = peer(t, 'osslsigncode');
  const openssl = peer(t, 'openssl');
  if (!tool || !openssl) return;
  const dir = tempDir(t);
  const pki = createTestPki(dir, openssl);
  for (const format of ['PE32', 'PE32+'] as const) {
    const image = syntheticPe(format, [
      { name: '.text', data: bytesOf('text', 3001) },
      { name: '.data', data: bytesOf('data', 700) },
    ]);
    const signed = signImage(image, { certificate: readFileSync(pki.other.cert, 'utf8'), privateKey: readFileSync(pki.other.key, 'utf8') });
    const file = join(dir, `${format}.efi`);
    writeFileSync(file, signed);
    const out: string = run(tool, ['verify', '-in', file, '-CAfile', pki.other.cert]).stdout;
    const calculated: string | undefined = /Calculated message digest\s*:\s*([0-9A-F]+)/.exec(out)?.[1];
    assert.equal(calculated?.toLowerCase(), toHex(authenticodeHash(signed)), format);
    assert.equal(parsePe(signed).format, format);
  }
});

test('without a certificate directory (NumberOfRvaAndSizes = 4) the headers are hashed through SizeOfHeaders, skipping only CheckSum', () => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 512) }], 4);
  const pe = parsePe(image);
  assert.equal(pe.certificateDirectoryOffset, undefined);
  const s = pe.sections[0]!;
  const expected = createHash('sha256')
    .update(image.subarray(0, pe.checksumOffset))
    .update(image.subarray(pe.checksumOffset + 4, pe.sizeOfHeaders))
    .update(image.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData))
    .digest('hex');
  assert.equal(toHex(authenticodeHash(image)), expected);
});

test('trailing data after the last section is hashed; the certificate table is not', () => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 512) }]);
  const withTrailer = new Uint8Array(image.length + 24);
  withTrailer.set(image);
  withTrailer.fill(0xab, image.length);
  const pe = parsePe(withTrailer);
  assert.deepEqual(authenticodeRanges(pe).at(-1), [image.length, withTrailer.length]);
  assert.notEqual(toHex(authenticodeHash(withTrailer)), toHex(authenticodeHash(image)));
});

/** Copies `image` with `table` (a certificate table) and `trailer` appended, in that order or reversed, and points the certificate directory at the table. */
function withTableAndTrailer(image: Uint8Array, table: Uint8Array, trailer: Uint8Array, tableFirst: boolean): Uint8Array {
  const out = new Uint8Array(image.length + table.length + trailer.length);
  out.set(image);
  const tableOffset = tableFirst ? image.length : image.length + trailer.length;
  out.set(table, tableOffset);
  out.set(trailer, tableFirst ? image.length + table.length : image.length);
  const directory = parsePe(image).certificateDirectoryOffset!;
  const v = new DataView(out.buffer);
  v.setUint32(directory, tableOffset, true);
  v.setUint32(directory + 4, table.length, true);
  return out;
}

for (const format of ['PE32', 'PE32+'] as const) {
  test(`${format}: trailing data before a certificate table that ends the file is hashed, the table is not (edk2 HashPeImage)`, () => {
    const image = syntheticPe(format, [
      { name: '.text', data: bytesOf('x', 512) },
      { name: '.data', data: bytesOf('y', 100) },
    ]);
    const file = withTableAndTrailer(image, new Uint8Array(16).fill(0xcc), new Uint8Array(24).fill(0xab), false);
    const pe = parsePe(file);
    assert.equal(pe.format, format);
    assert.deepEqual(pe.findings, []);
    const expected = createHash('sha256')
      .update(file.subarray(0, pe.checksumOffset))
      .update(file.subarray(pe.checksumOffset + 4, pe.certificateDirectoryOffset))
      .update(file.subarray(pe.certificateDirectoryOffset! + 8, image.length + 24))
      .digest('hex');
    assert.equal(toHex(authenticodeHash(file)), expected);
    const tableByte = file.slice();
    tableByte[file.length - 1]! ^= 0xff;
    assert.equal(toHex(authenticodeHash(tableByte)), expected, 'a byte of the certificate table is not covered');
  });

  test(`${format}: a certificate table that does not end the file: firmware hashes [headers+sections, fileSize - tableSize), part of the table, not the end of the trailer`, () => {
    const image = syntheticPe(format, [{ name: '.text', data: bytesOf('x', 512) }]);
    const file = withTableAndTrailer(image, new Uint8Array(16).fill(0xcc), new Uint8Array(40).fill(0xab), true);
    const pe = parsePe(file);
    assert.deepEqual(pe.findings, ['certificate-table-not-at-end']);
    assert.deepEqual(authenticodeRanges(pe).at(-1), [image.length, file.length - 16]);
    const reference = toHex(authenticodeHash(file));
    const flip = (offset: number): string => {
      const copy = file.slice();
      copy[offset]! ^= 0xff;
      return toHex(authenticodeHash(copy));
    };
    assert.notEqual(flip(image.length), reference, 'the first table byte lies inside the hashed range');
    assert.notEqual(flip(file.length - 17), reference, 'the trailer up to fileSize - tableSize is hashed');
    assert.equal(flip(file.length - 1), reference, 'the last tableSize bytes of the file are not hashed, whatever they hold');
  });

  test(`${format}: with NumberOfRvaAndSizes = 4 (no certificate directory) all trailing data is hashed`, () => {
    const image = syntheticPe(format, [{ name: '.text', data: bytesOf('x', 512) }], 4);
    const file = new Uint8Array(image.length + 24).fill(0xab);
    file.set(image);
    const pe = parsePe(file);
    assert.equal(pe.certificateDirectoryOffset, undefined);
    const expected = createHash('sha256')
      .update(file.subarray(0, pe.checksumOffset))
      .update(file.subarray(pe.checksumOffset + 4))
      .digest('hex');
    assert.equal(toHex(authenticodeHash(file)), expected);
  });
}

test('a certificate table overlapping section data (fileSize < hashed bytes + table size) is refused, as edk2 does', () => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 512) }]);
  // 8 bytes of trailer, and a 16-byte table covering them and the last 8 bytes of .text.
  const file = new Uint8Array(image.length + 8);
  file.set(image);
  const v = new DataView(file.buffer);
  const directory = parsePe(image).certificateDirectoryOffset!;
  v.setUint32(directory, file.length - 16, true);
  v.setUint32(directory + 4, 16, true);
  assert.throws(
    () => authenticodeHash(file),
    (e: unknown) => e instanceof VouchError && e.code === 'ERR_SECUREBOOT_PE_MALFORMED' && /overlaps/.test(e.message),
  );
});

test('property: the hash ignores CheckSum, the certificate directory entry and the table, and covers every other byte', () => {
  const image = syntheticPe('PE32', [
    { name: '.text', data: bytesOf('a', 1000) },
    { name: '.rdata', data: bytesOf('b', 300) },
  ]);
  const pe = parsePe(image);
  const reference = toHex(authenticodeHash(image));
  const excluded = (i: number): boolean =>
    (i >= pe.checksumOffset && i < pe.checksumOffset + 4) || (i >= pe.certificateDirectoryOffset! && i < pe.certificateDirectoryOffset! + 8);
  fc.assert(
    fc.property(fc.nat(image.length - 1), fc.integer({ min: 1, max: 255 }), (offset, xor) => {
      const copy = image.slice();
      copy[offset]! ^= xor;
      let changed: boolean;
      try {
        changed = toHex(authenticodeHash(copy)) !== reference;
      } catch {
        return true; // the flip broke a header field: rejected, which is fine
      }
      // Bytes outside headers and sections (section padding is inside SizeOfRawData) are all covered.
      return excluded(offset) ? !changed : changed;
    }),
    { numRuns: 300 },
  );
});

// Issue 7 §1: 96 section headers over one raw region made the hash cover 96× the file (1000 MiB:
// 90 s). The total is now checked against MAX_HASHED_BYTES_PER_FILE_BYTE × the file size before
// any byte is hashed; up to that bound the hash is still exactly edk2's (and sbsign's).
test('overlapping sections: up to twice the file size is hashed as edk2 does (sbsign agrees); beyond is refused before hashing', async (t) => {
  const twice = overlappingSectionsPe(2, 64 * 1024);
  const hashed = authenticodeRanges(parsePe(twice)).reduce((n, [start, end]) => n + end - start, 0);
  assert.ok(hashed > twice.length && hashed <= MAX_HASHED_BYTES_PER_FILE_BYTE * twice.length);
  const sbsign = peer(t, 'sbsign');
  const openssl = peer(t, 'openssl');
  if (sbsign && openssl) {
    const dir = tempDir(t);
    const pki = createTestPki(dir, openssl);
    writeFileSync(join(dir, 'twice.efi'), twice);
    const r = run(sbsign, ['--key', pki.other.key, '--cert', pki.other.cert, '--output', join(dir, 'twice.signed.efi'), join(dir, 'twice.efi')]);
    assert.equal(r.status, 0, r.stderr);
    const sig = parseAuthenticodeSignature(parseCertificateTable(parsePe(new Uint8Array(readFileSync(join(dir, 'twice.signed.efi')))))[0]!.data);
    assert.equal(toHex(authenticodeHash(twice)), toHex(sig.imageDigest), 'sbsign hashed each section header once, as we do');
  }

  const thrice = overlappingSectionsPe(3, 64 * 1024);
  assert.throws(() => authenticodeHash(thrice), { code: 'ERR_SECUREBOOT_PE_HASH_TOO_LARGE', message: /at most 2× its size/ });
  const hostile = overlappingSectionsPe(96, 1 << 20);
  assert.throws(
    () => authenticodeRanges(parsePe(hostile)),
    (e: unknown) => {
      assert.ok(e instanceof VouchError && e.code === 'ERR_SECUREBOOT_PE_HASH_TOO_LARGE');
      const sizeOfHeaders = hostile.length - (1 << 20);
      assert.equal(e.details['hashed'], sizeOfHeaders - 12 + 96 * (1 << 20), 'headers without CheckSum and the certificate directory, then 96 sections');
      return true;
    },
  );
  assert.throws(() => verifyImage(hostile, { db: [] }), { code: 'ERR_SECUREBOOT_PE_HASH_TOO_LARGE' });
  const dir = tempDir(t);
  writeFileSync(join(dir, 'hostile.efi'), hostile);
  const cli = await runVouch(['pe', 'hash', join(dir, 'hostile.efi')]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^vouch: ERR_SECUREBOOT_PE_HASH_TOO_LARGE: /);
});
