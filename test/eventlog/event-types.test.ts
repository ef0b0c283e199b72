// Every event type of the TCG PC Client PFP (1.05 Table 9 and the 1.06 additions) with data as
// firmware and loaders write it: each decodes to its structure (never dropped), has a one-line
// summary, and real-world variants (S-CRTM version GUID, POST_CODE2 labels, shim's PCR 7
// authority events) decode to what they mean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter, concatBytes, utf8 } from '../../src/bytes/index.ts';
import {
  checkEventDigests,
  describeDecodedEvent,
  encodeEventLog,
  encodeStartupLocalityEvent,
  encodeUefiVariableData,
  EventType,
  guidBytes,
  LinuxEventTag,
  parseEventLog,
  utf16leBytes,
  VariableVendor,
  type DecodedEvent,
  type EventTypeName,
} from '../../src/eventlog/index.ts';

const acpiTableGuid = '8868e871-e4f1-11d3-bc22-0080c73c8881';
/** EFI_DEVICE_SIGNATURE_DATABASE_GUID (UEFI 2.10 §32.4.1): the vendor of devdb. */
const deviceSignatureDatabase = 'b9c2b4f4-bf5f-462d-8adf-c5c70ac35dad';
const gptHeader = (): Uint8Array => {
  const header = new Uint8Array(92);
  header.set(utf8('EFI PART'));
  new DataView(header.buffer).setUint32(84, 128, true); // SizeOfPartitionEntry
  return concatBytes(header, new ByteWriter(8).u64le(0n).finish());
};
const blob = new ByteWriter().u64le(0xffa90000n).u64le(0x350000n).finish();
const blob2 = new ByteWriter().u8(9).bytes(utf8('ACPI DATA')).u64le(0x7f000000n).u64le(0x10000n).finish();
const handoff = new ByteWriter().u64le(1n).bytes(guidBytes(acpiTableGuid)).u64le(0x7fb7e000n).finish();
const imageLoad = new ByteWriter()
  .u64le(0x7e000000n)
  .u64le(0x1000n)
  .u64le(0n)
  .u64le(4n)
  .bytes(new Uint8Array([0x7f, 0xff, 4, 0]))
  .finish();
const variable = (name: string, data: Uint8Array, vendor: string = VariableVendor.efiGlobalVariable): Uint8Array => encodeUefiVariableData(vendor, name, data);
const spdm = new Uint8Array([...utf8('SPDM Device Sec2'), 2, 0, 0, 0]);
const tag = new ByteWriter().u32le(LinuxEventTag.initrd).u32le(7).bytes(utf8('initrd\0')).finish();

