// What shim measures about itself (shim's mok.c / sbat.c, observed on Debian 12's shim 16.1 under
// OVMF): its MOK state into PCR 14 — MokList (the mirrored MokListRT: its built-in certificate as
// an EFI_SIGNATURE_LIST owned by SHIM_LOCK_GUID, plus enrolled MOKs), MokListX (its built-in dbx),
// MokListTrusted (one byte) — and the SbatLevel it applies into PCR 7.
import { ByteReader } from '../bytes/index.ts';
import { EfiGuid, encodeSignatureDatabase, peSectionContent, shimVendorCertificates, type PeImage } from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

export interface ShimDefaults {
  readonly vendorCert?: Uint8Array;
  readonly mokList?: Uint8Array;
  readonly mokListX?: Uint8Array;
  /** shim 15.6+ mirrors MokListTrusted as one byte, 1 unless `mokutil --untrusted-mok` cleared it. */
  readonly mokListTrusted: Uint8Array;
  readonly sbatLevel?: Uint8Array;
}

/** The `.sbatlevel` section is small: { u32 version, u32 previous, u32 latest } + two NUL-terminated CSVs. */
const MAX_SBATLEVEL_SECTION = 64 * 1024;

/**
 * The SBAT level a fresh machine gets from this shim: the "previous" policy of its `.sbatlevel`
 * section (shim's default SbatPolicy), measured without the NUL. Undefined for shims before 15.8.
 */
export function shimSbatLevel(pe: PeImage): Uint8Array | undefined {
  const section = peSectionContent(pe, '.sbatlevel');
  if (section === undefined) return undefined;
  const fail = (why: string): never => {
    throw new PredictError('ERR_PREDICT_ARTIFACT', `shim .sbatlevel section: ${why}`, { field: '.sbatlevel' });
  };
  if (section.length > MAX_SBATLEVEL_SECTION) fail(`${section.length} bytes exceeds ${MAX_SBATLEVEL_SECTION}`);
  try {
    const r = new ByteReader(section);
    r.u32le('version');
    const previous = r.u32le('previous_offset');
    // Offsets count from the end of the version field.
    const start = 4 + previous;
    if (start >= section.length) fail(`previous offset ${previous} is outside the section`);
    const end = section.indexOf(0, start);
    return section.slice(start, end < 0 ? section.length : end);
  } catch (e) {
    if (e instanceof PredictError) throw e;
    return fail((e as Error).message);
  }
}

/** What a shim binary measures by default, read from its `.vendor_cert` and `.sbatlevel` sections. */
export function shimDefaults(pe: PeImage): ShimDefaults {
  const vendor = shimVendorCertificates(pe);
  const sbatLevel = shimSbatLevel(pe);
  const vendorCert = vendor !== undefined && vendor.authorized.length > 0 ? vendor.authorized : undefined;
  return {
    ...(vendorCert ? { vendorCert, mokList: encodeSignatureDatabase([{ type: 'x509', signatures: [{ owner: EfiGuid.shimLock, data: vendorCert }] }]) } : {}),
    ...(vendor !== undefined && vendor.deauthorized.length > 0 ? { mokListX: vendor.deauthorized } : {}),
    mokListTrusted: new Uint8Array([1]),
    ...(sbatLevel ? { sbatLevel } : {}),
  };
}
