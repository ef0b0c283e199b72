// The one strict DER layer: a lazy reader, a canonical writer, and the X.509 field walk on top.
export { DerError, DerErrorCode } from './errors.ts';
export {
  parseDer,
  parseDerPadded,
  parseDerPrefix,
  DerCursor,
  DerTag,
  decodeOid,
  decodeInteger,
  decodeSmallInteger,
  MAX_DER_LENGTH,
  MAX_DER_DEPTH,
  MAX_OID_LENGTH,
} from './reader.ts';
export type { DerValue } from './reader.ts';
export {
  encodeTlv,
  encodeSequence,
  encodeSetOf,
  encodeExplicit,
  encodeOid,
  encodeUnsignedInteger,
  encodeSmallInteger,
  encodeBoolean,
  encodeBitString,
  encodeOctetString,
  encodeUtf8String,
  encodeTime,
  DER_NULL,
} from './writer.ts';
export { parseCertificateFields, MAX_CERTIFICATE_EXTENSIONS } from './certificate.ts';
export type { CertificateFields } from './certificate.ts';
