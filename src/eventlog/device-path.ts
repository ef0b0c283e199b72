// UEFI device paths (UEFI 2.10 §10.3): parse, render as text (§10.6 "Device Path to Text"), encode.
// They appear in EV_EFI_BOOT_SERVICES_* events (UEFI_IMAGE_LOAD_EVENT) and in Boot#### load
// options; the text form is what operators compare against efibootmgr and firmware menus.
import { ByteReader, ByteWriter, toHex } from '../bytes/index.ts';
import { EventLogLimits } from './constants.ts';
import { EventLogError } from './errors.ts';
import { guidBytes, readGuid, utf16leBytes, utf16leText } from './wire.ts';

/** One node as stored: type, sub-type and the bytes after its 4-byte header. */
export interface DevicePathNode {
  readonly type: number;
  readonly subType: number;
  readonly data: Uint8Array;
}

export const DevicePathType = {
  hardware: 0x01,
  acpi: 0x02,
  messaging: 0x03,
  media: 0x04,
  bbs: 0x05,
  end: 0x7f,
} as const;

const endInstanceSubType = 0x01;
const endEntireSubType = 0xff;
const nodeHeaderBytes = 4;

/**
 * Parses one or more device paths packed back to back (a load option's FilePathList holds several),
 * each terminated by an End Entire node. End Instance nodes stay in the node list (rendered ",").
 * Throws ERR_EVENTLOG_DEVICE_PATH for a node shorter than its header, running past the input,
 * or a path without its end node.
 */
export function parseDevicePaths(bytes: Uint8Array): DevicePathNode[][] {
  const reader = new ByteReader(bytes);
  const paths: DevicePathNode[][] = [];
  let current: DevicePathNode[] = [];
  let nodes = 0;
  while (reader.remaining > 0) {
    if (reader.remaining < nodeHeaderBytes) {
      throw new EventLogError('ERR_EVENTLOG_DEVICE_PATH', `device path node header at offset ${reader.offset} needs 4 bytes, ${reader.remaining} left`, {
        offset: reader.offset,
      });
    }
    if (++nodes > EventLogLimits.maxDevicePathNodes) {
      throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `device path has more than ${EventLogLimits.maxDevicePathNodes} nodes`, {
        max: EventLogLimits.maxDevicePathNodes,
      });
    }
    const start = reader.offset;
    const type = reader.u8();
    const subType = reader.u8();
    const length = reader.u16le();
    if (length < nodeHeaderBytes || length - nodeHeaderBytes > reader.remaining) {
      throw new EventLogError(
        'ERR_EVENTLOG_DEVICE_PATH',
        `device path node at offset ${start} has length ${length}: below the 4-byte header or past the ${reader.remaining + nodeHeaderBytes} bytes left`,
        { offset: start, length },
      );
    }
    const data = reader.bytesView(length - nodeHeaderBytes);
    if (type === DevicePathType.end && subType === endEntireSubType) {
      paths.push(current);
      current = [];
      continue;
    }
    current.push({ type, subType, data });
  }
  if (current.length > 0 || paths.length === 0) {
    throw new EventLogError('ERR_EVENTLOG_DEVICE_PATH', 'device path ends without an End Entire Device Path node (0x7f/0xff)', { offset: reader.offset });
  }
  return paths;
}

/** Parses exactly one device path (the bytes must hold one path and its end node, nothing after). */
export function parseDevicePath(bytes: Uint8Array): DevicePathNode[] {
  const paths = parseDevicePaths(bytes);
  if (paths.length !== 1) {
    throw new EventLogError('ERR_EVENTLOG_DEVICE_PATH', `expected one device path, found ${paths.length}`, { paths: paths.length });
  }
  return paths[0]!;
}

/** Encodes nodes as a device path with its End Entire node. */
export function encodeDevicePath(nodes: readonly DevicePathNode[]): Uint8Array {
  const w = new ByteWriter();
  for (const node of [...nodes, { type: DevicePathType.end, subType: endEntireSubType, data: new Uint8Array(0) }]) {
    const length = node.data.length + nodeHeaderBytes;
    if (length > 0xffff) throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `device path node of ${length} bytes does not fit its u16 length`, { length });
    w.u8(node.type).u8(node.subType).u16le(length).bytes(node.data);
  }
  return w.finish();
}

