// Logs built event by event (encodeEventLog) for what the shared real logs do not show: every
// finding, forged data, bootloader conventions (GRUB, Linux EFI stub, systemd-stub), other banks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ByteWriter, concatBytes, toHex, utf8 } from '../../src/bytes/index.ts';
import {
  checkEventDigests,
  compareWithQuote,
  encodeEventLog,
  encodeUefiVariableData,
  EventLogError,
  EventType,
  FindingKind,
  LinuxEventTag,
  parseEventLog,
  replay,
  utf16leBytes,
  VariableVendor,
  type EventToEncode,
} from '../../src/eventlog/index.ts';
import { type HashAlgorithmName } from '../../src/hash/index.ts';

const separator = (pcr: number, value = 0): EventToEncode => ({ pcr, type: EventType.EV_SEPARATOR, data: new ByteWriter(4).u32le(value).finish() });
const action = (pcr: number, text: string): EventToEncode => ({ pcr, type: EventType.EV_EFI_ACTION, data: utf8(text) });
const allSeparators = [0, 1, 2, 3, 4, 5, 6, 7].map((pcr) => separator(pcr));
const exitBootServices = action(5, 'Exit Boot Services Invocation');
const nul = new Uint8Array([0]);

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

function kindsOf(findings: readonly { kind: string }[]): string[] {
  return findings.map((f) => f.kind).sort();
}

test('a clean UEFI boot has no findings', () => {
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [...allSeparators, exitBootServices] }));
  assert.deepEqual(log.findings, []);
  assert.deepEqual(checkEventDigests(log).findings, []);
});

test('separator findings: duplicate, error value, unusual value, missing', () => {
  const events = [...allSeparators.filter((e) => e.pcr !== 3), separator(4), separator(6, 1), separator(2, 7), exitBootServices];
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events }));
  const f = log.findings;
  assert.deepEqual(
    f.filter((x) => x.kind === FindingKind.duplicateSeparator).map((x) => x.event),
    [8, 9, 10],
  );
  // Only 1 is the error value (PFP §3.3.4.2); 7 is neither normal nor error.
  assert.deepEqual(
    f.filter((x) => x.kind === FindingKind.errorSeparator).map((x) => x.pcr),
    [6],
  );
  assert.deepEqual(
    f.filter((x) => x.kind === FindingKind.unusualSeparatorValue).map((x) => x.pcr),
    [2],
  );
  assert.deepEqual(
    f.filter((x) => x.kind === FindingKind.missingSeparator).map((x) => x.pcr),
    [3],
  );
  assert.deepEqual(checkEventDigests(log).findings, []);
});

test('error separator: digest of 0x00000001 with error information as data is an error, bound to the value, not forged', () => {
  const errorInformation = utf8('TPM self-test failed');
  const withInformation: EventToEncode = { pcr: 0, type: EventType.EV_SEPARATOR, data: errorInformation, digestInput: new ByteWriter(4).u32le(1).finish() };
  for (const bank of ['sha1', 'sha256', 'sha384'] as const) {
    const log = parseEventLog(encodeEventLog({ banks: [bank], events: [withInformation, ...allSeparators.slice(1), exitBootServices] }));
    const event = log.events[1]!;
    assert.deepEqual(event.decoded, { kind: 'separator', value: 1, isError: true, errorInformation: toHex(errorInformation) }, bank);
    assert.deepEqual(
      log.findings.map((x) => [x.kind, x.pcr]),
      [[FindingKind.errorSeparator, 0]],
      bank,
    );
    assert.match(log.findings[0]!.message, /error information: 20 bytes/);
    const digests = checkEventDigests(log);
    assert.deepEqual(digests.findings, [], bank);
    assert.equal(digests.events[1]!.status, 'match');
    assert.match(digests.events[1]!.variant ?? '', /error separator/);
  }
});

test('error separator: the same data with a digest that is neither H(data) nor H(0x00000001) is forged', () => {
  const forged: EventToEncode = { pcr: 0, type: EventType.EV_SEPARATOR, data: utf8('TPM self-test failed'), digestInput: new ByteWriter(4).u32le(0).finish() };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [forged, ...allSeparators.slice(1), exitBootServices] }));
  assert.equal(log.events[1]!.decoded.kind, 'raw');
  assert.deepEqual(kindsOf(log.findings), [FindingKind.unusualSeparatorValue]);
  assert.deepEqual(kindsOf(checkEventDigests(log).findings), [FindingKind.digestMismatch]);
});

