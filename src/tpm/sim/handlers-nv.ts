/**
 * NV commands (Part 3, 31): DefineSpace, UndefineSpace, Write, Read, Extend, ReadPublic. Ordinary
 * and extend indices; access follows TPMA_NV (index auth or policy, owner, platform) with the
 * reference implementation's codes (TPM_RC_NV_AUTHORIZATION, _NV_LOCKED, _NV_RANGE, _NV_UNINITIALIZED).
 */
import * as C from '../commands.ts';
import { HASH_SIZE, TPM_HT, TPM_RH } from '../constants.ts';
import { nvName, tpmHash } from '../names.ts';
import { TPMA_NV } from '../structures.ts';
import { MAX_NV_INDICES, NV_BUFFER_MAX, NV_INDEX_MAX, nvAttributes, on, type AuthKind, type Call, type Handler } from './model.ts';
import { fail, failHandle, failParam } from './rc.ts';
import type { SoftwareTpm } from './simulator.ts';
import type { NvIndexState } from './state.ts';

const NT = { ORDINARY: 0, EXTEND: 4 } as const;

type NvAttributes = ReturnType<typeof TPMA_NV.make>;

function indexOf(tpm: SoftwareTpm, handle: number, n: number): NvIndexState {
  return tpm.state.nv.get(handle) ?? failHandle('HANDLE', n, `NV index 0x${handle.toString(16)} is not defined`);
}

/** Which authorizations TPMA_NV allows for this access (Part 1, 37.3 and Part 2, 13.4). */
function checkAccess(index: NvIndexState, a: NvAttributes, authHandle: number, kind: AuthKind | undefined, op: 'read' | 'write'): void {
  const read = op === 'read';
  const allowed =
    authHandle === index.nvIndex
      ? kind === 'policy'
        ? read
          ? a.policyRead
          : a.policyWrite
        : read
          ? a.authRead
          : a.authWrite
      : authHandle === TPM_RH.OWNER
        ? read
          ? a.ownerRead
          : a.ownerWrite
        : authHandle === TPM_RH.PLATFORM
          ? read
            ? a.ppRead
            : a.ppWrite
          : false;
  if (!allowed) fail('NV_AUTHORIZATION', `NV index 0x${index.nvIndex.toString(16)} does not allow ${op} with this authorization`);
}

/** The index a read or write names, once its authorization handle may access it. */
function accessIndex(tpm: SoftwareTpm, h: { authHandle: number; nvIndex: number }, call: Call, op: 'read' | 'write'): { index: NvIndexState; a: NvAttributes } {
  const index = indexOf(tpm, h.nvIndex, 2);
  const a = nvAttributes(index);
  checkAccess(index, a, h.authHandle, call.authKinds[0], op);
  return { index, a };
}

function markWritten(tpm: SoftwareTpm, index: NvIndexState, a: NvAttributes): void {
  index.attributeWord = TPMA_NV.toWord({ ...a, written: true });
  tpm.touch();
}

