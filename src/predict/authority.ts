// Which signature-database entry authorizes an image: PCR 7's EV_EFI_VARIABLE_AUTHORITY event
// (PC Client PFP §10.4.2 and §3.3.4.8) carries that entry, so predicting PCR 7 means choosing the
// entry the verifier will. src/secureboot's verifyImage walks db the way edk2's
// DxeImageVerificationLib does and names it; this module turns it into event data, and also
// answers for shim's built-in vendor certificate.
import { concatBytes } from '../bytes/index.ts';
import {
  encodeSignatureDatabase,
  guidFromString,
  parseSignatureDatabase,
  verifyImage,
  type EfiSignatureList,
  type SecureBootVerdict,
} from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

export interface AuthorityEntry {
  /** The variable data of the event: EFI_SIGNATURE_DATA (SignatureOwner GUID ‖ SignatureData). */
  readonly signatureData: Uint8Array;
  readonly description: string;
}

function entryOf(verdict: SecureBootVerdict): AuthorityEntry | undefined {
  const a = verdict.authority;
  if (!verdict.verified || a === undefined) return undefined;
  const data = a.type === 'x509' ? a.certificate : 'digest' in a ? a.digest : 'data' in a ? a.data : undefined;
  if (data === undefined) return undefined;
  return { signatureData: concatBytes(guidFromString(a.owner), data), description: `${a.type} entry (owner ${a.owner})` };
}

/**
 * The db entry that authorizes `image` under `db`/`dbx`. Throws ERR_PREDICT_NO_AUTHORITY with the
 * verifier's reason when Secure Boot would refuse the image (revoked in dbx, not signed by db):
 * such a boot has no PCR 7 to predict.
 */
export function dbAuthority(image: Uint8Array, db: Uint8Array, dbx: Uint8Array, field: string): AuthorityEntry {
  const verdict = verifyImage(image, { db: parseSignatureDatabase(db), dbx: parseSignatureDatabase(dbx) });
  const entry = entryOf(verdict);
  if (entry) return entry;
  throw new PredictError('ERR_PREDICT_NO_AUTHORITY', `${field}: Secure Boot would refuse this image (${verdict.reason}): ${verdict.message}`, {
    field,
    reason: verdict.reason,
  });
}

/** Whether shim's built-in certificate (DER) authorizes `image`. */
export function vendorCertAuthorizes(image: Uint8Array, vendorCert: Uint8Array): boolean {
  const asDb: EfiSignatureList[] = parseSignatureDatabase(
    encodeSignatureDatabase([{ type: 'x509', signatures: [{ owner: '00000000-0000-0000-0000-000000000000', data: vendorCert }] }]),
  );
  return verifyImage(image, { db: asDb }).verified;
}

/** Whether db authorizes `image` (without throwing). */
export function dbAuthorizes(image: Uint8Array, db: Uint8Array, dbx: Uint8Array): boolean {
  return entryOf(verifyImage(image, { db: parseSignatureDatabase(db), dbx: parseSignatureDatabase(dbx) })) !== undefined;
}