test('separator value 0xFFFFFFFF (TCG 1.1 BIOS) is a normal separator; value 1 with digest H(0) is forged', () => {
  const legacy = parseEventLog(encodeEventLog({ format: 'tcg-1.2-sha1', banks: ['sha1'], events: [separator(0, 0xffffffff)] }));
  assert.deepEqual(legacy.events[0]!.decoded, { kind: 'separator', value: 0xffffffff, isError: false });
  assert.deepEqual(legacy.findings, []);
  const claimsError: EventToEncode = {
    pcr: 0,
    type: EventType.EV_SEPARATOR,
    data: new ByteWriter(4).u32le(1).finish(),
    digestInput: new ByteWriter(4).u32le(0).finish(),
  };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [claimsError] }));
  assert.deepEqual(kindsOf(checkEventDigests(log).findings), [FindingKind.digestMismatch]);
});

test('events logged after ExitBootServices succeeded are findings; EV_NO_ACTION is not', () => {
  const succeeded = action(5, 'Exit Boot Services Returned with Success');
  const late: EventToEncode = { pcr: 4, type: EventType.EV_EFI_BOOT_SERVICES_APPLICATION, data: new Uint8Array(32), digestInput: utf8('image') };
  const noAction: EventToEncode = { pcr: 0, type: EventType.EV_NO_ACTION, data: utf8('NvIndexInstance\0'), digests: { sha256: new Uint8Array(32) } };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [...allSeparators, exitBootServices, succeeded, noAction, late, action(9, 'late')] }));
  const after = log.findings.filter((x) => x.kind === FindingKind.eventAfterExitBootServices);
  assert.deepEqual(
    after.map((x) => x.event),
    [12, 13],
  );
  assert.match(after[0]!.message, /event #12 \(EV_EFI_BOOT_SERVICES_APPLICATION, PCR 4\) follows "Exit Boot Services Returned with Success" \(event #10\)/);
  const clean = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [...allSeparators, exitBootServices, succeeded] }));
  assert.deepEqual(clean.findings, []);
});

test('events after the separator in PCR 0-7 are findings, except boot apps, GPT, ExitBootServices and authorities', () => {
  const bootApp: EventToEncode = { pcr: 4, type: EventType.EV_EFI_BOOT_SERVICES_APPLICATION, data: new Uint8Array(32), digestInput: utf8('image') };
  const lateConfig: EventToEncode = {
    pcr: 7,
    type: EventType.EV_EFI_VARIABLE_DRIVER_CONFIG,
    data: encodeUefiVariableData(VariableVendor.efiGlobalVariable, 'SecureBoot', new Uint8Array([0])),
  };
  const authority: EventToEncode = {
    pcr: 7,
    type: EventType.EV_EFI_VARIABLE_AUTHORITY,
    data: encodeUefiVariableData(VariableVendor.imageSecurityDatabase, 'db', new Uint8Array(48)),
  };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [...allSeparators, bootApp, authority, lateConfig, exitBootServices] }));
  assert.deepEqual(
    log.findings.map((f) => [f.kind, f.event]),
    [[FindingKind.eventAfterSeparator, 11]],
  );
});

test('missing ExitBootServices, unknown event type, non-zero EV_NO_ACTION digest, padding', () => {
  const bootApp: EventToEncode = { pcr: 4, type: EventType.EV_EFI_BOOT_SERVICES_APPLICATION, data: new Uint8Array(32) };
  const unknown: EventToEncode = { pcr: 10, type: 0x7777, data: utf8('?') };
  const noAction: EventToEncode = { pcr: 0, type: EventType.EV_NO_ACTION, data: utf8('NvIndexInstance\0') };
  const bytes = encodeEventLog({ banks: ['sha256'], events: [...allSeparators, bootApp, unknown, noAction] });
  for (const fill of [0x00, 0xff]) {
    const padded = concatBytes(bytes, new Uint8Array(100).fill(fill));
    const log = parseEventLog(padded);
    assert.equal(log.events.length, 12);
    assert.deepEqual(kindsOf(log.findings), [FindingKind.missingExitBootServices, FindingKind.trailingPadding, FindingKind.unknownEventType].sort());
    assert.equal(log.events[10]!.typeName, 'EV_UNKNOWN_0x00007777');
  }
  // The encoder writes zero digests for EV_NO_ACTION; set one byte of its digest.
  const forgedNoAction = bytes.slice();
  forgedNoAction[forgedNoAction.length - 16 - 4 - 1] = 1;
  const log = parseEventLog(forgedNoAction);
  assert.ok(log.findings.some((f) => f.kind === FindingKind.noActionDigestNotZero && f.event === 11));
  // …and replay still does not extend it.
  assert.deepEqual(
    replay(log).banks.sha256!.pcrs.map((p) => p.pcr),
    [0, 1, 2, 3, 4, 5, 6, 7, 10],
  );
});