export const nvHandlers: readonly (readonly [number, Handler])[] = [
  on(C.NV_DefineSpace, (tpm, h, p) => {
    if (h.authHandle !== TPM_RH.OWNER && h.authHandle !== TPM_RH.PLATFORM) failHandle('HIERARCHY', 1, 'NV indices are defined by the owner or platform');
    const pub = p.publicInfo.value;
    const a = pub.attributes;
    const digest = HASH_SIZE[pub.nameAlg]!;
    if (pub.nvIndex >>> 24 !== TPM_HT.NV_INDEX) failParam('VALUE', 2, 'nvIndex is not an NV handle');
    if (p.auth.length > digest) failParam('SIZE', 1, 'auth is longer than a nameAlg digest');
    if (pub.authPolicy.length !== 0 && pub.authPolicy.length !== digest) failParam('SIZE', 2, 'authPolicy must be empty or one nameAlg digest');
    if (pub.dataSize > NV_INDEX_MAX) failParam('SIZE', 2, `dataSize above TPM_PT_NV_INDEX_MAX (${NV_INDEX_MAX})`);
    if (a.nt !== NT.ORDINARY && a.nt !== NT.EXTEND) failParam('ATTRIBUTES', 2, 'only ordinary and extend indices are implemented');
    if (a.nt === NT.EXTEND && pub.dataSize !== digest) failParam('SIZE', 2, 'an extend index holds one nameAlg digest');
    if (a.written || a.readLocked || a.writeLocked) failParam('ATTRIBUTES', 2, 'written/readLocked/writeLocked cannot be set by DefineSpace');
    if (a.platformCreate !== (h.authHandle === TPM_RH.PLATFORM)) failParam('ATTRIBUTES', 2, 'platformCreate must match the authorizing hierarchy');
    if (!(a.ppRead || a.ownerRead || a.authRead || a.policyRead) || !(a.ppWrite || a.ownerWrite || a.authWrite || a.policyWrite))
      failParam('ATTRIBUTES', 2, 'an index needs a read and a write authorization');
    if (tpm.state.nv.has(pub.nvIndex)) fail('NV_DEFINED', `NV index 0x${pub.nvIndex.toString(16)} is already defined`);
    if (tpm.state.nv.size >= MAX_NV_INDICES) fail('NV_SPACE', 'no room for another NV index');
    tpm.state.nv.set(pub.nvIndex, {
      nvIndex: pub.nvIndex,
      nameAlg: pub.nameAlg,
      attributeWord: TPMA_NV.toWord(a),
      authPolicy: pub.authPolicy,
      dataSize: pub.dataSize,
      authValue: p.auth,
      data: new Uint8Array(pub.dataSize),
    });
    tpm.touch();
    return {};
  }),
  on(C.NV_UndefineSpace, (tpm, h) => {
    const index = indexOf(tpm, h.nvIndex, 2);
    const a = nvAttributes(index);
    if (a.policyDelete) failHandle('ATTRIBUTES', 2, 'a policyDelete index is removed with NV_UndefineSpaceSpecial');
    // The owner deletes only owner indices; the platform may delete any (Part 3, 31.4.2).
    if (a.platformCreate && h.authHandle === TPM_RH.OWNER) fail('NV_AUTHORIZATION', 'the owner cannot delete an index the platform defined');
    tpm.state.nv.delete(h.nvIndex);
    tpm.touch();
    return {};
  }),
  on(C.NV_Write, (tpm, h, p, call) => {
    const { index, a } = accessIndex(tpm, h, call, 'write');
    // The reference answers this one without a handle number.
    if (a.nt !== NT.ORDINARY) fail('ATTRIBUTES', 'NV_Write on an index that is not ordinary (use NV_Extend)');
    if (a.writeLocked) fail('NV_LOCKED', 'the index is write-locked');
    if (p.data.length > NV_BUFFER_MAX) failParam('SIZE', 1, `more than TPM_PT_NV_BUFFER_MAX (${NV_BUFFER_MAX}) bytes`);
    if (p.offset + p.data.length > index.dataSize) fail('NV_RANGE', `writing ${p.data.length} bytes at ${p.offset} exceeds the index's ${index.dataSize}`);
    if (a.writeAll && (p.offset !== 0 || p.data.length !== index.dataSize)) fail('NV_RANGE', 'a writeAll index is written whole');
    index.data.set(p.data, p.offset);
    markWritten(tpm, index, a);
    return {};
  }),
  on(C.NV_Extend, (tpm, h, p, call) => {
    const { index, a } = accessIndex(tpm, h, call, 'write');
    if (a.nt !== NT.EXTEND) failHandle('ATTRIBUTES', 2, 'NV_Extend on an index that is not an extend index');
    if (a.writeLocked) fail('NV_LOCKED', 'the index is write-locked');
    index.data = tpmHash(index.nameAlg, index.data, p.data);
    markWritten(tpm, index, a);
    return {};
  }),
  on(C.NV_Read, (tpm, h, p, call) => {
    const { index, a } = accessIndex(tpm, h, call, 'read');
    if (a.readLocked) fail('NV_LOCKED', 'the index is read-locked');
    if (!a.written) fail('NV_UNINITIALIZED', 'the index has not been written');
    if (p.size > NV_BUFFER_MAX) failParam('VALUE', 1, `more than TPM_PT_NV_BUFFER_MAX (${NV_BUFFER_MAX}) bytes`);
    if (p.offset + p.size > index.dataSize) fail('NV_RANGE', `reading ${p.size} bytes at ${p.offset} exceeds the index's ${index.dataSize}`);
    return { data: index.data.slice(p.offset, p.offset + p.size) };
  }),
  on(C.NV_ReadPublic, (tpm, h) => {
    const nvPublic = tpm.nvPublic(indexOf(tpm, h.nvIndex, 1));
    return { nvPublic, nvName: nvName(nvPublic) };
  }),
];
