export { ByteReader } from './reader.ts';
export { ByteWriter } from './writer.ts';
export { toHex, fromHex } from './hex.ts';
export { concatBytes, constantTimeEqual, bytesEqual, utf8 } from './util.ts';
export { BytesError, BytesErrorCode } from './errors.ts';