test('forged event data: digest-mismatch error naming the event, while replay still matches the TPM', () => {
  const command = {
    pcr: 8,
    type: EventType.EV_IPL,
    data: utf8('grub_cmd: linux /vmlinuz root=/dev/sda1\0'),
    digestInput: utf8('linux /vmlinuz root=/dev/sda1'),
  };
  const secureBoot = {
    pcr: 7,
    type: EventType.EV_EFI_VARIABLE_DRIVER_CONFIG,
    data: encodeUefiVariableData(VariableVendor.efiGlobalVariable, 'SecureBoot', new Uint8Array([1])),
  };
  const honest = encodeEventLog({ banks: ['sha1', 'sha256'], events: [secureBoot, ...allSeparators, exitBootServices, command] });
  const honestLog = parseEventLog(honest);
  assert.deepEqual(checkEventDigests(honestLog).findings, []);
  const quoted = Object.fromEntries(
    Object.entries(replay(honestLog).banks).map(([bank, b]) => [bank, Object.fromEntries(b.pcrs.map((p) => [p.pcr, p.value]))]),
  );

  // An attacker rewrites the logged command (same length), keeping the digests the TPM extended.
  const forged = Buffer.from(honest);
  const at = forged.indexOf('root=/dev/sda1');
  forged.write('root=/dev/evil', at, 'latin1');
  const forgedLog = parseEventLog(new Uint8Array(forged));
  assert.equal(compareWithQuote(replay(forgedLog), quoted).allMatch, true, 'replay alone cannot see forged data');
  const digests = checkEventDigests(forgedLog);
  assert.deepEqual(
    digests.findings.map((f) => [f.kind, f.severity, f.event, f.bank]),
    [[FindingKind.digestMismatch, 'error', 11, 'sha1,sha256']],
  );
  assert.deepEqual(
    digests.events.find((e) => e.event === 11),
    { event: 11, status: 'mismatch', mismatchedBanks: ['sha1', 'sha256'] },
  );
});

test('EV_EFI_VARIABLE_BOOT: whole UEFI_VARIABLE_DATA or (edk2) VariableData only, both accepted and named', () => {
  const data = encodeUefiVariableData(VariableVendor.efiGlobalVariable, 'BootOrder', new Uint8Array([1, 0, 2, 0]));
  const whole: EventToEncode = { pcr: 1, type: EventType.EV_EFI_VARIABLE_BOOT, data };
  const edk2: EventToEncode = { pcr: 1, type: EventType.EV_EFI_VARIABLE_BOOT, data, digestInput: new Uint8Array([1, 0, 2, 0]) };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [whole, edk2] }));
  const checks = checkEventDigests(log).events.slice(1);
  assert.deepEqual(
    checks.map((c) => c.variant),
    ['event-data', 'variable-data-only (edk2)'],
  );
  const bootOrder = log.events[1]!.decoded;
  assert.ok(bootOrder.kind === 'efi-variable' && bootOrder.value.kind === 'boot-order');
  assert.deepEqual(bootOrder.value, { kind: 'boot-order', order: ['Boot0001', 'Boot0002'] });
});

test('GRUB: upstream and RHEL prefixes, each with its digest convention', () => {
  const events: EventToEncode[] = [
    { pcr: 8, type: EventType.EV_IPL, data: utf8('grub_cmd: set timeout=5\0'), digestInput: utf8('set timeout=5') },
    { pcr: 8, type: EventType.EV_IPL, data: utf8('kernel_cmdline: /vmlinuz ro quiet\0'), digestInput: utf8('/vmlinuz ro quiet') },
    { pcr: 8, type: EventType.EV_IPL, data: utf8('grub_cmd set timeout=5\0'), digestInput: utf8('set timeout=5\0') },
    { pcr: 8, type: EventType.EV_IPL, data: utf8('grub_kernel_cmdline /vmlinuz ro\0'), digestInput: utf8('/vmlinuz ro') },
    { pcr: 9, type: EventType.EV_IPL, data: utf8('/boot/vmlinuz-6.1.0\0'), digestInput: utf8('kernel bytes') },
  ];
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events }));
  assert.deepEqual(
    log.events.slice(1).map((e) => e.decoded.kind === 'ipl' && [e.decoded.role, e.decoded.prefixStyle, e.decoded.value]),
    [
      ['grub-command', 'upstream', 'set timeout=5'],
      ['grub-kernel-cmdline', 'upstream', '/vmlinuz ro quiet'],
      ['grub-command', 'rhel', 'set timeout=5'],
      ['grub-kernel-cmdline', 'rhel', '/vmlinuz ro'],
      ['file', undefined, '/boot/vmlinuz-6.1.0'],
    ],
  );
  assert.deepEqual(
    checkEventDigests(log)
      .events.slice(1)
      .map((c) => c.status),
    ['match', 'match', 'match', 'match', 'external'],
  );
});

