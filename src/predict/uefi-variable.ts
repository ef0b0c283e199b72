// UEFI_VARIABLE_DATA (PC Client PFP §10.4.2 / UEFI 2.10): the structure firmware hashes for
// EV_EFI_VARIABLE_DRIVER_CONFIG and EV_EFI_VARIABLE_AUTHORITY events:
//   VariableName (GUID) ‖ UnicodeNameLength (UINT64, characters) ‖ VariableDataLength (UINT64)
//   ‖ UnicodeName (UTF-16LE, no NUL) ‖ VariableData
import { ByteWriter } from '../bytes/index.ts';
import { guidFromString } from '../secureboot/index.ts';

export function uefiVariableData(vendorGuid: string, name: string, data: Uint8Array): Uint8Array {
  const unicodeName = new Uint8Array(Buffer.from(name, 'utf16le'));
  return new ByteWriter(48 + unicodeName.length + data.length)
    .bytes(guidFromString(vendorGuid))
    .u64le(BigInt(name.length))
    .u64le(BigInt(data.length))
    .bytes(unicodeName)
    .bytes(data)
    .finish();
}
