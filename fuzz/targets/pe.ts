// PE/COFF images as `vouch secureboot verify`, `vouch pe show` and prediction read them: headers,
// the Authenticode hash ranges and digest, the attribute certificate table and each signature,
// shim's .sbat/.vendor_cert/.sbatlevel sections, and verification against an empty db.
import {
  authenticodeHash,
  parseAuthenticodeSignature,
  parseCertificateTable,
  parsePe,
  peSbat,
  shimSbatLevels,
  shimVendorCertificates,
  verifyImage,
} from '../../src/secureboot/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  const pe = parsePe(data);
  typed(() => authenticodeHash(pe, 'sha256'));
  typed(() => {
    for (const entry of parseCertificateTable(pe)) if (entry.isPkcs7) typed(() => parseAuthenticodeSignature(entry.data));
  });
  typed(() => peSbat(pe));
  typed(() => shimVendorCertificates(pe));
  typed(() => shimSbatLevels(pe));
  verifyImage(pe, { db: [], dbx: [] });
}