test('Linux EFI stub tags (PCR 9): initrd and load options decoded, digests external', () => {
  const tag = (id: number, text: string): Uint8Array => new ByteWriter().u32le(id).u32le(text.length).bytes(utf8(text)).finish();
  const cmdline = 'console=ttyS0 composefs=abc';
  const events: EventToEncode[] = [
    { pcr: 9, type: EventType.EV_EVENT_TAG, data: tag(LinuxEventTag.initrd, 'Linux initrd'), digestInput: utf8('initrd bytes') },
    { pcr: 9, type: EventType.EV_EVENT_TAG, data: tag(LinuxEventTag.loadOptions, 'LOADED_IMAGE::LoadOptions'), digestInput: utf16leBytes(cmdline, true) },
  ];
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events }));
  assert.deepEqual(log.events[1]!.decoded, {
    kind: 'event-tag',
    tagId: 0x8f3b22ec,
    tagName: 'linux-initrd',
    text: 'Linux initrd',
    data: toHex(utf8('Linux initrd')),
  });
  assert.ok(log.events[2]!.decoded.kind === 'event-tag' && log.events[2]!.decoded.tagName === 'linux-load-options');
  assert.deepEqual(
    checkEventDigests(log)
      .events.slice(1)
      .map((c) => c.status),
    ['external', 'external'],
  );
  assert.equal(toHex(log.events[2]!.digests.sha256!), toHex(sha256(utf16leBytes(cmdline, true))));
});

test('systemd-stub (PCR 11): section name events match H(name‖NUL), contents are external; pcrphase words', () => {
  const section = (name: string, contents: Uint8Array): EventToEncode[] => [
    { pcr: 11, type: EventType.EV_IPL, data: utf16leBytes(name, true), digestInput: concatBytes(utf8(name), nul) },
    { pcr: 11, type: EventType.EV_IPL, data: utf16leBytes(name, true), digestInput: contents },
  ];
  const events = [...section('.linux', utf8('kernel')), ...section('.osrel', utf8('ID=debian')), ...section('.cmdline', utf8('ro'))];
  events.push({ pcr: 11, type: EventType.EV_IPL, data: utf8('enter-initrd'), digestInput: utf8('enter-initrd') });
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events }));
  assert.deepEqual(
    log.events.slice(1).map((e) => e.decoded.kind === 'ipl' && `${e.decoded.role}:${e.decoded.value}`),
    [
      'uki-section:.linux',
      'uki-section:.linux',
      'uki-section:.osrel',
      'uki-section:.osrel',
      'uki-section:.cmdline',
      'uki-section:.cmdline',
      'pcrphase:enter-initrd',
    ],
  );
  assert.deepEqual(
    checkEventDigests(log)
      .events.slice(1)
      .map((c) => c.variant ?? c.status),
    ['uki-section-name', 'external', 'uki-section-name', 'external', 'uki-section-name', 'external', 'pcrphase'],
  );
});

