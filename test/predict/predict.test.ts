// Prediction rules one by one, on small inputs: variable file forms, systemd-stub versions and
// overrides, authority de-duplication, GRUB digests; and malformed UKIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  buildUki,
  encodeExpectedEventLog,
  matchEventLog,
  measuredSections,
  parseBootProfile,
  parseVariableStore,
  predict,
  referenceValues,
} from '../../src/predict/index.ts';
import { checkEventDigests, parseEventLog, replay } from '../../src/eventlog/index.ts';
import { guidFromString, parsePe, signImage } from '../../src/secureboot/index.ts';
import { isVouchError } from '../../src/errors/index.ts';
import fc from 'fast-check';
import { OVMF, SYSTEMD_STUB } from '../helpers/bootlab.ts';
import { packageFile } from '../helpers/peers.ts';

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const byDigest = { authenticode: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } };

test('db given as .esl, efivarfs export or .auth is measured as the same bytes', async (t) => {
  if (!packageFile(t, OVMF.snakeoilVars, 'ovmf')) return;
  const db = parseVariableStore(new Uint8Array(await readFile(OVMF.snakeoilVars))).find((v) => v.name === 'db')!.data;
  const efivarfs = Buffer.concat([Buffer.from([0x27, 0, 0, 0]), db]);
  const pkcs7 = randomBytes(64);
  const winCert = Buffer.alloc(8);
  winCert.writeUInt32LE(8 + 16 + pkcs7.length, 0);
  winCert.writeUInt16LE(0x0200, 4);
  winCert.writeUInt16LE(0x0ef1, 6);
  const auth = Buffer.concat([Buffer.alloc(16), winCert, guidFromString('4aafd29d-68df-49ee-8aa9-347d375665a7'), pkcs7, db]);
  const pcr7 = (file: Uint8Array): string | undefined =>
    predict(
      parseBootProfile({ banks: ['sha256'], firmware: { variables: { db: 'db' } }, chain: [{ kind: 'efi-application', image: byDigest, authority: 'none' }] }),
      new Map([['db', file]]),
    ).banks.sha256?.['7'];
  const expected = pcr7(db);
  assert.equal(pcr7(efivarfs), expected);
  assert.equal(pcr7(auth), expected);
});

test('systemd-stub: sections measured in its own order per version; .pcrsig never; load options only without .cmdline', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return;
  assert.deepEqual(measuredSections(252), ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.pcrpkey']);
  assert.ok(measuredSections(256).includes('.ucode') && measuredSections(254).includes('.uname') && !measuredSections(255).includes('.pcrsig'));
  const stub = new Uint8Array(await readFile(SYSTEMD_STUB));
  const linux = randomBytes(1000);
  const withCmdline = buildUki({ stub, linux, cmdline: 'ro', uname: '6.1.0' });
  const profile = (stubVersion: number, loadOptions?: string): ReturnType<typeof parseBootProfile> =>
    parseBootProfile({ banks: ['sha256'], chain: [{ kind: 'uki', image: 'u', authority: 'none', stubVersion, ...(loadOptions ? { loadOptions } : {}) }] });
  const at = (v: number, lo?: string, uki = withCmdline) => predict(profile(v, lo), new Map([['u', uki]]));
  const names = (v: number): string[] =>
    at(v)
      .events.filter((e) => e.pcr === 11)
      .map((e) => e.description.split(' ')[0]!);
  assert.deepEqual(names(252), ['.linux', '.linux', '.cmdline', '.cmdline']);
  // The stub's own .sbat section is measured from v254 on.
  assert.deepEqual(names(254), ['.linux', '.linux', '.cmdline', '.cmdline', '.uname', '.uname', '.sbat', '.sbat']);
  const linuxEvents = at(252).events.filter((e) => e.pcr === 11);
  assert.equal(linuxEvents[0]!.digests.sha256, sha256(Buffer.from('.linux\0')));
  assert.equal(linuxEvents[1]!.digests.sha256, sha256(linux));
  // Under Secure Boot the UKI's .cmdline wins over load options: nothing in PCR 12; the kernel sees "ro".
  assert.equal(at(252, 'init=/bin/sh').banks.sha256?.['12'], '00'.repeat(32));
  const tag = at(252, 'init=/bin/sh').events.find((e) => e.description.startsWith('LOADED_IMAGE'));
  assert.equal(tag?.digests.sha256, sha256(Buffer.from('ro\0', 'utf16le')));
  // Without .cmdline the stub takes the load options and measures them into PCR 12.
  const bare = buildUki({ stub, linux });
  const overridden = at(252, 'init=/bin/sh', bare);
  assert.equal(overridden.events.find((e) => e.pcr === 12)?.digests.sha256, sha256(Buffer.from('init=/bin/sh\0', 'utf16le')));
});