/** One representative event per PFP event type and the decoded kind it must give. */
const representative: Record<EventTypeName, { readonly pcr: number; readonly data: Uint8Array; readonly kind: DecodedEvent['kind'] }> = {
  EV_PREBOOT_CERT: { pcr: 0, data: new Uint8Array([1, 2, 3]), kind: 'raw' },
  EV_POST_CODE: { pcr: 0, data: blob, kind: 'firmware-blob' },
  EV_UNUSED: { pcr: 0, data: new Uint8Array([0xde, 0xad]), kind: 'raw' },
  EV_NO_ACTION: { pcr: 0, data: encodeStartupLocalityEvent(3), kind: 'startup-locality' },
  EV_SEPARATOR: { pcr: 0, data: new Uint8Array(4), kind: 'separator' },
  EV_ACTION: { pcr: 5, data: utf8('Calling INT 19h'), kind: 'text' },
  EV_EVENT_TAG: { pcr: 9, data: tag, kind: 'event-tag' },
  EV_S_CRTM_CONTENTS: { pcr: 0, data: utf8('FIT Type 0x02 Measured S-CRTM'), kind: 'text' },
  EV_S_CRTM_VERSION: { pcr: 0, data: guidBytes('546bfb1e-1d0c-4055-a4ad-4ef4bf17b83a'), kind: 'guid' },
  EV_CPU_MICROCODE: { pcr: 1, data: new Uint8Array([0x01, 0x00, 0xff]), kind: 'raw' },
  EV_PLATFORM_CONFIG_FLAGS: { pcr: 1, data: new Uint8Array([0, 1, 0, 0]), kind: 'raw' },
  EV_TABLE_OF_DEVICES: { pcr: 1, data: new Uint8Array([3, 0, 0x80, 0x86]), kind: 'raw' },
  EV_COMPACT_HASH: { pcr: 6, data: utf8('platform specific'), kind: 'text' },
  EV_IPL: { pcr: 8, data: utf8('grub_cmd: linux /vmlinuz\0'), kind: 'ipl' },
  EV_IPL_PARTITION_DATA: { pcr: 5, data: new Uint8Array(16), kind: 'raw' },
  EV_NONHOST_CODE: { pcr: 0, data: new Uint8Array([0x55, 0xaa, 0]), kind: 'raw' },
  EV_NONHOST_CONFIG: { pcr: 1, data: utf8('ME config'), kind: 'text' },
  EV_NONHOST_INFO: { pcr: 0, data: utf8('GCE NonHostInfo'), kind: 'text' },
  EV_OMIT_BOOT_DEVICE_EVENTS: { pcr: 4, data: utf8('BOOT ATTEMPTS OMITTED'), kind: 'text' },
  EV_POST_CODE2: { pcr: 0, data: blob2, kind: 'firmware-blob' },
  EV_EFI_VARIABLE_DRIVER_CONFIG: { pcr: 7, data: variable('SecureBoot', new Uint8Array([1])), kind: 'efi-variable' },
  EV_EFI_VARIABLE_BOOT: { pcr: 1, data: variable('BootOrder', new Uint8Array([1, 0])), kind: 'efi-variable' },
  EV_EFI_BOOT_SERVICES_APPLICATION: { pcr: 4, data: imageLoad, kind: 'image-load' },
  EV_EFI_BOOT_SERVICES_DRIVER: { pcr: 2, data: imageLoad, kind: 'image-load' },
  EV_EFI_RUNTIME_SERVICES_DRIVER: { pcr: 2, data: imageLoad, kind: 'image-load' },
  EV_EFI_GPT_EVENT: { pcr: 5, data: gptHeader(), kind: 'gpt' },
  EV_EFI_ACTION: { pcr: 4, data: utf8('Calling EFI Application from Boot Option'), kind: 'text' },
  EV_EFI_PLATFORM_FIRMWARE_BLOB: { pcr: 0, data: blob, kind: 'firmware-blob' },
  EV_EFI_HANDOFF_TABLES: { pcr: 1, data: handoff, kind: 'handoff-tables' },
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: { pcr: 0, data: blob2, kind: 'firmware-blob' },
  EV_EFI_HANDOFF_TABLES2: { pcr: 1, data: concatBytes(new Uint8Array([4]), utf8('SMBS'), handoff), kind: 'handoff-tables' },
  EV_EFI_VARIABLE_BOOT2: { pcr: 1, data: variable('BootNext', new Uint8Array([3, 0])), kind: 'efi-variable' },
  EV_EFI_GPT_EVENT2: { pcr: 5, data: gptHeader(), kind: 'gpt' },
  EV_EFI_HCRTM_EVENT: { pcr: 0, data: utf8('HCRTM'), kind: 'text' },
  EV_EFI_VARIABLE_AUTHORITY: { pcr: 7, data: variable('db', new Uint8Array(48), VariableVendor.imageSecurityDatabase), kind: 'efi-variable' },
  EV_EFI_SPDM_FIRMWARE_BLOB: { pcr: 2, data: spdm, kind: 'device-security' },
  EV_EFI_SPDM_FIRMWARE_CONFIG: { pcr: 3, data: spdm, kind: 'device-security' },
  EV_EFI_SPDM_DEVICE_POLICY: { pcr: 7, data: variable('devdb', new Uint8Array(0), deviceSignatureDatabase), kind: 'efi-variable' },
  EV_EFI_SPDM_DEVICE_AUTHORITY: { pcr: 7, data: variable('devdb', new Uint8Array(48), deviceSignatureDatabase), kind: 'efi-variable' },
};

test('every PFP event type decodes to its structure, with its PFP name and a one-line summary', () => {
  const names = Object.keys(EventType) as EventTypeName[];
  assert.deepEqual(
    names.filter((n) => !(n in representative)),
    [],
    'every event type has a representative',
  );
  const events = names.map((name) => ({ pcr: representative[name].pcr, type: EventType[name], data: representative[name].data }));
  const log = parseEventLog(encodeEventLog({ banks: ['sha256'], events }));
  for (const [i, name] of names.entries()) {
    const event = log.events[i + 1]!;
    assert.equal(event.typeName, name);
    assert.equal(event.decoded.kind, representative[name].kind, name);
    const summary = describeDecodedEvent(event.decoded);
    assert.ok(summary.length > 0 && !summary.includes('\n'), `${name}: ${summary}`);
  }
  assert.deepEqual(
    log.findings.filter((f) => f.kind === 'undecodable-event-data' || f.kind === 'unknown-event-type'),
    [],
  );
  // Logged but never used by conforming firmware: decoded, and a finding.
  assert.deepEqual(
    log.findings.filter((f) => f.kind === 'reserved-event-type').map((f) => log.events[f.event!]!.typeName),
    ['EV_PREBOOT_CERT', 'EV_UNUSED'],
  );
});

test('S-CRTM version: a GUID or a UCS-2 string; EV_POST_CODE2: a blob with its description or a label', () => {
  const log = parseEventLog(
    encodeEventLog({
      banks: ['sha256'],
      events: [
        { pcr: 0, type: EventType.EV_S_CRTM_VERSION, data: guidBytes('546bfb1e-1d0c-4055-a4ad-4ef4bf17b83a') },
        { pcr: 0, type: EventType.EV_S_CRTM_VERSION, data: utf16leBytes('GCE Virtual Firmware v1', true) },
        { pcr: 0, type: EventType.EV_POST_CODE2, data: blob2 },
        { pcr: 0, type: EventType.EV_POST_CODE2, data: utf8('Embedded UEFI Driver') },
      ],
    }),
  );
  assert.deepEqual(
    log.events.slice(1).map((e) => describeDecodedEvent(e.decoded)),
    ['GUID 546bfb1e-1d0c-4055-a4ad-4ef4bf17b83a', 'GCE Virtual Firmware v1', 'ACPI DATA blob 0x7f000000 +0x10000', 'Embedded UEFI Driver'],
  );
});