test('StartupLocality 4 (H-CRTM) and every bank: replay equals an independent extend chain', () => {
  fc.assert(
    fc.property(
      fc.subarray<HashAlgorithmName>(['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'], { minLength: 1 }),
      fc.constantFrom(0, 3, 4),
      fc.array(fc.record({ pcr: fc.integer({ min: 0, max: 23 }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 20 }),
      (banks, locality, raw) => {
        const events = raw.map((e) => ({ pcr: e.pcr, type: EventType.EV_COMPACT_HASH, data: e.data }));
        const log = parseEventLog(encodeEventLog({ banks, startupLocality: locality, events }));
        assert.deepEqual(log.banks, banks);
        const replayed = replay(log);
        for (const bank of banks) {
          const node = bank === 'sm3_256' ? 'sm3' : bank;
          const size = createHash(node).digest().length;
          const expected = new Map<number, Buffer>();
          // A StartupLocality of 3 or 4 is PCR 0's value even when nothing is extended into it.
          if (locality !== 0) expected.set(0, Buffer.concat([Buffer.alloc(size - 1), Buffer.from([locality])]));
          for (const e of events) {
            const start = Buffer.alloc(size, e.pcr >= 17 && e.pcr <= 22 ? 0xff : 0);
            if (e.pcr === 0) start[size - 1] = locality;
            const old = expected.get(e.pcr) ?? start;
            expected.set(e.pcr, createHash(node).update(old).update(createHash(node).update(e.data).digest()).digest());
          }
          const got = replayed.banks[bank]!;
          assert.equal(got.startupLocality, locality);
          assert.deepEqual(
            got.pcrs.map((p) => [p.pcr, p.value]),
            [...expected.entries()].sort(([a], [b]) => a - b).map(([pcr, v]) => [pcr, v.toString('hex')]),
          );
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('parse(encode(x)) keeps every PCR, type, digest and byte of data', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<'crypto-agile' | 'tcg-1.2-sha1'>('crypto-agile', 'tcg-1.2-sha1'),
      fc.array(
        fc.record({
          pcr: fc.integer({ min: 0, max: 23 }),
          type: fc.integer({ min: 0, max: 0xffffffff }).filter((t) => t !== EventType.EV_NO_ACTION),
          data: fc.uint8Array({ maxLength: 64 }),
        }),
        { minLength: 1, maxLength: 16 },
      ),
      (format, events) => {
        const banks: HashAlgorithmName[] = format === 'crypto-agile' ? ['sha1', 'sha256'] : ['sha1'];
        const log = parseEventLog(encodeEventLog({ format, banks, events }));
        const parsed = log.events.slice(format === 'crypto-agile' ? 1 : 0);
        assert.deepEqual(
          parsed.map((e) => [e.pcr, e.type, toHex(e.data)]),
          events.map((e) => [e.pcr, e.type, toHex(e.data)]),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('a bank whose algorithm only the header knows is kept but not replayed; asking for it by name fails', () => {
  const bytes = encodeEventLog({ banks: ['sha256'], events: [separator(0)] });
  const log = parseEventLog(bytes);
  assert.throws(
    () => replay(log, { banks: ['sha384'] }),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_BANK_MISSING',
  );
  assert.throws(
    () => compareWithQuote(replay(log), { sha1: { 0: '00' } }),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_BANK_MISSING',
  );
  // Rewrite the header's sha256 algorithm id (0x000b) to an id Vouch has no hash for (0x00b0).
  const foreign = Buffer.from(bytes);
  foreign.writeUInt16LE(0x00b0, 32 + 28);
  foreign.writeUInt16LE(0x00b0, foreign.length - 4 - 4 - 32 - 2);
  const foreignLog = parseEventLog(new Uint8Array(foreign));
  assert.deepEqual(foreignLog.banks, ['alg_0x00b0']);
  const r = replay(foreignLog);
  assert.deepEqual(r.banks, {});
  assert.deepEqual(kindsOf(r.findings), [FindingKind.unreplayableBank]);
});

test('quoted PCR values that cannot be compared are a typed error, not a mismatch: PCR number out of range, wrong digest length, not hex', () => {
  const replayed = replay(parseEventLog(encodeEventLog({ banks: ['sha256'], events: [separator(4)] })));
  const good = '00'.repeat(32);
  const unusable: Record<string, string>[] = [{ 24: good }, { '-1': good }, { x: good }, { 4: '00'.repeat(20) }, { 4: 'zz'.repeat(32) }];
  for (const quoted of unusable) {
    assert.throws(
      () => compareWithQuote(replayed, { sha256: quoted }),
      (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_QUOTED_PCRS',
      JSON.stringify(quoted),
    );
  }
  assert.equal(compareWithQuote(replayed, { sha256: { 23: `0x${good.toUpperCase()}` } }).allMatch, true);
});

test('a PCR the quote names but the log never extends is compared with its reset value', () => {
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [separator(4)] }));
  const cmp = compareWithQuote(replay(log), { sha256: { 16: '00'.repeat(32), 17: 'ff'.repeat(32), 23: '11'.repeat(32) } });
  assert.deepEqual(
    cmp.entries.map((e) => [e.pcr, e.status]),
    [
      [4, 'not-quoted'],
      [16, 'match'],
      [17, 'match'],
      [23, 'mismatch'],
    ],
  );
});

test('EV_NO_ACTION SP800-155 Event3: reference manifest identity and locators', () => {
  const short = (text: string): number[] => [text.length, ...utf8(text)];
  const long = (text: string): number[] => [...new ByteWriter().u32le(text.length).finish(), ...utf8(text)];
  const data = new Uint8Array([
    ...utf8('SP800-155 Event3'),
    ...new ByteWriter().u32le(0x1234).finish(),
    ...new Uint8Array(16),
    ...short('ACME'),
    ...short('Box 9'),
    ...short('1.0'),
    ...short('ACME FW'),
    ...new ByteWriter().u32le(0x5678).finish(),
    ...short('2.3'),
    ...new ByteWriter().u32le(1).finish(),
    ...long('https://rim.example/box9'),
    ...new ByteWriter().u32le(1).finish(),
    ...long('https://cert.example/box9'),
  ]);
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [{ pcr: 0, type: EventType.EV_NO_ACTION, data }] }));
  const decoded = log.events[1]!.decoded;
  assert.ok(decoded.kind === 'no-action');
  assert.deepEqual(
    { id: decoded.platformManufacturerId, platform: decoded.platform, firmware: decoded.firmware, rim: decoded.rimLocator, cert: decoded.platformCertLocator },
    {
      id: 0x1234,
      platform: { manufacturer: 'ACME', model: 'Box 9', version: '1.0' },
      firmware: { manufacturer: 'ACME FW', manufacturerId: 0x5678, version: '2.3' },
      rim: 'https://rim.example/box9',
      cert: 'https://cert.example/box9',
    },
  );
  // Cut short, it is an undecodable event with a finding, not a failed log.
  const cut = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [{ pcr: 0, type: EventType.EV_NO_ACTION, data: data.subarray(0, 40) }] }));
  assert.equal(cut.events[1]!.decoded.kind, 'undecodable');
  assert.ok(cut.findings.some((f) => f.kind === FindingKind.undecodableEventData && f.event === 1));
});

test('systemd PCR 12: command line hashed as UCS-2 without NUL (forgery detected); stub archives are external', () => {
  const cmdline = 'console=ttyS0 composefs=0123';
  const events: EventToEncode[] = [
    { pcr: 12, type: EventType.EV_IPL, data: utf16leBytes(cmdline, true), digestInput: utf16leBytes(cmdline, false) },
    { pcr: 12, type: EventType.EV_IPL, data: utf16leBytes('Credentials initrd', true), digestInput: utf8('cpio') },
  ];
  const bytes = encodeEventLog({ banks: ['sha256'], events });
  const log = parseEventLog(bytes);
  assert.deepEqual(
    checkEventDigests(log)
      .events.slice(1)
      .map((c) => c.variant ?? c.status),
    ['systemd (UCS-2 without NUL)', 'external'],
  );
  const forged = Buffer.from(bytes);
  forged.write('1', forged.indexOf(Buffer.from('0123', 'utf16le')), 'utf16le');
  assert.deepEqual(
    checkEventDigests(parseEventLog(new Uint8Array(forged))).findings.map((f) => [f.kind, f.event]),
    [[FindingKind.digestMismatch, 1]],
  );
});

test('a second StartupLocality event is a finding; the first one sets PCR 0', () => {
  const second: EventToEncode = { pcr: 0, type: EventType.EV_NO_ACTION, data: new Uint8Array([...utf8('StartupLocality\0'), 0]) };
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], startupLocality: 3, events: [second, separator(0)] }));
  assert.deepEqual(
    log.findings.map((f) => [f.kind, f.event]),
    [[FindingKind.duplicateStartupLocality, 2]],
  );
  assert.equal(replay(log).banks.sha256!.startupLocality, 3);
});

test('EV_EFI_SPDM_FIRMWARE_BLOB: device security header decoded, the rest kept', () => {
  const data = new Uint8Array([...utf8('SPDM Device Sec2'), 2, 0, 1, 0, 9, 9]);
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events: [{ pcr: 2, type: EventType.EV_EFI_SPDM_FIRMWARE_BLOB, data }] }));
  assert.deepEqual(log.events[1]!.decoded, { kind: 'device-security', signature: 'SPDM Device Sec2', version: 2, data: toHex(data) });
});
