// DER as Vouch parses it: an Authenticode PKCS#7 ContentInfo (with nested signatures), an X.509
// certificate's fields, and a bare DER value.
import { parseCertificateFields, parseDer } from '../../src/der/index.ts';
import { parseAuthenticodeSignature } from '../../src/secureboot/index.ts';
import { typed } from './typed.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  typed(() => parseDer(data));
  typed(() => parseCertificateFields(data));
  parseAuthenticodeSignature(data);
}