test("shim's PCR 7 authority events: vendor certificate, MokList entry (certificate or hash), MokListTrusted, SbatLevel", () => {
  // Any whole DER SEQUENCE reads as a certificate; the content does not matter to the decoder.
  const certificate = concatBytes(new Uint8Array([0x30, 0x82, 0x01, 0x00]), new Uint8Array(256).fill(0x42));
  const owner = '605dab50-e046-4300-abb6-3dd810dd8b23';
  const hash = new Uint8Array(32).fill(7);
  const authority = (name: string, data: Uint8Array) => ({
    pcr: 7,
    type: EventType.EV_EFI_VARIABLE_AUTHORITY,
    data: variable(name, data, VariableVendor.shimLock),
  });
  const log = parseEventLog(
    encodeEventLog({
      banks: ['sha256'],
      events: [
        authority('Shim', certificate),
        authority('MokList', concatBytes(guidBytes(owner), certificate)),
        authority('MokList', concatBytes(guidBytes(owner), hash)),
        authority('MokListTrusted', new Uint8Array([1])),
        authority('SbatLevel', utf8('sbat,1,2022052400\ngrub,2\n')),
      ],
    }),
  );
  const values = log.events.slice(1).map((e) => (e.decoded.kind === 'efi-variable' ? e.decoded.value : undefined));
  assert.deepEqual(values[0], { kind: 'authority', certificate: Buffer.from(certificate).toString('hex') });
  assert.deepEqual(values[1], { kind: 'authority', owner, certificate: Buffer.from(certificate).toString('hex') });
  assert.deepEqual(values[2], { kind: 'authority', owner, hash: Buffer.from(hash).toString('hex') });
  assert.deepEqual(values[3], { kind: 'boolean', value: true });
  assert.deepEqual(values[4], { kind: 'sbat', text: 'sbat,1,2022052400\ngrub,2\n' });
  assert.deepEqual(
    log.events.slice(1).map((e) => describeDecodedEvent(e.decoded)),
    [
      'Shim authority certificate (260 bytes)',
      `MokList authority certificate (260 bytes) owner ${owner}`,
      `MokList authority hash ${'07'.repeat(32)} owner ${owner}`,
      'MokListTrusted=on',
      'SbatLevel sbat,1,2022052400 grub,2',
    ],
  );
});

test('SPDM device policy and authority (PFP 1.06) are devdb variables: signature lists and the authorizing entry, bound to their digests', () => {
  const certificate = concatBytes(new Uint8Array([0x30, 0x82, 0x00, 0x20]), new Uint8Array(32).fill(0x11));
  const owner = '11111111-2222-3333-4444-555555555555';
  const esl = concatBytes(
    guidBytes('a5c059a1-94e4-4aa7-87b5-ab155c2bf072'), // EFI_CERT_X509_GUID
    new ByteWriter()
      .u32le(28 + 16 + certificate.length)
      .u32le(0)
      .u32le(16 + certificate.length)
      .finish(),
    guidBytes(owner),
    certificate,
  );
  const log = parseEventLog(
    encodeEventLog({
      banks: ['sha256'],
      events: [
        { pcr: 7, type: EventType.EV_EFI_SPDM_DEVICE_POLICY, data: variable('devdb', esl, deviceSignatureDatabase) },
        { pcr: 7, type: EventType.EV_SEPARATOR, data: new Uint8Array(4) },
        { pcr: 7, type: EventType.EV_EFI_SPDM_DEVICE_AUTHORITY, data: variable('devdb', concatBytes(guidBytes(owner), certificate), deviceSignatureDatabase) },
      ],
    }),
  );
  const [policy, , authority] = log.events.slice(1).map((e) => (e.decoded.kind === 'efi-variable' ? e.decoded.value : undefined));
  assert.equal(policy?.kind, 'signature-lists');
  assert.deepEqual(authority, { kind: 'authority', owner, certificate: Buffer.from(certificate).toString('hex') });
  // The device authority may follow PCR 7's separator (devices are authenticated as drivers load).
  assert.deepEqual(
    log.findings.filter((f) => f.kind === 'event-after-separator'),
    [],
  );
  const checks = checkEventDigests(log);
  assert.deepEqual(
    checks.events.slice(1).map((c) => c.status),
    ['match', 'match', 'match'],
  );
  const forged = encodeEventLog({
    banks: ['sha256'],
    events: [
      {
        pcr: 7,
        type: EventType.EV_EFI_SPDM_DEVICE_POLICY,
        data: variable('devdb', esl, deviceSignatureDatabase),
        digestInput: variable('devdb', new Uint8Array(0), deviceSignatureDatabase),
      },
    ],
  });
  assert.deepEqual(
    checkEventDigests(parseEventLog(forged)).findings.map((f) => f.kind),
    ['digest-mismatch'],
  );
});
