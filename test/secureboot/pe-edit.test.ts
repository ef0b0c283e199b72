// Building UKIs from systemd's stub: sections appended must be what objdump reads, what sbsign
// signs and sbverify accepts; checksums equal the ones real signed binaries carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/bytes/index.ts';
import { appendSections, authenticodeHash, parsePe, peChecksum, peSectionContent, stripSignatures } from '../../src/secureboot/index.ts';
import { peer } from '../helpers/peers.ts';
import { bytesOf, readReal, realBinaries, run, syntheticPe, tempDir } from './fixtures.ts';

test('checksum: equals the CheckSum field of Microsoft- and Debian-signed binaries', (t) => {
  for (const path of [realBinaries.shim, realBinaries.grub, realBinaries.linuxStub, realBinaries.mokManager]) {
    const bytes = readReal(t, path);
    if (!bytes) return;
    const pe = parsePe(bytes);
    assert.equal(peChecksum(bytes, pe.checksumOffset), pe.checksum, path);
  }
});

test('UKI from linuxx64.efi.stub: objdump lists the new sections, sbsign signs it and sbverify accepts', (t) => {
  const stub = readReal(t, realBinaries.linuxStub);
  const objdump = peer(t, 'objdump');
  const sbsign = peer(t, 'sbsign');
  const sbverify = peer(t, 'sbverify');
  const openssl = peer(t, 'openssl');
  if (!stub || !objdump || !sbsign || !sbverify || !openssl) return;
  const dir = tempDir(t);
  const osrel = bytesOf('ID=debian\nVERSION_ID=12\n');
  const cmdline = bytesOf('console=ttyS0 composefs=00ff');
  const linux = bytesOf('MZ-kernel', 100_000);
  const uki = appendSections(stub, [
    { name: '.osrel', data: osrel },
    { name: '.cmdline', data: cmdline },
    { name: '.linux', data: linux, virtualAddress: 0x2000000 },
  ]);
  const pe = parsePe(uki);
  assert.equal(toHex(peSectionContent(pe, '.cmdline')!), toHex(cmdline));
  assert.equal(toHex(peSectionContent(pe, '.linux')!), toHex(linux));
  assert.equal(pe.sections.find((s) => s.name === '.linux')!.virtualAddress, 0x2000000);
  assert.equal(pe.sizeOfImage, 0x2000000 + 100_000 + (pe.sectionAlignment - (100_000 % pe.sectionAlignment)));
  assert.equal(peChecksum(uki, pe.checksumOffset), pe.checksum);
  const file = join(dir, 'uki.efi');
  writeFileSync(file, uki);
  const listing = run(objdump, ['-h', file]).stdout;
  for (const [name, size] of [
    ['.osrel', osrel.length],
    ['.cmdline', cmdline.length],
    ['.linux', linux.length],
  ] as const) {
    assert.match(listing, new RegExp(`\\s${name.replace('.', '\\.')}\\s+${size.toString(16).padStart(8, '0')}\\s`), name);
  }
  const key = join(dir, 'k.key');
  const cert = join(dir, 'k.crt');
  assert.equal(run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=UKI', '-days', '30']).status, 0);
  assert.equal(run(sbsign, ['--key', key, '--cert', cert, '--output', join(dir, 'uki.signed'), file]).status, 0);
  assert.equal(run(sbverify, ['--cert', cert, join(dir, 'uki.signed')]).status, 0);
});

test('stripSignatures: the signed shim without its table is the unsigned build padded to 8 bytes (CheckSum aside)', (t) => {
  const signed = readReal(t, realBinaries.shim);
  const unsigned = readReal(t, realBinaries.shimUnsigned);
  if (!signed || !unsigned) return;
  const stripped = stripSignatures(signed);
  assert.equal(toHex(authenticodeHash(stripped)), toHex(authenticodeHash(signed)));
  assert.equal(stripped.length, (unsigned.length + 7) & ~7);
  const pe = parsePe(stripped);
  const diff = [...stripped.subarray(0, unsigned.length)].flatMap((b, i) => (b === unsigned[i] ? [] : [i]));
  assert.ok(
    diff.every((i) => i >= pe.checksumOffset && i < pe.checksumOffset + 4),
    `differs at ${diff.join(',')}`,
  );
});

test('appendSections refuses what it cannot do cleanly, with typed errors', (t) => {
  const image = syntheticPe('PE32+', [{ name: '.text', data: bytesOf('x', 10) }]);
  const unsupported = { code: 'ERR_SECUREBOOT_PE_UNSUPPORTED' };
  assert.throws(() => appendSections(image, [{ name: '.toolongname', data: bytesOf('x') }]), unsupported);
  assert.throws(() => appendSections(image, [{ name: '.a', data: bytesOf('x'), virtualAddress: 0x1001 }]), unsupported);
  // The synthetic header has room for 8 section headers in all.
  assert.throws(
    () =>
      appendSections(
        image,
        Array.from({ length: 8 }, (_, i) => ({ name: `.s${i}`, data: bytesOf('x') })),
      ),
    unsupported,
  );
  const trailing = new Uint8Array(image.length + 5).fill(1);
  trailing.set(image);
  assert.throws(() => appendSections(trailing, [{ name: '.a', data: bytesOf('x') }]), unsupported);
  const shim = readReal(t, realBinaries.shim);
  if (shim) assert.throws(() => appendSections(shim, [{ name: '.a', data: bytesOf('x') }]), /strip the signature first/);
});