/** Text form of a path, e.g. `PciRoot(0x0)/Pci(0x1,0x1)/Sata(0x0,0xFFFF,0x0)/HD(1,GPT,…)/\EFI\BOOT\BOOTX64.EFI`. */
export function devicePathToText(nodes: readonly DevicePathNode[]): string {
  let text = '';
  for (const node of nodes) {
    if (node.type === DevicePathType.end && node.subType === endInstanceSubType) {
      text += ',';
      continue;
    }
    text += (text === '' || text.endsWith(',') ? '' : '/') + nodeToText(node);
  }
  return text;
}

const hex = (n: number | bigint): string => `0x${n.toString(16).toUpperCase()}`;

/** Vendor-defined messaging GUIDs with their own text names (UEFI 2.10 Table 10.71). */
const vendorMessagingNames: Readonly<Record<string, string>> = {
  'e0c14753-f9be-11d2-9a0c-0090273fc14d': 'VenPcAnsi',
  'dfa66065-b419-11d3-9a2d-0090273fc14d': 'VenVt100',
  '7baec70b-57e0-4c76-8e87-2f9e28088343': 'VenVt100Plus',
  'ad15a0d6-8bec-4acf-a073-d01de77e2d88': 'VenUtf8',
};

/** ACPI _HID values in EISA compressed form (vendor "PNP") with dedicated text names. */
const acpiNames: Readonly<Record<number, string>> = {
  0x0a03: 'PciRoot',
  0x0a08: 'PcieRoot',
  0x0604: 'Floppy',
  0x0301: 'Keyboard',
  0x0501: 'Serial',
  0x0401: 'ParallelPort',
};
const eisaPnpVendor = 0x41d0;

function eisaIdText(id: number): string {
  if ((id & 0xffff) === eisaPnpVendor) return `PNP${(id >>> 16).toString(16).toUpperCase().padStart(4, '0')}`;
  return hex(id >>> 0);
}

/**
 * One node's text. A node whose data has the wrong size for its declared kind falls back to the
 * generic `Path(type,subtype,hex)` form, so odd firmware data is shown, never hidden or fatal.
 */
