/**
 * NV commands (Part 3, 31): DefineSpace, UndefineSpace, Write, Read, Extend, Increment, ReadPublic,
 * and TPM2_PolicyNV (23.9), which reads an index. Ordinary, counter and extend indices; access
 * follows TPMA_NV (index auth or policy, owner, platform) with the reference implementation's codes
 * (TPM_RC_NV_AUTHORIZATION, _NV_LOCKED, _NV_RANGE, _NV_UNINITIALIZED).
 */
import * as C from '../commands.ts';
import { HASH_SIZE, TPM_EO, TPM_HT, TPM_NT as NT, TPM_RH } from '../constants.ts';
import { nvName, tpmHash } from '../names.ts';
import { policyNv } from '../policy.ts';
import { TPMA_NV } from '../structures.ts';
import { MAX_NV_INDICES, NV_BUFFER_MAX, NV_INDEX_MAX, nvAttributes, on, type AuthKind, type Call, type Handler } from './model.ts';
import { fail, failHandle, failParam } from './rc.ts';
import type { SoftwareTpm } from './simulator.ts';
import type { NvIndexState } from './state.ts';

/** A counter index holds one UINT64 (Part 2, 13.4: TPM_NT_COUNTER). */
const COUNTER_SIZE = 8;

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

/** An index a read (NV_Read, PolicyNV) may use: authorized, not read-locked, written — in the reference's order. */
function readableIndex(tpm: SoftwareTpm, h: { authHandle: number; nvIndex: number }, call: Call): NvIndexState {
  const { index, a } = accessIndex(tpm, h, call, 'read');
  if (a.readLocked) fail('NV_LOCKED', 'the index is read-locked');
  if (!a.written) fail('NV_UNINITIALIZED', 'the index has not been written');
  return index;
}

const counterValue = (index: NvIndexState): bigint => new DataView(index.data.buffer, index.data.byteOffset).getBigUint64(0);

/** Unsigned big-endian comparison of two equal-length byte strings: <0, 0, >0. */
function compareUnsigned(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Two's-complement comparison: a differing sign bit decides, else the unsigned order does. */
function compareSigned(a: Uint8Array, b: Uint8Array): number {
  const signA = a.length > 0 && a[0]! >= 0x80;
  const signB = b.length > 0 && b[0]! >= 0x80;
  if (signA !== signB) return signA ? -1 : 1;
  return compareUnsigned(a, b);
}

/** PolicyNV's condition (the reference's PolicySptCheckCondition): NV bytes `a` against operandB `b`. */
function conditionHolds(operation: number, a: Uint8Array, b: Uint8Array): boolean {
  switch (operation) {
    case TPM_EO.EQ:
      return compareUnsigned(a, b) === 0;
    case TPM_EO.NEQ:
      return compareUnsigned(a, b) !== 0;
    case TPM_EO.SIGNED_GT:
      return compareSigned(a, b) > 0;
    case TPM_EO.UNSIGNED_GT:
      return compareUnsigned(a, b) > 0;
    case TPM_EO.SIGNED_LT:
      return compareSigned(a, b) < 0;
    case TPM_EO.UNSIGNED_LT:
      return compareUnsigned(a, b) < 0;
    case TPM_EO.SIGNED_GE:
      return compareSigned(a, b) >= 0;
    case TPM_EO.UNSIGNED_GE:
      return compareUnsigned(a, b) >= 0;
    case TPM_EO.SIGNED_LE:
      return compareSigned(a, b) <= 0;
    case TPM_EO.UNSIGNED_LE:
      return compareUnsigned(a, b) <= 0;
    case TPM_EO.BITSET:
      return a.every((x, i) => (x & b[i]!) === b[i]);
    case TPM_EO.BITCLEAR:
      return a.every((x, i) => (x & b[i]!) === 0);
    default:
      return failParam('VALUE', 3, `operation 0x${operation.toString(16)} is no TPM_EO`);
  }
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
    if (a.nt !== NT.ORDINARY && a.nt !== NT.COUNTER && a.nt !== NT.EXTEND)
      failParam('ATTRIBUTES', 2, 'only ordinary, counter and extend indices are implemented');
    if (a.nt === NT.EXTEND && pub.dataSize !== digest) failParam('SIZE', 2, 'an extend index holds one nameAlg digest');
    if (a.nt === NT.COUNTER && pub.dataSize !== COUNTER_SIZE) failParam('SIZE', 2, `a counter index holds ${COUNTER_SIZE} bytes`);
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
    // A counter defined later starts above every counter deleted before it: deleting and
    // redefining a counter can never roll it back (Part 1, 37.2.4; the reference's NvDeleteIndex).
    if (a.nt === NT.COUNTER && a.written && counterValue(index) > tpm.state.nvMaxCounter) tpm.state.nvMaxCounter = counterValue(index);
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
  on(C.NV_Increment, (tpm, h, _p, call) => {
    const index = indexOf(tpm, h.nvIndex, 2);
    if (nvAttributes(index).nt !== NT.COUNTER) failHandle('ATTRIBUTES', 2, 'NV_Increment on an index that is not a counter');
    const { a } = accessIndex(tpm, h, call, 'write');
    if (a.writeLocked) fail('NV_LOCKED', 'the index is write-locked');
    // A counter's first increment starts from the largest value any deleted counter reached.
    const next = (a.written ? counterValue(index) : tpm.state.nvMaxCounter) + 1n;
    new DataView(index.data.buffer, index.data.byteOffset).setBigUint64(0, next);
    markWritten(tpm, index, a);
    return {};
  }),
  on(C.NV_Read, (tpm, h, p, call) => {
    const index = readableIndex(tpm, h, call);
    if (p.size > NV_BUFFER_MAX) failParam('VALUE', 1, `more than TPM_PT_NV_BUFFER_MAX (${NV_BUFFER_MAX}) bytes`);
    if (p.offset + p.size > index.dataSize) fail('NV_RANGE', `reading ${p.size} bytes at ${p.offset} exceeds the index's ${index.dataSize}`);
    return { data: index.data.slice(p.offset, p.offset + p.size) };
  }),
  on(C.PolicyNV, (tpm, h, p, call) => {
    const index = indexOf(tpm, h.nvIndex, 2);
    const s = tpm.policySession(h.policySession, 3);
    if (s.kind === 'policy') {
      readableIndex(tpm, h, call);
      if (p.offset > index.dataSize) failParam('VALUE', 2, `offset ${p.offset} is past the index's ${index.dataSize} bytes`);
      if (index.dataSize - p.offset < p.operandB.length) failParam('SIZE', 1, 'operandB runs past the end of the index');
      if (!conditionHolds(p.operation, index.data.subarray(p.offset, p.offset + p.operandB.length), p.operandB))
        fail('POLICY', 'the NV contents do not satisfy the PolicyNV condition');
    } else if (p.operation > TPM_EO.BITCLEAR) failParam('VALUE', 3, `operation 0x${p.operation.toString(16)} is no TPM_EO`);
    s.policyDigest = policyNv(s.authHash, s.policyDigest, tpm.nameOf(h.nvIndex), p.operandB, p.offset, p.operation);
    return {};
  }),
  on(C.NV_ReadPublic, (tpm, h) => {
    const nvPublic = tpm.nvPublic(indexOf(tpm, h.nvIndex, 1));
    return { nvPublic, nvName: nvName(nvPublic) };
  }),
];
