// Every fuzz target: the bundle entry under fuzz/targets/, its seeds (real data first, see
// fuzz/seeds.ts), the input size bound (libFuzzer's -max_len) and a dictionary of the format's
// magic values and keywords.
import { join } from 'node:path';
import type { FuzzTarget } from './engine/supervisor.ts';
import * as seeds from './seeds.ts';

const entry = (name: string): string => join(import.meta.dirname, 'targets', `${name}.ts`);

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const utf16 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf16le'));

/** EFI_CERT_X509_GUID, EFI_CERT_SHA256_GUID, EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE_GUID, EFI_CERT_TYPE_PKCS7_GUID as stored (mixed-endian). */
const EFI_GUIDS = [
  hex('a159c0a5e494a74a87b5ab155c2bf072'),
  hex('2616c4c14c509240aca941f936934328'),
  hex('61dfe48bca93d211aa0d00e098032b8c'),
  hex('cbb219d73a3d9645a3bcdad00e67656f'),
  hex('9dd2af4adf68ee498aa9347d375665a7'),
];

/** OIDs Vouch's PKCS#7 reader looks for (DER-encoded with tag and length). */
const DER_WORDS = [
  hex('06092a864886f70d010702'), // signedData
  hex('060a2b060104018237020104'), // SPC_INDIRECT_DATA
  hex('0609608648016503040201'), // sha256
  hex('06052b0e03021a'), // sha1
  hex('0603551d13'), // basicConstraints
  hex('0500'),
  hex('a003020102'),
  hex('3082'),
  hex('3081'),
  hex('a082'),
];

export const targets: readonly FuzzTarget[] = [
  {
    name: 'eventlog',
    entry: entry('eventlog'),
    maxLen: 8 * 1024,
    seeds: async () => (await seeds.realEventLogs()).flatMap((log) => seeds.eventLogWindows(log)),
    dictionary: [
      'Spec ID Event03',
      'StartupLocality',
      'SP800-155 Event',
      'EFI PART',
      'grub_cmd: ',
      'kernel_cmdline: ',
      utf16('SecureBoot'),
      utf16('db'),
      ...EFI_GUIDS,
    ],
  },
  {
    name: 'uefi-variable',
    entry: entry('uefi-variable'),
    maxLen: 8 * 1024,
    seeds: seeds.uefiVariableSeeds,
    dictionary: [utf16('BootOrder'), utf16('Boot0001'), utf16('SbatLevel'), utf16('MokListTrusted'), utf16('dbx'), utf16('KEK'), ...EFI_GUIDS],
  },
  {
    name: 'device-path',
    entry: entry('device-path'),
    maxLen: 2 * 1024,
    seeds: seeds.devicePathSeeds,
    dictionary: [hex('7fff0400'), hex('01ff0400'), hex('0401'), hex('0404'), hex('0301'), hex('0312'), hex('030b'), hex('0201'), hex('0101')],
  },
  {
    name: 'signature-list',
    entry: entry('signature-list'),
    maxLen: 16 * 1024,
    seeds: seeds.signatureListSeeds,
    dictionary: [...EFI_GUIDS, hex('27000000'), hex('00020000'), hex('f10e0000')],
  },
  {
    name: 'pe',
    entry: entry('pe'),
    maxLen: 16 * 1024,
    seeds: seeds.peSeeds,
    dictionary: ['MZ', 'PE\0\0', '.sbat', '.vendor_cert', '.sbatlevel', '.linux', '.cmdline', hex('0b01'), hex('0b02'), hex('00020200'), ...DER_WORDS],
  },
  { name: 'pkcs7', entry: entry('pkcs7'), maxLen: 16 * 1024, seeds: seeds.pkcs7Seeds, dictionary: DER_WORDS },
  {
    name: 'varstore',
    entry: entry('varstore'),
    maxLen: 128 * 1024,
    seeds: seeds.ovmfVariableStores,
    dictionary: [...EFI_GUIDS, '_FVH', hex('aa55'), hex('3f00')],
  },
  {
    name: 'composefs-dump',
    entry: entry('composefs-dump'),
    maxLen: 48 * 1024,
    seeds: seeds.composefsDumps,
    dictionary: ['/', ' 40755 ', ' 100644 ', ' 120777 ', ' - ', ' @', 'trusted.overlay.', 'user.', '\\x', '=', '\n'],
  },
  {
    name: 'erofs',
    entry: entry('erofs'),
    maxLen: 64 * 1024,
    seeds: seeds.composefsImageSeeds,
    dictionary: [hex('e2e1f5e0'), hex('d9f1a5d8'), 'trusted.overlay.metacopy', 'trusted.overlay.redirect'],
  },
  {
    name: 'tar',
    entry: entry('tar'),
    maxLen: 32 * 1024,
    seeds: seeds.tarSeeds,
    dictionary: ['ustar\x0000', 'ustar  \0', 'path=', 'linkpath=', 'SCHILY.xattr.', 'GNU.sparse', '.wh.', '.wh..wh..opq', '././@LongLink'],
  },
  {
    name: 'boot-profile',
    entry: entry('boot-profile'),
    maxLen: 8 * 1024,
    seeds: seeds.bootProfileSeeds,
    dictionary: [
      'stages:',
      'kind: ',
      'shim',
      'grub',
      'uki',
      'systemd-boot',
      'kernel',
      'firmware:',
      'banks:',
      'sha256',
      'file: ',
      'hex: ',
      '- ',
      '&a ',
      '*a',
      '{}',
      '[]',
      '!!binary',
    ],
  },
  {
    name: 'ak-key',
    entry: entry('ak-key'),
    maxLen: 4 * 1024,
    seeds: seeds.akKeySeeds,
    setup: seeds.quoteSetup,
    dictionary: ['-----BEGIN PUBLIC KEY-----\n', '-----END PUBLIC KEY-----\n', hex('0023'), hex('0001'), hex('000b'), ...DER_WORDS],
  },
  {
    name: 'tpm2-tools-files',
    entry: entry('tpm2-tools-files'),
    maxLen: 4 * 1024,
    seeds: seeds.tpm2ToolsFileSeeds,
    dictionary: [hex('badcc0de'), hex('00000001'), hex('000b'), 'sha256:', 'sha1:', '+', '-', 'all'],
  },
  {
    name: 'tpm-structures',
    entry: entry('tpm-structures'),
    maxLen: 4 * 1024,
    seeds: seeds.tpmStructureSeeds,
    dictionary: [hex('ff544347'), hex('8018'), hex('000b'), hex('0023'), hex('0001'), hex('0014'), hex('0018')],
  },
  {
    name: 'tpm-responses',
    entry: entry('tpm-responses'),
    maxLen: 4 * 1024,
    seeds: seeds.tpmResponseSeeds,
    dictionary: [hex('8001'), hex('8002'), hex('00000000'), hex('ff544347'), hex('000b')],
  },
  {
    name: 'appraise',
    entry: entry('appraise'),
    maxLen: 64 * 1024,
    seeds: seeds.appraiseSeeds,
    setup: seeds.appraiseSetup,
    dictionary: [hex('ff544347'), hex('8018'), 'Spec ID Event03', 'kernel_cmdline: '],
  },
];