test('firmware logs each authority once: two images signed by the same db key give one authority event', async (t) => {
  if (!packageFile(t, OVMF.snakeoilVars, 'ovmf') || !packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return;
  const key = createPrivateKey({ key: await readFile(OVMF.snakeoilKey), passphrase: OVMF.snakeoilPassphrase });
  const identity = { certificate: await readFile(OVMF.snakeoilCert, 'utf8'), privateKey: key };
  const stub = new Uint8Array(await readFile(SYSTEMD_STUB));
  const loader = signImage(stub, identity);
  const uki = signImage(buildUki({ stub, linux: randomBytes(100) }), identity);
  const vars = new Uint8Array(await readFile(OVMF.snakeoilVars));
  const p = predict(
    parseBootProfile({
      banks: ['sha256'],
      firmware: { variableStore: 'vars' },
      chain: [
        { kind: 'systemd-boot', image: 'loader' },
        { kind: 'uki', image: 'uki' },
      ],
    }),
    new Map([
      ['vars', vars],
      ['loader', loader],
      ['uki', uki],
    ]),
  );
  assert.equal(p.events.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY').length, 1);
  assert.equal(p.events.filter((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION').length, 2);
  // An image no db entry authorizes cannot boot: prediction refuses it.
  assert.throws(
    () =>
      predict(
        parseBootProfile({ firmware: { variableStore: 'vars' }, chain: [{ kind: 'uki', image: 'uki' }] }),
        new Map([
          ['vars', vars],
          ['uki', buildUki({ stub, linux: randomBytes(100) })],
        ]),
      ),
    (e: unknown) => (e as { code?: string }).code === 'ERR_PREDICT_NO_AUTHORITY',
  );
});

test('GRUB digests: upstream over the text, RHEL grub_cmd with the NUL', () => {
  const events = (dialect: string, commands: string[]) =>
    predict(
      parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'grub', image: byDigest, commands, dialect }] }),
      new Map(),
    ).events.filter((e) => e.pcr === 8);
  const [up, kc] = events('upstream', ['set a=1', 'kernel_cmdline: /vmlinuz ro']);
  assert.equal(up!.description, 'grub_cmd: set a=1');
  assert.equal(up!.digests.sha256, sha256('set a=1'));
  assert.equal(kc!.digests.sha256, sha256('/vmlinuz ro'));
  const [rh, rk] = events('rhel', ['set a=1', 'grub_kernel_cmdline /vmlinuz ro']);
  assert.equal(rh!.description, 'grub_cmd set a=1');
  assert.equal(rh!.digests.sha256, sha256(Buffer.from('set a=1\0')));
  assert.equal(rk!.digests.sha256, sha256('/vmlinuz ro'));
});

test('fuzz: truncated, random and mutated UKIs give typed errors only', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return;
  const uki = buildUki({ stub: new Uint8Array(await readFile(SYSTEMD_STUB)), linux: randomBytes(2048), initrd: randomBytes(512), cmdline: 'ro' });
  const profile = parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'uki', image: 'u' }] });
  const typedOnly = (bytes: Uint8Array): void => {
    try {
      predict(profile, new Map([['u', bytes]]));
    } catch (e) {
      assert.ok(isVouchError(e), `untyped failure: ${String(e)}`);
    }
  };
  for (let n = 0; n < 1024; n += 7) typedOnly(uki.subarray(0, n));
  for (let n = 1024; n < uki.length; n += 4093) typedOnly(uki.subarray(0, n));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), typedOnly), { numRuns: 200 });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1023 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
      const mutated = uki.slice();
      for (const [at, value] of edits) mutated[at] = value;
      typedOnly(mutated);
    }),
    { numRuns: 300 },
  );
});

