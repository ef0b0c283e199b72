// What shim measures about itself (shim's mok.c / sbat.c, observed on Debian 12's shim 16.1 under
// OVMF): its MOK state into PCR 14 — MokList (the mirrored MokListRT: its built-in certificate as
// an EFI_SIGNATURE_LIST owned by SHIM_LOCK_GUID, plus enrolled MOKs), MokListX (its built-in dbx),
// MokListTrusted (one byte) — and the SbatLevel it applies into PCR 7.
import { isVouchError } from '../errors/index.ts';
import { EfiGuid, encodeSignatureDatabase, shimSbatLevels, shimVendorCertificates, type PeImage } from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

export interface ShimDefaults {
  readonly vendorCert?: Uint8Array;
  readonly mokList?: Uint8Array;
  readonly mokListX?: Uint8Array;
  /** shim 15.6+ mirrors MokListTrusted as one byte, 1 unless `mokutil --untrusted-mok` cleared it. */
  readonly mokListTrusted: Uint8Array;
  readonly sbatLevel?: Uint8Array;
}

/**
 * The SBAT level a fresh machine gets from this shim: the "previous" policy of its `.sbatlevel`
 * section (shim's default SbatPolicy), measured without the NUL. Undefined for shims before 15.8.
 */
export function shimSbatLevel(pe: PeImage): Uint8Array | undefined {
  try {
    return shimSbatLevels(pe)?.previous.text;
  } catch (e) {
    if (!isVouchError(e)) throw e;
    throw new PredictError('ERR_PREDICT_ARTIFACT', `shim .sbatlevel section: ${e.message}`, { field: '.sbatlevel', cause: e.code });
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
