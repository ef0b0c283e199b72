// Windows boot configuration log (WBCL) items: what Windows Boot Manager and winload log as
// EV_EVENT_TAG events, whose data is a SIPA item {SIPAEventType u32, size u32, data}. Types and
// flags are those of the Windows SDK's wbcl.h: the top byte holds flags (not measured, aggregation),
// the next byte a category, the low 16 bits the item within it. An aggregation item's data is a
// sequence of further items (a trust boundary holding the boot debugging, code integrity, … items).
import { ByteReader } from '../bytes/index.ts';
import type { DecodedSipaItem } from './decoded-types.ts';
import { EventLogError } from './errors.ts';
import { isPrintableUtf16, utf16leText } from './wire.ts';

export const SipaFlag = { notMeasured: 0x80000000, aggregation: 0x40000000 } as const;

/** SIPAEVENTTYPE_* categories (bits 16-23). */
const SipaCategory = {
  container: 0x01,
  information: 0x02,
  error: 0x03,
  preOsParameter: 0x04,
  osParameter: 0x05,
  authority: 0x06,
  loadedModule: 0x07,
  trustPoint: 0x08,
  elam: 0x09,
  vbs: 0x0a,
} as const;

/** Item names by category, in the order of their low 16 bits (1, 2, …), as wbcl.h numbers them. */
const sipaItemsByCategory: Readonly<Record<number, readonly (string | undefined)[]>> = {
  [SipaCategory.container]: ['SIPAEVENT_TRUSTBOUNDARY', 'SIPAEVENT_ELAM_AGGREGATION', 'SIPAEVENT_LOADEDMODULE_AGGREGATION', 'SIPAEVENT_TRUSTPOINT_AGGREGATION'],
  [SipaCategory.information]: [
    'SIPAEVENT_INFORMATION',
    'SIPAEVENT_BOOTCOUNTER',
    'SIPAEVENT_TRANSFER_CONTROL',
    'SIPAEVENT_APPLICATION_RETURN',
    'SIPAEVENT_BITLOCKER_UNLOCK',
    'SIPAEVENT_EVENTCOUNTER',
    'SIPAEVENT_COUNTERID',
    'SIPAEVENT_MORBIT_NOT_CANCELABLE',
    'SIPAEVENT_APPLICATION_SVN',
    'SIPAEVENT_SVN_CHAIN_STATUS',
  ],
  [SipaCategory.error]: ['SIPAERROR_FIRMWAREFAILURE', 'SIPAERROR_TPMFAILURE', 'SIPAERROR_INTERNALFAILURE'],
  [SipaCategory.preOsParameter]: ['SIPAEVENT_BOOTDEBUGGING', 'SIPAEVENT_BOOT_REVOCATION_LIST'],
  [SipaCategory.osParameter]: [
    'SIPAEVENT_OSKERNELDEBUG',
    'SIPAEVENT_CODEINTEGRITY',
    'SIPAEVENT_TESTSIGNING',
    'SIPAEVENT_DATAEXECUTIONPREVENTION',
    'SIPAEVENT_SAFEMODE',
    'SIPAEVENT_WINPE',
    'SIPAEVENT_PHYSICALADDRESSEXTENSION',
    'SIPAEVENT_OSDEVICE',
    'SIPAEVENT_SYSTEMROOT',
    'SIPAEVENT_HYPERVISOR_LAUNCH_TYPE',
    'SIPAEVENT_HYPERVISOR_PATH',
    'SIPAEVENT_HYPERVISOR_IOMMU_POLICY',
    'SIPAEVENT_HYPERVISOR_DEBUG',
    'SIPAEVENT_DRIVER_LOAD_POLICY',
    'SIPAEVENT_SI_POLICY',
    'SIPAEVENT_HYPERVISOR_MMIO_NX_POLICY',
    'SIPAEVENT_HYPERVISOR_MSR_FILTER_POLICY',
    'SIPAEVENT_VSM_LAUNCH_TYPE',
    'SIPAEVENT_OS_REVOCATION_LIST',
    ...new Array<undefined>(12),
    'SIPAEVENT_VSM_IDK_INFO',
    'SIPAEVENT_FLIGHTSIGNING',
    'SIPAEVENT_PAGEFILE_ENCRYPTION_ENABLED',
    'SIPAEVENT_VSM_IDKS_INFO',
    'SIPAEVENT_HIBERNATION_DISABLED',
    'SIPAEVENT_DUMPS_DISABLED',
    'SIPAEVENT_DUMP_ENCRYPTION_ENABLED',
    'SIPAEVENT_DUMP_ENCRYPTION_KEY_DIGEST',
  ],
  [SipaCategory.authority]: ['SIPAEVENT_NOAUTHORITY', 'SIPAEVENT_AUTHORITYPUBKEY'],
  [SipaCategory.loadedModule]: [
    'SIPAEVENT_FILEPATH',
    'SIPAEVENT_IMAGESIZE',
    'SIPAEVENT_HASHALGORITHMID',
    'SIPAEVENT_AUTHENTICODEHASH',
    'SIPAEVENT_AUTHORITYISSUER',
    'SIPAEVENT_AUTHORITYSERIAL',
    'SIPAEVENT_IMAGEBASE',
    'SIPAEVENT_AUTHORITYPUBLISHER',
    'SIPAEVENT_AUTHORITYSHA1THUMBPRINT',
    'SIPAEVENT_IMAGEVALIDATED',
    'SIPAEVENT_MODULE_SVN',
  ],
  [SipaCategory.trustPoint]: ['SIPAEVENT_QUOTE', 'SIPAEVENT_QUOTESIGNATURE', 'SIPAEVENT_AIKID', 'SIPAEVENT_AIKPUBDIGEST'],
  [SipaCategory.elam]: ['SIPAEVENT_ELAM_KEYNAME', 'SIPAEVENT_ELAM_CONFIGURATION', 'SIPAEVENT_ELAM_POLICY', 'SIPAEVENT_ELAM_MEASURED'],
  [SipaCategory.vbs]: [
    'SIPAEVENT_VBS_VSM_REQUIRED',
    'SIPAEVENT_VBS_SECUREBOOT_REQUIRED',
    'SIPAEVENT_VBS_IOMMU_REQUIRED',
    'SIPAEVENT_VBS_MMIO_NX_REQUIRED',
    'SIPAEVENT_VBS_MSR_FILTERING_REQUIRED',
    'SIPAEVENT_VBS_MANDATORY_ENFORCEMENT',
    'SIPAEVENT_VBS_HVCI_POLICY',
    'SIPAEVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED',
  ],
};

