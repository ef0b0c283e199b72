// Shared fixtures for the secureboot tests: small synthetic PE images (PE32 and PE32+), test
// certificate chains made by openssl, the real Debian-signed binaries, and temp-dir cleanup.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { VouchError } from '../../src/errors/index.ts';
import { appendSections, encodeSignatureDatabase, parseSignatureDatabase, type EfiSignatureList } from '../../src/secureboot/index.ts';
import { packageFile } from '../helpers/peers.ts';

export const realBinaries = {
  shim: '/usr/lib/shim/shimx64.efi.signed',
  shimUnsigned: '/usr/lib/shim/shimx64.efi',
  mokManager: '/usr/lib/shim/mmx64.efi.signed',
  fallback: '/usr/lib/shim/fbx64.efi.signed',
  grub: '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
  systemdBoot: '/usr/lib/systemd/boot/efi/systemd-bootx64.efi',
  linuxStub: '/usr/lib/systemd/boot/efi/linuxx64.efi.stub',
} as const;

/** The Debian package of each real binary (shim-signed pulls in shim-unsigned and shim-helpers-amd64-signed). */
const packageOfBinary: Readonly<Record<string, string>> = {
  [realBinaries.shim]: 'shim-signed',
  [realBinaries.shimUnsigned]: 'shim-unsigned',
  '/usr/lib/shim/mmx64.efi': 'shim-unsigned',
  '/usr/lib/shim/fbx64.efi': 'shim-unsigned',
  [realBinaries.mokManager]: 'shim-helpers-amd64-signed',
  [realBinaries.fallback]: 'shim-helpers-amd64-signed',
  [realBinaries.grub]: 'grub-efi-amd64-signed',
  [realBinaries.systemdBoot]: 'systemd-boot-efi',
  [realBinaries.linuxStub]: 'systemd-boot-efi',
};

