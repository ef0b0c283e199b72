/**
 * TPM Names (Part 1, 16): how the TPM identifies an entity in cpHash, policies and credentials.
 * An object's or NV index's Name is nameAlg ‖ H_nameAlg(public area bytes); every other handle
 * (PCR, hierarchy, session) is named by its 4-byte handle value.
 */
import { createHash } from 'node:crypto';
import { ByteWriter, concatBytes } from '../bytes/index.ts';
import { HASH_NODE_NAME, TPM_ALG, TPM_HT, algName } from './constants.ts';
import { TpmError } from './errors.ts';
import type { Sized } from './schema/index.ts';
import type { TPMS_NV_PUBLIC, TPMT_PUBLIC } from './structures.ts';

/** H_alg(data...) for a TPM hash algorithm id. */
export function tpmHash(alg: number, ...parts: readonly Uint8Array[]): Uint8Array {
  const name = HASH_NODE_NAME[alg];
  if (!name) throw new TpmError('ERR_TPM_UNSUPPORTED', `hash ${algName(alg)} is not supported`, { alg });
  const h = createHash(name);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function digestName(nameAlg: number, publicBytes: Uint8Array): Uint8Array {
  if (nameAlg === TPM_ALG.NULL) return new Uint8Array(0);
  return concatBytes(new ByteWriter(2).u16(nameAlg).finish(), tpmHash(nameAlg, publicBytes));
}

/** Name of an object from the TPM2B_PUBLIC bytes as received (never a re-encoding). */
export function objectName(pub: Sized<TPMT_PUBLIC>): Uint8Array {
  return digestName(pub.value.nameAlg, pub.bytes);
}

/** Name of an NV index from its TPMS_NV_PUBLIC bytes. */
export function nvName(pub: Sized<TPMS_NV_PUBLIC>): Uint8Array {
  return digestName(pub.value.nameAlg, pub.bytes);
}

/** The handle-valued Name of PCRs, permanent handles and sessions; undefined for objects/NV. */
export function handleName(handle: number): Uint8Array | undefined {
  const type = handle >>> 24;
  if (type === TPM_HT.NV_INDEX || type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT) return undefined;
  return new ByteWriter(4).u32(handle).finish();
}