/** Flag bits wbcl.h defines; any other bit in the top byte means the type is not a SIPA type. */
const knownFlags = SipaFlag.notMeasured | SipaFlag.aggregation;

/** The wbcl.h name of a SIPA type, or undefined when the type is not one wbcl.h defines. */
export function sipaName(type: number): string | undefined {
  if ((type & 0xff000000 & ~knownFlags) !== 0) return undefined;
  return sipaItemsByCategory[(type >>> 16) & 0xff]?.[(type & 0xffff) - 1];
}

/** Windows nests two or three levels (trust boundary → loaded module aggregation → items). */
const maxSipaDepth = 8;

/**
 * The SIPA items in `data` (a sequence; an aggregation item's data is itself a sequence). Leaves
 * keep their bytes as hex and, when they are printable UTF-16 (file paths, publishers), as text;
 * their binary values (counters, booleans, hashes, policies) are not interpreted further.
 */
export function parseSipaItems(data: Uint8Array, depth = 0): DecodedSipaItem[] {
  if (depth >= maxSipaDepth) {
    throw new EventLogError('ERR_EVENTLOG_TOO_LARGE', `SIPA aggregation items nested deeper than ${maxSipaDepth} levels`, { max: maxSipaDepth });
  }
  const r = new ByteReader(data);
  const items: DecodedSipaItem[] = [];
  while (r.remaining > 0) {
    const type = r.u32le('SIPAEventType');
    const size = r.u32le('SIPAEventSize');
    const value = r.bytesView(size, 'SIPAEventData');
    const name = sipaName(type);
    const common = { type, ...(name ? { name } : {}), size, measured: (type & SipaFlag.notMeasured) === 0 };
    if ((type & SipaFlag.aggregation) !== 0) {
      items.push({ ...common, items: parseSipaItems(value, depth + 1) });
    } else {
      items.push({ ...common, data: Buffer.from(value).toString('hex'), ...(isPrintableUtf16(value) ? { text: utf16leText(value) } : {}) });
    }
  }
  return items;
}
