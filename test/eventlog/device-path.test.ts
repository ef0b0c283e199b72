// UEFI device paths (text forms of UEFI 2.10 §10.6), load options and UEFI_VARIABLE_DATA:
// rendering, encode/parse round trips, malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteWriter, fromHex, utf8 } from '../../src/bytes/index.ts';
import {
  devicePathToText,
  DevicePathNodes,
  DevicePathType,
  encodeDevicePath,
  encodeLoadOption,
  encodeUefiVariableData,
  EventLogError,
  EventLogLimits,
  parseDevicePath,
  parseDevicePaths,
  parseLoadOption,
  parseUefiVariableData,
  utf16leBytes,
  VariableVendor,
  type DevicePathNode,
} from '../../src/eventlog/index.ts';

const node = (type: number, subType: number, data: number[] | Uint8Array): DevicePathNode => ({
  type,
  subType,
  data: data instanceof Uint8Array ? data : new Uint8Array(data),
});

test('text forms of the nodes boot entries hold', () => {
  const cases: [DevicePathNode[], string][] = [
    [[DevicePathNodes.pciRoot(0), DevicePathNodes.pci(0x1, 0x1), node(3, 1, [0, 0, 0, 0])], 'PciRoot(0x0)/Pci(0x1,0x1)/Ata(Primary,Master,0x0)'],
    [[DevicePathNodes.acpi(0x0a0841d0, 1)], 'PcieRoot(0x1)'],
    [[DevicePathNodes.acpi(0x12345678, 2)], 'Acpi(0x12345678,0x2)'],
    [[DevicePathNodes.sata(1, 0xffff, 0)], 'Sata(0x1,0xFFFF,0x0)'],
    [[DevicePathNodes.nvme(1, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))], 'NVMe(0x1,08-07-06-05-04-03-02-01)'],
    [[DevicePathNodes.scsi(1, 0)], 'Scsi(0x1,0x0)'],
    [
      [DevicePathNodes.gptPartition(1, '1a504613-19b5-4b44-a83d-d926d40daa1c', 0x800n, 0x80000n), DevicePathNodes.filePath('\\EFI\\BOOT\\BOOTX64.EFI')],
      'HD(1,GPT,1a504613-19b5-4b44-a83d-d926d40daa1c,0x800,0x80000)/\\EFI\\BOOT\\BOOTX64.EFI',
    ],
    [
      [
        node(
          4,
          1,
          new ByteWriter()
            .u32le(2)
            .u64le(63n)
            .u64le(0x1f400n)
            .bytes(new Uint8Array([0x78, 0x56, 0x34, 0x12, ...new Array<number>(12).fill(0)]))
            .u8(1)
            .u8(1)
            .finish(),
        ),
      ],
      'HD(2,MBR,0x12345678,0x3F,0x1F400)',
    ],
    [
      [DevicePathNodes.firmwareVolume('7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1'), DevicePathNodes.firmwareFile('462caa21-7614-4503-836e-8ab6f4662331')],
      'Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)',
    ],
    [[node(1, 4, [...fromHex('e775e299a075374ba2e6c5385e6c00cb'), 0xab])], 'VenHw(99e275e7-75a0-4b37-a2e6-c5385e6c00cb,ab)'],
    [[node(3, 10, fromHex('5347c1e0bef9d2119a0c0090273fc14d'))], 'VenPcAnsi()'],
    [[node(3, 5, [2, 0])], 'USB(0x2,0x0)'],
    [[node(3, 11, [0xa4, 0xae, 0x11, 0x14, 0xf9, 0xe0, ...new Array<number>(26).fill(0), 1])], 'MAC(a4ae1114f9e0,0x1)'],
    [[node(3, 14, new ByteWriter().u32le(0).u64le(115200n).u8(8).u8(1).u8(1).finish())], 'Uart(115200,8,N,1)'],
    [[node(4, 8, new ByteWriter().u32le(0).u64le(0xf250n).u64le(0x201ffn).finish())], 'Offset(0xF250,0x201FF)'],
    [[node(3, 0x18, utf8('http://boot/x.efi'))], 'Uri(http://boot/x.efi)'],
    [[node(5, 1, [2, 0, 0, 0, ...utf8('Disk\0')])], 'BBS(0x2,Disk,0x0)'],
    // Unknown or wrongly sized nodes: generic forms, never an error.
    [[node(0x30, 7, [1, 2])], 'Path(48,7,0102)'],
    [[node(1, 1, [1, 2, 3])], 'Path(1,1,010203)'],
    [[node(3, 0x70, [9])], 'Msg(112,09)'],
    // End Instance separates instances.
    [[DevicePathNodes.pciRoot(0), node(DevicePathType.end, 1, []), DevicePathNodes.pciRoot(1)], 'PciRoot(0x0),PciRoot(0x1)'],
  ];
  for (const [nodes, text] of cases) {
    assert.equal(devicePathToText(nodes), text);
    assert.equal(devicePathToText(parseDevicePath(encodeDevicePath(nodes))), text, `round trip of ${text}`);
  }
});

const arbitraryNode: fc.Arbitrary<DevicePathNode> = fc.record({
  type: fc.integer({ min: 0, max: 0x7e }),
  subType: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 48 }),
});

