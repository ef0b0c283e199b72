// Reads the variables of an edk2 authenticated variable store, the NV part of an OVMF_VARS.fd
// (edk2 MdeModulePkg/Include/Guid/VariableFormat.h, PI spec vol. 3 §3.2.1 firmware volume header).
// Prediction needs the exact bytes the firmware will measure for SecureBoot, PK, KEK, db and dbx,
// and a test VM's keys live in such a file (Debian's OVMF_VARS_4M.snakeoil.fd).
import { ByteReader } from '../bytes/index.ts';
import { guidToString } from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

/** An OVMF_VARS image is 128 KiB to 4 MiB; refuse anything far larger before copying. */
export const MAX_VARSTORE_SIZE = 64 * 1024 * 1024;
/** Variable names are short; edk2 caps a whole variable at PcdMaxVariableSize (64 KiB on OVMF). */
export const MAX_VARIABLE_NAME_BYTES = 1024;
export const MAX_VARIABLE_DATA_BYTES = 1024 * 1024;

const FV_SIGNATURE = 0x4856465f; // "_FVH" read little-endian
const VARIABLE_STORE_GUIDS = new Set([
  'aaf32c78-947b-439a-a180-2e144ec37792', // gEfiAuthenticatedVariableGuid
  'ddcf3616-3275-4164-98b6-fe85707ffe7d', // gEfiVariableGuid (headers without the auth fields)
]);
const AUTHENTICATED_STORE_GUID = 'aaf32c78-947b-439a-a180-2e144ec37792';
const VARIABLE_START_ID = 0x55aa;
/** VAR_ADDED with every other state bit still erased (1): the live copy of a variable. */
const VAR_ADDED = 0x3f;
/** VAR_ADDED & VAR_IN_DELETED_TRANSITION: a copy being replaced; live only if no VAR_ADDED copy exists. */
const VAR_IN_DELETED_TRANSITION = 0x3e;

export interface StoredVariable {
  readonly vendorGuid: string;
  readonly name: string;
  readonly attributes: number;
  readonly data: Uint8Array;
}

function malformed(message: string, offset: number): PredictError {
  return new PredictError('ERR_PREDICT_VARSTORE', `variable store at offset ${offset}: ${message}`, { offset });
}

/**
 * The live variables of an OVMF/edk2 variable store (a whole VARS.fd: firmware volume header,
 * then VARIABLE_STORE_HEADER, then 4-byte aligned variable headers).
 *
 * @example parseVariableStore(await readFile('/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd')).find((v) => v.name === 'db')
 */
export function parseVariableStore(bytes: Uint8Array): StoredVariable[] {
  if (bytes.length > MAX_VARSTORE_SIZE) throw malformed(`${bytes.length} bytes exceeds maximum ${MAX_VARSTORE_SIZE}`, 0);
  try {
    const fv = new ByteReader(bytes);
    fv.skip(40, 'EFI_FIRMWARE_VOLUME_HEADER.ZeroVector+FileSystemGuid+FvLength');
    if (fv.u32le('Signature') !== FV_SIGNATURE) throw malformed('no _FVH firmware volume signature', 40);
    fv.skip(4, 'Attributes');
    const headerLength = fv.u16le('HeaderLength');
    if (headerLength < 56 || headerLength > bytes.length) throw malformed(`firmware volume HeaderLength ${headerLength} out of range`, 48);

    const store = new ByteReader(bytes, headerLength);
    const storeGuid = guidToString(store.bytesView(16, 'VARIABLE_STORE_HEADER.Signature'));
    if (!VARIABLE_STORE_GUIDS.has(storeGuid)) throw malformed(`unknown variable store signature ${storeGuid}`, headerLength);
    const authenticated = storeGuid === AUTHENTICATED_STORE_GUID;
    const storeSize = store.u32le('VARIABLE_STORE_HEADER.Size');
    if (storeSize < 28 || headerLength + storeSize > bytes.length) throw malformed(`variable store Size ${storeSize} exceeds the file`, headerLength + 16);
    const storeEnd = headerLength + storeSize;
    let offset = headerLength + 28;

    const live: Array<StoredVariable & { readonly state: number }> = [];
    while (offset + 2 <= storeEnd) {
      const r = new ByteReader(bytes, offset, storeEnd);
      // edk2 IsValidVariableHeader: the list ends at the first header without StartId (erased
      // flash, 0xFFFF); the firmware sees no variable past it, so neither does prediction.
      if (r.u16le('StartId') !== VARIABLE_START_ID) break;
      const state = r.u8('State');
      r.skip(1, 'Reserved');
      const attributes = r.u32le('Attributes');
      if (authenticated) r.skip(8 + 16 + 4, 'MonotonicCount+TimeStamp+PubKeyIndex');
      const nameSize = r.u32le('NameSize');
      const dataSize = r.u32le('DataSize');
      const vendorGuid = guidToString(r.bytesView(16, 'VendorGuid'));
      if (nameSize > MAX_VARIABLE_NAME_BYTES || nameSize % 2 !== 0) throw malformed(`variable NameSize ${nameSize} invalid`, offset);
      if (dataSize > MAX_VARIABLE_DATA_BYTES) throw malformed(`variable DataSize ${dataSize} exceeds maximum ${MAX_VARIABLE_DATA_BYTES}`, offset);
      const nameBytes = r.bytesView(nameSize, 'Name');
      const data = r.take(dataSize, MAX_VARIABLE_DATA_BYTES, 'Data');
      const name = Buffer.from(nameBytes.buffer, nameBytes.byteOffset, nameBytes.byteLength).toString('utf16le').replace(/\0+$/, '');
      if (state === VAR_ADDED || state === VAR_IN_DELETED_TRANSITION) live.push({ vendorGuid, name, attributes, data, state });
      offset = (r.offset + 3) & ~3;
    }
    // A variable caught mid-update has two copies; the VAR_ADDED one wins (edk2 FindVariableEx).
    return live
      .filter((v) => v.state === VAR_ADDED || !live.some((w) => w !== v && w.state === VAR_ADDED && w.name === v.name && w.vendorGuid === v.vendorGuid))
      .map(({ vendorGuid, name, attributes, data }) => ({ vendorGuid, name, attributes, data }));
  } catch (e) {
    if (e instanceof PredictError) throw e;
    // ByteReader and GUID errors carry the offset; report them under this area's one code.
    const offset = (e as { details?: { offset?: number } }).details?.offset ?? 0;
    throw new PredictError('ERR_PREDICT_VARSTORE', `variable store truncated or malformed: ${(e as Error).message}`, { offset });
  }
}
