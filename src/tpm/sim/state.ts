/**
 * What the software TPM keeps across power cycles (its "NV memory"): hierarchy seeds and proofs,
 * hierarchy auth values, NV indices, persistent objects, the clock and reset counters, and the RSA
 * primaries already derived (deriving an RSA primary from its seed costs a prime search).
 * PCRs, loaded objects and sessions are volatile and are not here, as on a real TPM.
 *
 * The file is JSON with hex strings, written to a temporary file that is fsynced, renamed over the
 * old one, and the directory fsynced: a crash or power loss at any point leaves either the previous
 * state or the new one, never a mix or an empty file. Loading checks every field (a state file
 * edited by hand or cut short is ERR_TPM_SIM_STATE, not a TPM that later answers TPM_RC_FAILURE).
 */
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fromHex, toHex } from '../../bytes/index.ts';
import { makeDirectory } from '../../io/index.ts';
import { HASH_SIZE, TPM_HT, TPM_RH } from '../constants.ts';
import { decode } from '../schema/index.ts';
import { TPMT_PUBLIC, TPMT_SENSITIVE } from '../structures.ts';
import { TpmSimError } from './errors.ts';
import { MAX_CACHED_RSA_PRIMARIES, MAX_NV_INDICES, MAX_PERSISTENT_OBJECTS, NV_INDEX_MAX, RSA_KEY_BITS } from './model.ts';

export type HierarchyName = 'owner' | 'endorsement' | 'platform';

export interface NvIndexState {
  /** The TPMS_NV_PUBLIC fields (attributes include `written`). */
  nvIndex: number;
  nameAlg: number;
  attributeWord: number;
  authPolicy: Uint8Array;
  dataSize: number;
  authValue: Uint8Array;
  data: Uint8Array;
}

export interface PersistentObjectState {
  handle: number;
  /** TPMT_PUBLIC bytes (the contents of TPM2B_PUBLIC). */
  publicArea: Uint8Array;
  /** TPMT_SENSITIVE bytes. */
  sensitive: Uint8Array;
  hierarchy: number;
  qualifiedName: Uint8Array;
}

export interface PersistentState {
  seeds: Record<HierarchyName, Uint8Array>;
  /** Secret values that key tickets (creation, verified, hashcheck) per hierarchy. */
  proofs: Record<HierarchyName, Uint8Array>;
  auth: Record<HierarchyName | 'lockout', Uint8Array>;
  nv: Map<number, NvIndexState>;
  persistent: Map<number, PersistentObjectState>;
  clockMs: bigint;
  /** Dictionary-attack counter: authorization failures on DA-protected entities not yet forgiven. */
  failedTries: number;
  /** Clock (ms) of the last failure or forgiveness step: one try is forgiven per recovery interval. */
  failureClockMs: bigint;
  resetCount: number;
  restartCount: number;
  /** The largest value a deleted NV counter held: a counter defined later starts above it. */
  nvMaxCounter: bigint;
  /** Derivation key (hex) → RSA prime of that primary. */
  rsaPrimaries: Map<string, Uint8Array>;
}

const VERSION = 1;
/**
 * The largest state file loaded: full NV (64 indices of 2048 bytes), 16 persistent objects and the
 * RSA primaries cache as hex come to well under 1 MiB; anything bigger is not a state file.
 */
const MAX_STATE_FILE_BYTES = 4 << 20;
const OBJECT_HIERARCHIES: readonly number[] = [TPM_RH.OWNER, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM];
/** modulus ‖ prime of an RSA primary: 1.5 × the key size in bytes. */
const RSA_CACHE_ENTRY_BYTES: ReadonlySet<number> = new Set(RSA_KEY_BITS.map((bits) => (bits / 8) * 1.5));
const HIERARCHIES: readonly HierarchyName[] = ['owner', 'endorsement', 'platform'];

export function newState(random: (n: number) => Uint8Array): PersistentState {
  const perHierarchy = (): Record<HierarchyName, Uint8Array> => ({ owner: random(64), endorsement: random(64), platform: random(64) });
  return {
    seeds: perHierarchy(),
    proofs: perHierarchy(),
    auth: { owner: new Uint8Array(0), endorsement: new Uint8Array(0), platform: new Uint8Array(0), lockout: new Uint8Array(0) },
    nv: new Map(),
    persistent: new Map(),
    clockMs: 0n,
    failedTries: 0,
    failureClockMs: 0n,
    resetCount: 0,
    restartCount: 0,
    nvMaxCounter: 0n,
    rsaPrimaries: new Map(),
  };
}

