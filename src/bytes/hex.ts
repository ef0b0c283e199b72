import { BytesError } from './errors.ts';

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses hex (either case, optional `0x`); throws ERR_BYTES_HEX rather than silently dropping characters. */
export function fromHex(hex: string): Uint8Array {
  const s = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new BytesError('ERR_BYTES_HEX', `not a hex string of whole bytes: ${JSON.stringify(hex.length > 40 ? hex.slice(0, 40) + '…' : hex)}`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}