export function nodeToText(node: DevicePathNode): string {
  const r = new ByteReader(node.data);
  const size = node.data.length;
  const generic = (): string => `Path(${node.type},${node.subType},${toHex(node.data)})`;
  const vendor = (prefix: string): string => {
    if (size < 16) return generic();
    const guid = readGuid(r, 'vendor GUID');
    return r.remaining > 0 ? `${prefix}(${guid},${toHex(r.bytesView(r.remaining))})` : `${prefix}(${guid})`;
  };
  switch (node.type) {
    case DevicePathType.hardware:
      switch (node.subType) {
        case 0x01:
          if (size !== 2) return generic();
          {
            const fn = r.u8();
            const dev = r.u8();
            return `Pci(${hex(dev)},${hex(fn)})`;
          }
        case 0x02:
          return size === 1 ? `PcCard(${hex(r.u8())})` : generic();
        case 0x03:
          return size === 20 ? `MemoryMapped(${hex(r.u32le())},${hex(r.u64le())},${hex(r.u64le())})` : generic();
        case 0x04:
          return vendor('VenHw');
        case 0x05:
          return size === 4 ? `Ctrl(${hex(r.u32le())})` : generic();
        case 0x06:
          return size === 9 ? `BMC(${r.u8()},${hex(r.u64le())})` : generic();
      }
      return `HardwarePath(${node.subType},${toHex(node.data)})`;
    case DevicePathType.acpi:
      switch (node.subType) {
        case 0x01: {
          if (size !== 8) return generic();
          const hid = r.u32le();
          const uid = r.u32le();
          const named = (hid & 0xffff) === eisaPnpVendor ? acpiNames[hid >>> 16] : undefined;
          return named ? `${named}(${hex(uid)})` : `Acpi(${eisaIdText(hid)},${hex(uid)})`;
        }
        case 0x02: {
          if (size < 12) return generic();
          const hid = r.u32le();
          const uid = r.u32le();
          const cid = r.u32le();
          const strings = Buffer.from(r.bytesView(r.remaining)).toString('latin1').split('\0');
          return `AcpiEx(${eisaIdText(hid)},${eisaIdText(cid)},${hex(uid)},${strings[0] ?? ''},${strings[1] ?? ''},${strings[2] ?? ''})`;
        }
        case 0x03: {
          if (size === 0 || size % 4 !== 0) return generic();
          const adrs: string[] = [];
          while (r.remaining > 0) adrs.push(hex(r.u32le()));
          return `AcpiAdr(${adrs.join(',')})`;
        }
      }
      return `AcpiPath(${node.subType},${toHex(node.data)})`;
    case DevicePathType.messaging:
      switch (node.subType) {
        case 0x01:
          if (size !== 4) return generic();
          return `Ata(${r.u8() === 0 ? 'Primary' : 'Secondary'},${r.u8() === 0 ? 'Master' : 'Slave'},${hex(r.u16le())})`;
        case 0x02:
          return size === 4 ? `Scsi(${hex(r.u16le())},${hex(r.u16le())})` : generic();
        case 0x03:
          if (size !== 20) return generic();
          r.skip(4);
          return `Fibre(${hex(r.u64le())},${hex(r.u64le())})`;
        case 0x05:
          return size === 2 ? `USB(${hex(r.u8())},${hex(r.u8())})` : generic();
        case 0x0a: {
          if (size < 16) return generic();
          const guid = readGuid(new ByteReader(node.data), 'vendor GUID');
          const name = vendorMessagingNames[guid];
          return name && size === 16 ? `${name}()` : vendor('VenMsg');
        }
        case 0x0b: {
          if (size !== 33) return generic();
          const mac = r.bytesView(32);
          const ifType = r.u8();
          // Ethernet (ifType 0 or 1) addresses are 6 bytes; the rest of the 32-byte field is padding.
          return `MAC(${toHex(ifType <= 1 ? mac.subarray(0, 6) : mac)},${hex(ifType)})`;
        }
        case 0x0c: {
          if (size !== 23 && size !== 15) return generic();
          const ip = (b: Uint8Array): string => Array.from(b).join('.');
          const local = r.bytesView(4);
          const remote = r.bytesView(4);
          r.skip(4);
          const protocol = r.u16le();
          const isStatic = r.u8() !== 0;
          const tail = size === 23 ? `,${ip(r.bytesView(4))},${ip(r.bytesView(4))}` : '';
          return `IPv4(${ip(remote)},${protocol === 6 ? 'TCP' : protocol === 17 ? 'UDP' : hex(protocol)},${isStatic ? 'Static' : 'DHCP'},${ip(local)}${tail})`;
        }
        case 0x0e: {
          if (size !== 15) return generic();
          r.skip(4);
          const baud = r.u64le();
          const dataBits = r.u8();
          const parity = r.u8();
          const stop = r.u8();
          return `Uart(${baud},${dataBits},${'DNEOMS'[parity] ?? hex(parity)},${['D', '1', '1.5', '2'][stop] ?? hex(stop)})`;
        }
        case 0x0f:
          return size === 7 ? `UsbClass(${hex(r.u16le())},${hex(r.u16le())},${hex(r.u8())},${hex(r.u8())},${hex(r.u8())})` : generic();
        case 0x11:
          return size === 1 ? `Unit(${hex(r.u8())})` : generic();
        case 0x12:
          return size === 6 ? `Sata(${hex(r.u16le())},${hex(r.u16le())},${hex(r.u16le())})` : generic();
        case 0x14:
          return size === 2 ? `Vlan(${r.u16le()})` : generic();
        case 0x17: {
          if (size !== 12) return generic();
          const nsid = r.u32le();
          const eui = Array.from(r.bytesView(8))
            .reverse()
            .map((b) => b.toString(16).toUpperCase().padStart(2, '0'));
          return `NVMe(${hex(nsid)},${eui.join('-')})`;
        }
        case 0x18:
          return `Uri(${Buffer.from(node.data).toString('latin1')})`;
        case 0x19:
          return size === 2 ? `UFS(${hex(r.u8())},${hex(r.u8())})` : generic();
        case 0x1a:
          return size === 1 ? `SD(${r.u8()})` : generic();
        case 0x1d:
          return size === 1 ? `eMMC(${r.u8()})` : generic();
      }
      return `Msg(${node.subType},${toHex(node.data)})`;
    case DevicePathType.media:
      switch (node.subType) {
        case 0x01: {
          if (size !== 38) return generic();
          const partition = r.u32le();
          const start = r.u64le();
          const length = r.u64le();
          const signature = r.bytesView(16);
          const format = r.u8();
          const signatureType = r.u8();
          const formatText = format === 1 ? 'MBR' : format === 2 ? 'GPT' : hex(format);
          const signatureText =
            signatureType === 2
              ? readGuid(new ByteReader(signature), 'partition GUID')
              : signatureType === 1
                ? hex(new DataView(signature.buffer, signature.byteOffset).getUint32(0, true))
                : '0';
          return `HD(${partition},${formatText},${signatureText},${hex(start)},${hex(length)})`;
        }
        case 0x02:
          return size === 20 ? `CDROM(${hex(r.u32le())},${hex(r.u64le())},${hex(r.u64le())})` : generic();
        case 0x03:
          return vendor('VenMedia');
        case 0x04:
          return utf16leText(node.data);
        case 0x05:
          return size === 16 ? `Media(${readGuid(r, 'protocol GUID')})` : generic();
        case 0x06:
          return size === 16 ? `FvFile(${readGuid(r, 'file GUID')})` : generic();
        case 0x07:
          return size === 16 ? `Fv(${readGuid(r, 'volume GUID')})` : generic();
        case 0x08:
          if (size !== 20) return generic();
          r.skip(4);
          return `Offset(${hex(r.u64le())},${hex(r.u64le())})`;
        case 0x09:
          if (size !== 34) return generic();
          {
            const start = r.u64le();
            const end = r.u64le();
            const diskType = readGuid(r, 'disk type GUID');
            return `RamDisk(${hex(start)},${hex(end)},${r.u16le()},${diskType})`;
          }
      }
      return `MediaPath(${node.subType},${toHex(node.data)})`;
    case DevicePathType.bbs:
      if (node.subType === 0x01 && size >= 4) {
        const deviceType = r.u16le();
        const flags = r.u16le();
        return `BBS(${hex(deviceType)},${Buffer.from(r.bytesView(r.remaining)).toString('latin1').replace(/\0+$/, '')},${hex(flags)})`;
      }
      return `BbsPath(${node.subType},${toHex(node.data)})`;
  }
  return generic();
}

