// PE/COFF parsing: real Debian binaries, and hostile input (truncated, oversized, random,
// mutated real images) that may only ever produce typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_PE_SECTIONS, authenticodeHash, parsePe, peSectionContent, peSectionData } from '../../src/secureboot/index.ts';
import { peer } from '../helpers/peers.ts';
import { bytesOf, readReal, realBinaries, run, syntheticPe, typedErrorsOnly } from './fixtures.ts';

function expectCode(fn: () => unknown, code: string, field?: RegExp): void {
  assert.throws(fn, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, e.message);
    if (field) assert.match(e.message ?? '', field);
    return true;
  });
}

test('shim: PE32+, long section names resolved from the COFF string table, as objdump shows them', (t) => {
  const bytes = readReal(t, realBinaries.shim);
  const objdump = peer(t, 'objdump');
  if (!bytes || !objdump) return;
  const pe = parsePe(bytes);
  assert.equal(pe.format, 'PE32+');
  assert.equal(pe.machine, 0x8664);
  const names = [...run(objdump, ['-h', realBinaries.shim]).stdout.matchAll(/^\s+\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)].map((m) => ({
    name: m[1],
    size: parseInt(m[2]!, 16),
    vma: BigInt('0x' + m[3]!),
  }));
  assert.deepEqual(
    pe.sections.map((s) => s.name),
    names.map((n) => n.name),
  );
  for (const [i, s] of pe.sections.entries()) {
    assert.equal(s.virtualSize, names[i]!.size, s.name);
    assert.equal(BigInt(s.virtualAddress) + pe.imageBase, names[i]!.vma, s.name);
  }
  assert.ok(pe.sections.some((s) => s.name === '.vendor_cert' && s.rawName.startsWith('/')));
  assert.deepEqual(pe.findings, []);
});

test('section content: VirtualSize bytes as the loader maps them; raw data keeps the file padding', () => {
  const image = syntheticPe('PE32+', [{ name: '.osrel', data: bytesOf('ID=debian\n') }]);
  const pe = parsePe(image);
  assert.equal(Buffer.from(peSectionContent(pe, '.osrel')!).toString(), 'ID=debian\n');
  assert.equal(peSectionData(pe, '.osrel')!.length, 512);
  assert.equal(peSectionContent(pe, '.missing'), undefined);
  // VirtualSize larger than the raw data (.bss-like): zero-filled.
  const copy = image.slice();
  new DataView(copy.buffer).setUint32(pe.sections[0]!.headerOffset + 8, 600, true);
  const mapped = peSectionContent(parsePe(copy), '.osrel')!;
  assert.equal(mapped.length, 600);
  assert.ok(mapped.subarray(512).every((b) => b === 0));
});

test('malformed headers give typed errors naming the field', () => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 100) }]);
  const pe = parsePe(image);
  const edit = (f: (v: DataView) => void): Uint8Array => {
    const copy = image.slice();
    f(new DataView(copy.buffer));
    return copy;
  };
  expectCode(() => parsePe(edit((v) => v.setUint16(0, 0, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /MZ/);
  expectCode(() => parsePe(edit((v) => v.setUint32(0x3c, image.length, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /e_lfanew/);
  expectCode(() => parsePe(edit((v) => v.setUint32(pe.peHeaderOffset, 0x12345678, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /PE signature/);
  expectCode(() => parsePe(edit((v) => v.setUint16(pe.optionalHeaderOffset, 0x107, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /Magic/);
  expectCode(() => parsePe(edit((v) => v.setUint16(pe.peHeaderOffset + 20, 200, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /SizeOfOptionalHeader/);
  expectCode(() => parsePe(edit((v) => v.setUint32(pe.dataDirectoryOffset - 4, 17, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /NumberOfRvaAndSizes/);
  expectCode(() => parsePe(edit((v) => v.setUint16(pe.peHeaderOffset + 6, MAX_PE_SECTIONS + 1, true))), 'ERR_SECUREBOOT_PE_TOO_LARGE');
  expectCode(() => parsePe(edit((v) => v.setUint16(pe.peHeaderOffset + 6, 20, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /SizeOfHeaders/);
  expectCode(() => parsePe(edit((v) => v.setUint32(pe.checksumOffset - 4, image.length + 1, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /SizeOfHeaders/);
  expectCode(() => parsePe(edit((v) => v.setUint32(pe.sections[0]!.headerOffset + 16, 0x10000, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /runs past/);
  expectCode(() => parsePe(edit((v) => v.setUint32(pe.certificateDirectoryOffset! + 4, 16, true))), 'ERR_SECUREBOOT_PE_MALFORMED', /certificate table/);
  expectCode(
    () =>
      parsePe(
        edit((v) => {
          v.setUint32(pe.certificateDirectoryOffset!, image.length - 8, true);
          v.setUint32(pe.certificateDirectoryOffset! + 4, 16, true);
        }),
      ),
    'ERR_SECUREBOOT_PE_MALFORMED',
    /runs past/,
  );
  expectCode(() => parsePe(new Uint8Array(10)), 'ERR_SECUREBOOT_PE_MALFORMED');
});

test('a certificate table that does not end the file is reported: firmware would hash part of it', () => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 100) }]);
  const withTable = new Uint8Array(image.length + 32);
  withTable.set(image);
  const pe = parsePe(image);
  const v = new DataView(withTable.buffer);
  v.setUint32(pe.certificateDirectoryOffset!, image.length, true);
  v.setUint32(pe.certificateDirectoryOffset! + 4, 16, true);
  assert.deepEqual(parsePe(withTable).findings, ['certificate-table-not-at-end']);
});

test('fuzz: every truncation of a real image header gives a typed error', (t) => {
  const bytes = readReal(t, realBinaries.linuxStub);
  if (!bytes) return;
  const headerEnd = parsePe(bytes).sizeOfHeaders;
  for (let n = 0; n < headerEnd + 64; n++)
    assert.ok(
      typedErrorsOnly(() => parsePe(bytes.subarray(0, n))),
      `prefix ${n} must be rejected`,
    );
});

test('fuzz: mutated real headers and random bytes only ever give typed errors', (t) => {
  const bytes = readReal(t, realBinaries.linuxStub);
  if (!bytes) return;
  const head = bytes.subarray(0, 0x400);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(head.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
      const copy = bytes.slice();
      for (const [i, b] of edits) copy[i] = b;
      typedErrorsOnly(() => authenticodeHash(copy));
      return true;
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), (random) => {
      typedErrorsOnly(() => parsePe(random));
      const withMz = random.slice();
      if (withMz.length >= 2) withMz.set([0x4d, 0x5a]);
      typedErrorsOnly(() => authenticodeHash(withMz));
      return true;
    }),
    { numRuns: 500 },
  );
});