/** Reads a Debian-installed binary; when its package is absent the test is skipped (failed under CI). */
export function readReal(t: TestContext, path: string): Uint8Array | undefined {
  if (!packageFile(t, path, packageOfBinary[path] ?? 'that provides it')) return undefined;
  return new Uint8Array(readFileSync(path));
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-secureboot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function run(cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const OWNER = '11111111-2222-3333-4444-555555555555';

export function certificateDb(...certificates: readonly Uint8Array[]): EfiSignatureList[] {
  return parseSignatureDatabase(encodeSignatureDatabase(certificates.map((data) => ({ type: 'x509', signatures: [{ owner: OWNER, data }] }))));
}

export function hashDb(type: 'sha256' | 'sha1', ...digests: readonly Uint8Array[]): EfiSignatureList[] {
  return parseSignatureDatabase(encodeSignatureDatabase([{ type, signatures: digests.map((data) => ({ owner: OWNER, data })) }]));
}

/**
 * A minimal valid image: DOS stub, COFF header, optional header with `directories` data
 * directories, room for 8 section headers, SizeOfHeaders 0x200; sections added by appendSections.
 */
export function syntheticPe(format: 'PE32' | 'PE32+', sections: readonly { name: string; data: Uint8Array }[], directories = 16): Uint8Array {
  const fileAlignment = 0x200;
  const out = new Uint8Array(fileAlignment);
  const v = new DataView(out.buffer);
  out.set([0x4d, 0x5a]);
  v.setUint32(0x3c, 0x40, true);
  v.setUint32(0x40, 0x00004550, true);
  const coff = 0x44;
  v.setUint16(coff, format === 'PE32' ? 0x14c : 0x8664, true);
  const fixed = format === 'PE32' ? 96 : 112;
  v.setUint16(coff + 16, fixed + 8 * directories, true);
  v.setUint16(coff + 18, 0x2022, true); // executable, large-address-aware, DLL (as EFI apps)
  const opt = coff + 20;
  v.setUint16(opt, format === 'PE32' ? 0x10b : 0x20b, true);
  v.setUint32(opt + 16, 0x1000, true); // AddressOfEntryPoint
  v.setUint32(opt + 32, 0x1000, true); // SectionAlignment
  v.setUint32(opt + 36, fileAlignment, true);
  v.setUint32(opt + 56, 0x1000, true); // SizeOfImage
  v.setUint32(opt + 60, fileAlignment, true); // SizeOfHeaders
  v.setUint16(opt + 68, 10, true); // EFI application
  v.setUint32(opt + fixed - 4, directories, true);
  return appendSections(out, sections);
}

export function bytesOf(text: string, size = text.length): Uint8Array {
  const out = new Uint8Array(size);
  out.set(Buffer.from(text).subarray(0, size));
  for (let i = text.length; i < size; i++) out[i] = (i * 131 + 7) & 0xff;
  return out;
}

export interface TestPki {
  readonly dir: string;
  /** Self-signed root CA, an intermediate CA it issued, a code-signing leaf the intermediate issued. */
  readonly root: { readonly key: string; readonly cert: string; readonly der: Uint8Array };
  readonly intermediate: { readonly key: string; readonly cert: string; readonly der: Uint8Array };
  readonly leaf: { readonly key: string; readonly cert: string; readonly der: Uint8Array };
  /** A self-signed certificate of its own (a second, unrelated signer). */
  readonly other: { readonly key: string; readonly cert: string; readonly der: Uint8Array };
}

/** Makes a small PKI with openssl (the peer that also drives sbsign). */
export function createTestPki(dir: string, openssl: string): TestPki {
  const ext = join(dir, 'ext.cnf');
  writeFileSync(
    ext,
    [
      '[ca]',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=keyCertSign,cRLSign',
      '[leaf]',
      'basicConstraints=CA:FALSE',
      'extendedKeyUsage=codeSigning',
      '[signer]',
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=codeSigning',
      '',
    ].join('\n'),
  );
  const must = (args: string[]): void => {
    const r = run(openssl, args);
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const der = (cert: string): Uint8Array => {
    const path = `${cert}.der`;
    must(['x509', '-in', cert, '-outform', 'DER', '-out', path]);
    return new Uint8Array(readFileSync(path));
  };
  const selfSigned = (name: string, cn: string, section: 'ca' | 'signer') => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.crt`);
    must([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${cn}`,
      '-days',
      '3650',
      '-extensions',
      section,
      '-config',
      ext,
    ]);
    return { key, cert, der: der(cert) };
  };
  const issued = (name: string, cn: string, issuer: { key: string; cert: string }, section: 'ca' | 'leaf') => {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.crt`);
    must(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    must([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.cert,
      '-CAkey',
      issuer.key,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '3650',
      '-extfile',
      ext,
      '-extensions',
      section,
    ]);
    return { key, cert, der: der(cert) };
  };
  const root = selfSigned('root', 'Vouch Test Root CA', 'ca');
  const intermediate = issued('intermediate', 'Vouch Test Intermediate CA', root, 'ca');
  const leaf = issued('leaf', 'Vouch Test Signer', intermediate, 'leaf');
  const other = selfSigned('other', 'Vouch Other Signer', 'signer');
  return { dir, root, intermediate, leaf, other };
}

/** Runs a parser on hostile input: it may return or throw a typed Vouch error, nothing else. */
export function typedErrorsOnly(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (e) {
    if (e instanceof VouchError && /^ERR_(SECUREBOOT|BYTES|DER)_/.test(e.code)) return e.code;
    throw e;
  }
}

/**
 * A PE32+ whose `sections` section headers all point at one `regionSize`-byte raw region (as
 * the pe-overlap-sections reproduction of issue 7): Authenticode hashes the region once
 * per header. Headers are sized for the section table, the region is 0xcc bytes.
 */
export function overlappingSectionsPe(sections: number, regionSize: number): Uint8Array {
  const fileAlignment = 0x200;
  const optionalHeaderSize = 112 + 16 * 8;
  const headersEnd = 0x40 + 4 + 20 + optionalHeaderSize + 40 * sections;
  const sizeOfHeaders = Math.ceil(headersEnd / fileAlignment) * fileAlignment;
  const out = new Uint8Array(sizeOfHeaders + regionSize);
  const v = new DataView(out.buffer);
  out.set([0x4d, 0x5a]);
  v.setUint32(0x3c, 0x40, true);
  v.setUint32(0x40, 0x00004550, true);
  const coff = 0x44;
  v.setUint16(coff, 0x8664, true);
  v.setUint16(coff + 2, sections, true);
  v.setUint16(coff + 16, optionalHeaderSize, true);
  v.setUint16(coff + 18, 0x22, true);
  const opt = coff + 20;
  v.setUint16(opt, 0x20b, true);
  v.setUint32(opt + 16, 0x1000, true); // AddressOfEntryPoint
  v.setUint32(opt + 32, 0x1000, true); // SectionAlignment
  v.setUint32(opt + 36, fileAlignment, true);
  v.setUint32(opt + 56, 0x2000 + regionSize, true); // SizeOfImage
  v.setUint32(opt + 60, sizeOfHeaders, true);
  v.setUint16(opt + 68, 10, true); // EFI application
  v.setUint32(opt + 108, 16, true); // NumberOfRvaAndSizes
  for (let i = 0; i < sections; i++) {
    const h = opt + optionalHeaderSize + 40 * i;
    out.set(Buffer.from(`.s${i}`), h);
    v.setUint32(h + 8, regionSize, true); // VirtualSize
    v.setUint32(h + 12, 0x1000, true); // VirtualAddress
    v.setUint32(h + 16, regionSize, true); // SizeOfRawData
    v.setUint32(h + 20, sizeOfHeaders, true); // PointerToRawData
    v.setUint32(h + 36, 0x60000020, true); // code, execute, read
  }
  out.fill(0xcc, sizeOfHeaders);
  return out;
}