/**
 * Builders for the nodes a boot entry usually holds, for callers that construct device paths
 * (prediction of Boot#### variables, tests). Each returns one node; pass a list to encodeDevicePath.
 */
export const DevicePathNodes = {
  acpi(hid: number, uid: number): DevicePathNode {
    return { type: DevicePathType.acpi, subType: 0x01, data: new ByteWriter(8).u32le(hid).u32le(uid).finish() };
  },
  pciRoot(uid = 0): DevicePathNode {
    return DevicePathNodes.acpi(((0x0a03 << 16) | eisaPnpVendor) >>> 0, uid);
  },
  pci(device: number, fn: number): DevicePathNode {
    return { type: DevicePathType.hardware, subType: 0x01, data: new Uint8Array([fn, device]) };
  },
  scsi(target: number, lun: number): DevicePathNode {
    return { type: DevicePathType.messaging, subType: 0x02, data: new ByteWriter(4).u16le(target).u16le(lun).finish() };
  },
  sata(hbaPort: number, portMultiplierPort: number, lun: number): DevicePathNode {
    return { type: DevicePathType.messaging, subType: 0x12, data: new ByteWriter(6).u16le(hbaPort).u16le(portMultiplierPort).u16le(lun).finish() };
  },
  nvme(namespaceId: number, eui64: Uint8Array = new Uint8Array(8)): DevicePathNode {
    return { type: DevicePathType.messaging, subType: 0x17, data: new ByteWriter(12).u32le(namespaceId).bytes(eui64).finish() };
  },
  /** A GPT partition: HD(partition,GPT,partitionGuid,startLba,sizeLba). */
  gptPartition(partition: number, partitionGuid: string, startLba: bigint, sizeLba: bigint): DevicePathNode {
    const data = new ByteWriter(38).u32le(partition).u64le(startLba).u64le(sizeLba).bytes(guidBytes(partitionGuid)).u8(2).u8(2).finish();
    return { type: DevicePathType.media, subType: 0x01, data };
  },
  /** A file path node: `\EFI\BOOT\BOOTX64.EFI` (UCS-2, NUL-terminated). */
  filePath(path: string): DevicePathNode {
    return { type: DevicePathType.media, subType: 0x04, data: utf16leBytes(path, true) };
  },
  firmwareVolume(guid: string): DevicePathNode {
    return { type: DevicePathType.media, subType: 0x07, data: guidBytes(guid) };
  },
  firmwareFile(guid: string): DevicePathNode {
    return { type: DevicePathType.media, subType: 0x06, data: guidBytes(guid) };
  },
} as const;
