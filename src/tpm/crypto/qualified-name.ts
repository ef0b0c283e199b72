/**
 * Qualified Names (TPM 2.0 Library Part 1, 16.6): an object's Name chained with its ancestors',
 * QN = nameAlg ‖ H_nameAlg(QN_parent ‖ Name). TPMS_ATTEST.qualifiedSigner and creation data
 * carry it; a hierarchy's qualified name is its handle.
 */
import { ByteWriter, concatBytes } from '../../bytes/index.ts';
import { TPM_ALG } from '../constants.ts';
import { tpmHash } from '../names.ts';

/** The qualified name of a primary key is computed with the hierarchy handle as parent QN. */
export function hierarchyQualifiedName(hierarchy: number): Uint8Array {
  return new ByteWriter(4).u32(hierarchy).finish();
}

/** QN of an object from its parent's QN and its own Name (whose first two bytes are its nameAlg). */
export function qualifiedName(parentQualifiedName: Uint8Array, name: Uint8Array): Uint8Array {
  const nameAlg = name.length >= 2 ? (name[0]! << 8) | name[1]! : TPM_ALG.NULL;
  return concatBytes(new ByteWriter(2).u16(nameAlg).finish(), tpmHash(nameAlg, parentQualifiedName, name));
}