test('assumptions name what the profile left to defaults', async (t) => {
  if (!packageFile(t, '/usr/lib/shim/shimx64.efi.signed', 'shim-signed') || !packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return;
  const shim = new Uint8Array(await readFile('/usr/lib/shim/shimx64.efi.signed'));
  const onShim = predict(
    parseBootProfile({
      banks: ['sha256'],
      firmware: { secureBoot: false },
      chain: [
        { kind: 'shim', image: 'shim', mokList: { hex: '' } },
        { kind: 'grub', image: byDigest },
      ],
    }),
    new Map([['shim', shim]]),
  );
  assert.equal(onShim.assumptions.length, 2);
  assert.match(onShim.assumptions[0]!, /^chain\[0\] \(shim\): mokListX, mokListTrusted, sbatLevel /);
  assert.match(onShim.assumptions[1]!, /^chain\[1\] \(grub\): starts the kernel with LoadImage/);
  // With Secure Boot off the kernel is hashed as a PE: any PE stands in for it (here the stub).
  const stub = new Uint8Array(await readFile(SYSTEMD_STUB));
  const uki = buildUki({ stub, linux: stub });
  const newer = predict(
    parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'uki', image: 'u', stubVersion: 256 }] }),
    new Map([['u', uki]]),
  );
  assert.match(newer.assumptions.join('\n'), /systemd-stub 256's measured sections are taken from systemd's source/);
  const confirmed = predict(
    parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'uki', image: 'u' }] }),
    new Map([['u', uki]]),
  );
  assert.deepEqual(confirmed.assumptions, []);
});

test('event data: every predicted event carries the bytes its component logs; the expected log decodes with the real roles and replays to the prediction', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi') || !packageFile(t, '/usr/lib/shim/shimx64.efi.signed', 'shim-signed')) return;
  const shim = new Uint8Array(await readFile('/usr/lib/shim/shimx64.efi.signed'));
  const chain = predict(
    parseBootProfile({
      banks: ['sha1', 'sha256'],
      firmware: { secureBoot: false },
      chain: [
        { kind: 'shim', image: 'shim', path: '\\EFI\\BOOT\\BOOTX64.EFI' },
        { kind: 'grub', image: byDigest, path: '\\EFI\\BOOT\\grubx64.efi', commands: ['set a=1'], files: [{ path: '/vmlinuz', content: { hex: 'aa' } }] },
        { kind: 'linux', image: byDigest, cmdline: 'ro', initrd: { hex: 'bb' } },
      ],
    }),
    new Map([['shim', shim]]),
  );
  const data = (description: string): string | undefined => chain.events.find((e) => e.description === description)?.data;
  const hex = (s: string, encoding: BufferEncoding = 'latin1'): string => Buffer.from(s, encoding).toString('hex');
  assert.equal(data('grub_cmd: set a=1'), hex('grub_cmd: set a=1\0'));
  assert.equal(data('/vmlinuz'), hex('/vmlinuz\0'));
  assert.equal(data('MokList'), hex('MokList\0'));
  assert.equal(data('LOADED_IMAGE::LoadOptions (0x8f3b22ed)'), `ed223b8f1a000000${hex('LOADED_IMAGE::LoadOptions\0')}`);
  assert.equal(data('Linux initrd (0x8f3b22ec)'), `ec223b8f0d000000${hex('Linux initrd\0')}`);
  const log = parseEventLog(encodeExpectedEventLog(chain));
  const images = log.events.flatMap((e) => (e.decoded.kind === 'image-load' ? [`${Number(e.decoded.imageLength)} ${e.decoded.devicePath}`] : []));
  // shim from the disk, GRUB by shim from the disk, the kernel by shim from GRUB's buffer (no path, length unknown from a digest).
  assert.deepEqual(images, [`${shim.length} \\EFI\\BOOT\\BOOTX64.EFI`, '0 \\EFI\\BOOT\\grubx64.efi', '0 ', '0 ']);
  const roles = log.events.flatMap((e) => (e.decoded.kind === 'ipl' ? [e.decoded.role] : e.decoded.kind === 'event-tag' ? [e.decoded.tagName] : []));
  assert.deepEqual(roles, ['shim-mok', 'shim-mok', 'shim-mok', 'grub-command', 'file', 'linux-load-options', 'linux-initrd']);
  assert.deepEqual(checkEventDigests(log).findings, []);
  for (const bank of ['sha1', 'sha256'] as const) {
    for (const p of replay(log).banks[bank]!.pcrs) assert.equal(p.value, chain.banks[bank]![String(p.pcr)], `${bank} PCR ${p.pcr}`);
  }
});