test('parse(encode(nodes)) = nodes, and any node renders without throwing', () => {
  fc.assert(
    fc.property(fc.array(arbitraryNode, { maxLength: 12 }), (nodes) => {
      const parsed = parseDevicePath(encodeDevicePath(nodes));
      assert.deepEqual(
        parsed.map((n) => [n.type, n.subType, Buffer.from(n.data).toString('hex')]),
        nodes.map((n) => [n.type, n.subType, Buffer.from(n.data).toString('hex')]),
      );
      assert.equal(typeof devicePathToText(parsed), 'string');
    }),
    { numRuns: 500 },
  );
});

test('malformed device paths are ERR_EVENTLOG_DEVICE_PATH (or TOO_LARGE past the node maximum)', () => {
  const isCode = (code: string) => (e: unknown) => e instanceof EventLogError && e.code === code;
  const good = encodeDevicePath([DevicePathNodes.pciRoot(0)]);
  assert.throws(() => parseDevicePath(good.subarray(0, good.length - 4)), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'no end node');
  assert.throws(() => parseDevicePath(good.subarray(0, 3)), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'short header');
  assert.throws(() => parseDevicePath(new Uint8Array([2, 1, 3, 0])), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'length below the header');
  assert.throws(() => parseDevicePath(new Uint8Array([2, 1, 0xff, 0x00, 0, 0])), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'length past the end');
  assert.throws(() => parseDevicePath(new Uint8Array(0)), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'empty');
  assert.throws(() => parseDevicePath(concatPaths(good, good)), isCode('ERR_EVENTLOG_DEVICE_PATH'), 'two paths where one is expected');
  const many = encodeDevicePath(new Array(EventLogLimits.maxDevicePathNodes + 1).fill(DevicePathNodes.pci(0, 0)));
  assert.throws(() => parseDevicePath(many), isCode('ERR_EVENTLOG_TOO_LARGE'));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        devicePathToText(parseDevicePaths(bytes).flat());
      } catch (e) {
        assert.ok(e instanceof EventLogError, String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

function concatPaths(a: Uint8Array, b: Uint8Array): Uint8Array {
  return new Uint8Array([...a, ...b]);
}

test('load options: encode/parse round trip, several device paths, command line as optional data', () => {
  const path = [DevicePathNodes.gptPartition(1, '1a504613-19b5-4b44-a83d-d926d40daa1c', 0x800n, 0x80000n), DevicePathNodes.filePath('\\EFI\\Linux\\uki.efi')];
  const bytes = encodeLoadOption({
    attributes: 1,
    description: 'Vouch UKI',
    devicePath: path,
    optionalData: utf16leBytes('console=ttyS0 composefs=abc', true),
  });
  assert.deepEqual(parseLoadOption(bytes), {
    attributes: 1,
    active: true,
    description: 'Vouch UKI',
    devicePaths: ['HD(1,GPT,1a504613-19b5-4b44-a83d-d926d40daa1c,0x800,0x80000)/\\EFI\\Linux\\uki.efi'],
    optionalData: Buffer.from(utf16leBytes('console=ttyS0 composefs=abc', true)).toString('hex'),
    optionalDataText: 'console=ttyS0 composefs=abc',
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')),
      fc.array(arbitraryNode, { maxLength: 4 }),
      fc.uint8Array({ maxLength: 16 }),
      (attributes, description, nodes, optionalData) => {
        const option = parseLoadOption(encodeLoadOption({ attributes, description, devicePath: nodes, optionalData }));
        assert.equal(option.attributes, attributes);
        assert.equal(option.description, Buffer.from(utf16leBytes(description, false)).toString('utf16le'));
        assert.equal(option.devicePaths[0], devicePathToText(nodes));
        assert.equal(option.optionalData, Buffer.from(optionalData).toString('hex'));
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(
    () => parseLoadOption(bytes.subarray(0, 9)),
    (e: unknown) => e instanceof Error && 'code' in e && /TRUNCATED/.test(String(e.code)),
  );
});

test('UEFI_VARIABLE_DATA: round trip, strict about trailing bytes and oversized lengths', () => {
  const data = encodeUefiVariableData(VariableVendor.efiGlobalVariable, 'SecureBoot', new Uint8Array([1]));
  const v = parseUefiVariableData(data);
  assert.deepEqual({ ...v, data: [...v.data] }, { vendorGuid: VariableVendor.efiGlobalVariable, name: 'SecureBoot', dataOffset: 32 + 20, data: [1] });
  assert.throws(
    () => parseUefiVariableData(new Uint8Array([...data, 0])),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_MALFORMED',
  );
  const huge = data.slice();
  new DataView(huge.buffer).setBigUint64(24, 1n << 40n, true);
  assert.throws(
    () => parseUefiVariableData(huge),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_TOO_LARGE',
  );
  const longName = data.slice();
  new DataView(longName.buffer).setBigUint64(16, BigInt(EventLogLimits.maxVariableNameChars + 1), true);
  assert.throws(
    () => parseUefiVariableData(longName),
    (e: unknown) => e instanceof EventLogError && e.code === 'ERR_EVENTLOG_TOO_LARGE',
  );
});