function serialize(s: PersistentState): string {
  const hexRecord = (r: Readonly<Record<string, Uint8Array>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toHex(v)]));
  return JSON.stringify({
    version: VERSION,
    seeds: hexRecord(s.seeds),
    proofs: hexRecord(s.proofs),
    auth: hexRecord(s.auth),
    nv: [...s.nv.values()].map((n) => ({ ...n, authPolicy: toHex(n.authPolicy), authValue: toHex(n.authValue), data: toHex(n.data) })),
    persistent: [...s.persistent.values()].map((o) => ({
      ...o,
      publicArea: toHex(o.publicArea),
      sensitive: toHex(o.sensitive),
      qualifiedName: toHex(o.qualifiedName),
    })),
    clockMs: s.clockMs.toString(),
    failedTries: s.failedTries,
    failureClockMs: s.failureClockMs.toString(),
    resetCount: s.resetCount,
    restartCount: s.restartCount,
    nvMaxCounter: s.nvMaxCounter.toString(),
    rsaPrimaries: Object.fromEntries([...s.rsaPrimaries].map(([k, v]) => [k, toHex(v)])),
  });
}

function bad(path: string, why: string): never {
  throw new TpmSimError('ERR_TPM_SIM_STATE', `software TPM state ${path}: ${why}`, { path });
}