test('pcrphase: enter-initrd, leave-initrd, sysinit, ready extend PCR 11 after the stub, H(word) without NUL, outside the firmware log; a log matches its set without them', async (t) => {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return;
  // With Secure Boot off the kernel is hashed as a PE: the stub stands in for it.
  const stub = new Uint8Array(await readFile(SYSTEMD_STUB));
  const uki = buildUki({ stub, linux: stub, cmdline: 'ro', osrel: 'ID=x\n' });
  const phases = ['enter-initrd', 'leave-initrd', 'sysinit', 'ready'];
  const at = (stubVersion: number, withPhases: string[]) =>
    predict(
      parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'uki', image: 'u', stubVersion, phases: withPhases }] }),
      new Map([['u', uki]]),
    );
  for (const version of [252, 256]) {
    const booted = at(version, phases);
    const pcr11 = booted.events.filter((e) => e.pcr === 11);
    const tail = pcr11.slice(-4);
    assert.deepEqual(
      tail.map((e) => [e.by, e.description, e.digests.sha256, e.data]),
      phases.map((w) => ['systemd-pcrphase', w, sha256(w), undefined]),
    );
    // The stub's events come first (its sections per version), and are the same with or without phases.
    assert.deepEqual(
      pcr11.slice(0, -4),
      at(version, []).events.filter((e) => e.pcr === 11),
    );
    // PCR 11 = the firmware log's PCR 11 extended by each word in order.
    let value = Buffer.from(at(version, []).banks.sha256!['11']!, 'hex');
    for (const w of phases) value = createHash('sha256').update(value).update(createHash('sha256').update(w).digest()).digest();
    assert.equal(booted.banks.sha256!['11'], value.toString('hex'));
    const logged = replay(parseEventLog(encodeExpectedEventLog(booted))).banks.sha256!.pcrs.find((p) => p.pcr === 11)!.value;
    assert.equal(logged, at(version, []).banks.sha256!['11']);
  }
  assert.notEqual(at(252, phases).banks.sha256!['11'], at(256, phases).banks.sha256!['11'], 'v256 measures .sbat/.uname and differs');
  // A/B against a firmware log: the set with pcrphase matches the log of its own boot (the words are
  // not in the log), and a log missing one of its stub events does not.
  const refs = referenceValues([
    { version: 'v256', prediction: at(256, phases) },
    { version: 'v252', prediction: at(252, phases) },
  ]);
  const booted252 = at(252, phases);
  assert.deepEqual(matchEventLog(refs, encodeExpectedEventLog(booted252)).matched, ['v252']);
  const cut = { ...booted252, events: booted252.events.filter((e) => e.description !== '.osrel (name)') };
  const match = matchEventLog(refs, encodeExpectedEventLog(cut));
  assert.deepEqual(match.matched, []);
  assert.equal(match.versions[1]!.mismatches.find((m) => m.pcr === 11)?.firstDifference?.expected?.description, '.osrel (name)');
  assert.throws(
    () => at(252, ['enter-initrd', 'bogus']),
    (e: unknown) => (e as { code?: string }).code === 'ERR_PREDICT_PROFILE',
  );
});

test("shim .sbatlevel: the previous level is SbatLevel's default; a damaged section (offsets, bytes) gives typed errors only", async (t) => {
  const shimFile = '/usr/lib/shim/shimx64.efi.signed';
  if (!packageFile(t, shimFile, 'shim-signed')) return;
  const shim = new Uint8Array(await readFile(shimFile));
  const section = parsePe(shim).sections.find((s) => s.name === '.sbatlevel')!;
  const start = section.pointerToRawData;
  const content = shim.subarray(start, start + section.virtualSize);
  const profile = parseBootProfile({ banks: ['sha256'], firmware: { secureBoot: false }, chain: [{ kind: 'shim', image: 'shim' }] });
  const sbatLevelData = (image: Uint8Array): string | undefined =>
    predict(profile, new Map([['shim', image]])).events.find((e) => e.description.startsWith('SbatLevel'))?.data;
  // shim measures the previous policy's text without its NUL (the boot lab's log shows the same bytes).
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const prevStart = 4 + view.getUint32(4, true);
  const prevText = content.subarray(prevStart, content.indexOf(0, prevStart));
  assert.match(Buffer.from(prevText).toString('latin1'), /^sbat,1,\d+\n/);
  assert.ok(sbatLevelData(shim)?.endsWith(Buffer.from(prevText).toString('hex')));
  const typedOnly = (image: Uint8Array): void => {
    try {
      sbatLevelData(image);
    } catch (e) {
      assert.ok(isVouchError(e), `untyped failure: ${String(e)}`);
    }
  };
  const withOffset = shim.slice();
  new DataView(withOffset.buffer).setUint32(start + 4, 0xfffffff0, true);
  assert.throws(
    () => sbatLevelData(withOffset),
    (e: unknown) => (e as { code?: string }).code === 'ERR_PREDICT_ARTIFACT',
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: content.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      (edits) => {
        const mutated = shim.slice();
        for (const [at, value] of edits) mutated[start + at] = value;
        typedOnly(mutated);
      },
    ),
    { numRuns: 40 },
  );
});