function parse(path: string, text: string): PersistentState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return bad(path, `not JSON (${(e as Error).message})`);
  }
  // A document that is no object has no version either.
  const j = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (j.version !== VERSION) bad(path, `unsupported version ${String(j.version)} (expected ${VERSION})`);
  const hex = (v: unknown, what: string): Uint8Array => {
    if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/.test(v)) bad(path, `${what} is not a hex string`);
    return fromHex(v);
  };
  const int = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) bad(path, `${what} is not a 32-bit unsigned integer`);
    return v;
  };
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(path, `${what} is not an object`);
    return v as Record<string, unknown>;
  };
  const arr = (v: unknown, what: string): unknown[] => (Array.isArray(v) ? v : bad(path, `${what} is not an array`));
  const perHierarchy = (v: unknown, what: string, extra: readonly string[] = []) => {
    const o = obj(v, what);
    return Object.fromEntries([...HIERARCHIES, ...extra].map((h) => [h, hex(o[h], `${what}.${h}`)]));
  };
  const nv = new Map<number, NvIndexState>();
  for (const [i, raw] of arr(j.nv, 'nv').entries()) {
    const n = obj(raw, `nv[${i}]`);
    const entry: NvIndexState = {
      nvIndex: int(n.nvIndex, `nv[${i}].nvIndex`),
      nameAlg: int(n.nameAlg, `nv[${i}].nameAlg`),
      attributeWord: int(n.attributeWord, `nv[${i}].attributeWord`),
      authPolicy: hex(n.authPolicy, `nv[${i}].authPolicy`),
      dataSize: int(n.dataSize, `nv[${i}].dataSize`),
      authValue: hex(n.authValue, `nv[${i}].authValue`),
      data: hex(n.data, `nv[${i}].data`),
    };
    const digestSize = HASH_SIZE[entry.nameAlg];
    if (entry.nvIndex >>> 24 !== TPM_HT.NV_INDEX) bad(path, `nv[${i}].nvIndex 0x${entry.nvIndex.toString(16)} is not an NV index handle`);
    if (digestSize === undefined) bad(path, `nv[${i}].nameAlg 0x${entry.nameAlg.toString(16)} is not a hash this TPM implements`);
    if (entry.authPolicy.length !== 0 && entry.authPolicy.length !== digestSize)
      bad(path, `nv[${i}].authPolicy is ${entry.authPolicy.length} bytes (expected 0 or ${digestSize})`);
    if (entry.authValue.length > digestSize) bad(path, `nv[${i}].authValue is longer than a nameAlg digest`);
    if (entry.dataSize > NV_INDEX_MAX) bad(path, `nv[${i}].dataSize ${entry.dataSize} is above ${NV_INDEX_MAX}`);
    if (entry.data.length !== entry.dataSize) bad(path, `nv[${i}] holds ${entry.data.length} bytes but declares ${entry.dataSize}`);
    if (nv.has(entry.nvIndex)) bad(path, `nv[${i}] defines 0x${entry.nvIndex.toString(16)} a second time`);
    nv.set(entry.nvIndex, entry);
  }
  if (nv.size > MAX_NV_INDICES) bad(path, `${nv.size} NV indices (at most ${MAX_NV_INDICES})`);
  const persistent = new Map<number, PersistentObjectState>();
  for (const [i, raw] of arr(j.persistent, 'persistent').entries()) {
    const o = obj(raw, `persistent[${i}]`);
    const entry: PersistentObjectState = {
      handle: int(o.handle, `persistent[${i}].handle`),
      publicArea: hex(o.publicArea, `persistent[${i}].publicArea`),
      sensitive: hex(o.sensitive, `persistent[${i}].sensitive`),
      hierarchy: int(o.hierarchy, `persistent[${i}].hierarchy`),
      qualifiedName: hex(o.qualifiedName, `persistent[${i}].qualifiedName`),
    };
    if (entry.handle >>> 24 !== TPM_HT.PERSISTENT) bad(path, `persistent[${i}].handle 0x${entry.handle.toString(16)} is not a persistent handle`);
    if (!OBJECT_HIERARCHIES.includes(entry.hierarchy))
      bad(path, `persistent[${i}].hierarchy 0x${entry.hierarchy.toString(16)} is not the owner, endorsement or platform hierarchy`);
    if (persistent.has(entry.handle)) bad(path, `persistent[${i}] uses 0x${entry.handle.toString(16)} a second time`);
    // Decoded here so that a damaged object is this error now, not an internal fault when first used.
    try {
      decode(TPMT_PUBLIC, entry.publicArea);
      decode(TPMT_SENSITIVE, entry.sensitive);
    } catch (e) {
      bad(path, `persistent[${i}] (0x${entry.handle.toString(16)}) does not decode: ${(e as Error).message}`);
    }
    persistent.set(entry.handle, entry);
  }
  if (persistent.size > MAX_PERSISTENT_OBJECTS) bad(path, `${persistent.size} persistent objects (at most ${MAX_PERSISTENT_OBJECTS})`);
  const clock = (v: unknown, what: string): bigint =>
    typeof v === 'string' && /^\d{1,19}$/.test(v) ? BigInt(v) : bad(path, `${what} is not a decimal integer`);
  const counter = (v: unknown, what: string): bigint =>
    typeof v === 'string' && /^\d{1,20}$/.test(v) && BigInt(v) < 1n << 64n ? BigInt(v) : bad(path, `${what} is not a 64-bit unsigned integer`);
  const primaries = Object.entries(obj(j.rsaPrimaries, 'rsaPrimaries'));
  if (primaries.length > MAX_CACHED_RSA_PRIMARIES) bad(path, `${primaries.length} cached RSA primaries (at most ${MAX_CACHED_RSA_PRIMARIES})`);
  const rsaPrimaries = new Map(
    primaries.map(([k, v]) => {
      const entry = hex(v, `rsaPrimaries.${k}`);
      if (!/^[0-9a-f]{64}$/.test(k) || !RSA_CACHE_ENTRY_BYTES.has(entry.length))
        bad(path, `rsaPrimaries.${k} is not a derivation key and an RSA modulus ‖ prime`);
      return [k, entry];
    }),
  );
  return {
    seeds: perHierarchy(j.seeds, 'seeds') as Record<HierarchyName, Uint8Array>,
    proofs: perHierarchy(j.proofs, 'proofs') as Record<HierarchyName, Uint8Array>,
    auth: perHierarchy(j.auth, 'auth', ['lockout']) as Record<HierarchyName | 'lockout', Uint8Array>,
    nv,
    persistent,
    clockMs: clock(j.clockMs, 'clockMs'),
    failedTries: int(j.failedTries, 'failedTries'),
    failureClockMs: clock(j.failureClockMs, 'failureClockMs'),
    resetCount: int(j.resetCount, 'resetCount'),
    restartCount: int(j.restartCount, 'restartCount'),
    // Absent in state files from before NV counters: no counter was deleted then.
    nvMaxCounter: j.nvMaxCounter === undefined ? 0n : counter(j.nvMaxCounter, 'nvMaxCounter'),
    rsaPrimaries,
  };
}

/** Loads a state file; undefined when it does not exist yet. */
export async function loadState(path: string): Promise<PersistentState | undefined> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_STATE_FILE_BYTES) bad(path, `is ${size} bytes, more than a state file can be (${MAX_STATE_FILE_BYTES})`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof TpmSimError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return bad(path, `cannot be read: ${(e as Error).message}`);
  }
  return parse(path, text);
}

/** fsync of a directory: makes a rename in it survive a power loss. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let tmpCounter = 0;

/** Writes the state atomically and durably (temporary file in the same directory, fsync, rename, directory fsync). */
export async function saveState(path: string, state: PersistentState): Promise<void> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    // Owner-only, like the file: the state holds the hierarchy seeds.
    await makeDirectory(dir, 0o700);
    await writeFile(tmp, serialize(state), { mode: 0o600, flush: true });
    await rename(tmp, path);
    await syncDirectory(dir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    bad(path, `cannot be written: ${(e as Error).message}`);
  }
}
