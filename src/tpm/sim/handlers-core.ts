/**
 * Start-up, capabilities, randomness, clock, hashing and PCR commands (Part 3, 9, 10, 15, 16, 22, 29, 30).
 */
import * as C from '../commands.ts';
import { HASH_SIZE, TPM_ALG, TPM_CAP, TPM_CC, TPM_ECC_CURVE, TPM_GENERATED_VALUE, TPM_HT, TPM_LIMITS, TPM_PT, TPM_RH, TPM_ST, TPM_SU } from '../constants.ts';
import { tpmHash } from '../names.ts';
import type { Infer } from '../schema/index.ts';
import { TPMA_ALGORITHM, TPMA_CC, type TPML_PCR_SELECTION, type TPMS_CAPABILITY_DATA, type TPMT_HA } from '../structures.ts';
import {
  DA_MAX_TRIES,
  DA_RECOVERY_SECONDS,
  FIRMWARE_VERSION,
  MAX_LOADED_SESSIONS,
  MAX_PERSISTENT_OBJECTS,
  MAX_TRANSIENT_OBJECTS,
  NV_BUFFER_MAX,
  NV_INDEX_MAX,
  PCR_BANKS,
  PCR_COUNT,
  PCRS_WITHOUT_UPDATE_COUNT,
  on,
  type Handler,
} from './model.ts';
import { fail, failHandle, failParam } from './rc.ts';
import type { SoftwareTpm } from './simulator.ts';
import { selectedPcrs } from './pcrs.ts';
import { hashTicket } from './tickets.ts';

const A = TPM_ALG;
/** Up to four ASCII characters packed big-endian, NUL-padded, as TPM_PT_MANUFACTURER and the vendor strings are. */
const ascii = (s: string): number => {
  const padded = s.padEnd(4, '\0');
  let word = 0;
  for (let i = 0; i < padded.length; i++) word = ((word << 8) | padded.charCodeAt(i)) >>> 0;
  return word;
};

/** Algorithms implemented, with their TPMA_ALGORITHM (Part 2, 8.2), ascending by id as GetCapability lists them. */
const ALG_PROPERTIES: readonly [number, Partial<Infer<typeof TPMA_ALGORITHM>>][] = [
  [A.RSA, { asymmetric: true, object: true }],
  [A.SHA1, { hash: true }],
  [A.HMAC, { hash: true, signing: true }],
  [A.AES, { symmetric: true }],
  [A.MGF1, { hash: true, method: true }],
  [A.KEYEDHASH, { hash: true, object: true, signing: true, encrypting: true }],
  [A.XOR, { symmetric: true, hash: true }],
  [A.SHA256, { hash: true }],
  [A.SHA384, { hash: true }],
  [A.RSASSA, { asymmetric: true, signing: true }],
  [A.RSAES, { asymmetric: true, encrypting: true }],
  [A.RSAPSS, { asymmetric: true, signing: true }],
  [A.OAEP, { asymmetric: true, encrypting: true }],
  [A.ECDSA, { asymmetric: true, signing: true, method: true }],
  [A.ECDH, { asymmetric: true, method: true }],
  [A.KDF1_SP800_56A, { hash: true, method: true }],
  [A.KDF1_SP800_108, { hash: true, method: true }],
  [A.ECC, { asymmetric: true, object: true }],
  [A.SYMCIPHER, { object: true }],
  [A.CFB, { symmetric: true, encrypting: true }],
];

/** TPM_PT values (Part 2, 6.13) of a TPM like swtpm's reference build: 3 object slots, 1024-byte NV buffer. */
function properties(tpm: SoftwareTpm): Map<number, number> {
  const commandCount = tpm.implementedCommands().length;
  return new Map<number, number>([
    [TPM_PT.FAMILY_INDICATOR, ascii('2.0')],
    [TPM_PT.LEVEL, 0],
    [TPM_PT.REVISION, 159],
    [TPM_PT.DAY_OF_YEAR, 1],
    [TPM_PT.YEAR, 2026],
    [TPM_PT.MANUFACTURER, ascii('VCH')],
    [TPM_PT.VENDOR_STRING_1, ascii('Vouc')],
    [TPM_PT.VENDOR_STRING_2, ascii('h so')],
    [TPM_PT.VENDOR_STRING_3, ascii('ft T')],
    [TPM_PT.VENDOR_STRING_4, ascii('PM')],
    [TPM_PT.VENDOR_TPM_TYPE, 1],
    [TPM_PT.FIRMWARE_VERSION_1, FIRMWARE_VERSION.high],
    [TPM_PT.FIRMWARE_VERSION_2, FIRMWARE_VERSION.low],
    [TPM_PT.INPUT_BUFFER, NV_BUFFER_MAX],
    [TPM_PT.HR_TRANSIENT_MIN, MAX_TRANSIENT_OBJECTS],
    [TPM_PT.HR_PERSISTENT_MIN, MAX_PERSISTENT_OBJECTS],
    [TPM_PT.HR_LOADED_MIN, MAX_LOADED_SESSIONS],
    [TPM_PT.ACTIVE_SESSIONS_MAX, 64],
    [TPM_PT.PCR_COUNT, PCR_COUNT],
    [TPM_PT.PCR_SELECT_MIN, 3],
    [TPM_PT.CONTEXT_GAP_MAX, 0xffff],
    [TPM_PT.NV_COUNTERS_MAX, 0],
    [TPM_PT.NV_INDEX_MAX, NV_INDEX_MAX],
    [TPM_PT.MEMORY, 0],
    [TPM_PT.CLOCK_UPDATE, 4096],
    [TPM_PT.CONTEXT_HASH, A.SHA256],
    [TPM_PT.CONTEXT_SYM, A.AES],
    [TPM_PT.CONTEXT_SYM_SIZE, 256],
    [TPM_PT.ORDERLY_COUNT, 255],
    [TPM_PT.MAX_COMMAND_SIZE, 4096],
    [TPM_PT.MAX_RESPONSE_SIZE, 4096],
    [TPM_PT.MAX_DIGEST, 48],
    [TPM_PT.MAX_OBJECT_CONTEXT, 2048],
    [TPM_PT.MAX_SESSION_CONTEXT, 256],
    [TPM_PT.PS_FAMILY_INDICATOR, 1],
    [TPM_PT.PS_LEVEL, 0],
    [TPM_PT.PS_REVISION, 0x100],
    [TPM_PT.PS_DAY_OF_YEAR, 0],
    [TPM_PT.PS_YEAR, 0],
    [TPM_PT.SPLIT_MAX, 0],
    [TPM_PT.TOTAL_COMMANDS, commandCount],
    [TPM_PT.LIBRARY_COMMANDS, commandCount],
    [TPM_PT.VENDOR_COMMANDS, 0],
    [TPM_PT.NV_BUFFER_MAX, NV_BUFFER_MAX],
    [TPM_PT.MODES, 0],
    [TPM_PT.MAX_CAP_BUFFER, 1024],
    [TPM_PT.PERMANENT, 0],
    // phEnable | shEnable | ehEnable | phEnableNV | orderly
    [TPM_PT.STARTUP_CLEAR, 0x8000000f],
    [TPM_PT.HR_NV_INDEX, tpm.state.nv.size],
    [TPM_PT.HR_LOADED, tpm.objects.size],
    [TPM_PT.HR_LOADED_AVAIL, MAX_TRANSIENT_OBJECTS - tpm.objects.size],
    [TPM_PT.HR_ACTIVE, tpm.sessions.size],
    [TPM_PT.HR_ACTIVE_AVAIL, MAX_LOADED_SESSIONS - tpm.sessions.size],
    [TPM_PT.HR_TRANSIENT_AVAIL, MAX_TRANSIENT_OBJECTS - tpm.objects.size],
    [TPM_PT.HR_PERSISTENT, tpm.state.persistent.size],
    [TPM_PT.HR_PERSISTENT_AVAIL, MAX_PERSISTENT_OBJECTS - tpm.state.persistent.size],
    [TPM_PT.NV_COUNTERS, 0],
    [TPM_PT.NV_COUNTERS_AVAIL, 0],
    [TPM_PT.ALGORITHM_SET, 0],
    [TPM_PT.LOADED_CURVES, 2],
    [TPM_PT.LOCKOUT_COUNTER, tpm.state.failedTries],
    [TPM_PT.MAX_AUTH_FAIL, DA_MAX_TRIES],
    [TPM_PT.LOCKOUT_INTERVAL, DA_RECOVERY_SECONDS],
    [TPM_PT.LOCKOUT_RECOVERY, DA_RECOVERY_SECONDS],
    [TPM_PT.NV_WRITE_RECOVERY, 0],
    [TPM_PT.AUDIT_COUNTER_0, 0],
    [TPM_PT.AUDIT_COUNTER_1, 0],
  ]);
}

/** The entries ≥ `first`, at most `count`, and whether more remain (GetCapability paging). */
function page<T>(sorted: readonly T[], key: (t: T) => number, first: number, count: number): { moreData: boolean; items: T[] } {
  const from = sorted.filter((t) => key(t) >= first);
  const max = Math.max(0, Math.min(count, 254));
  return { moreData: from.length > max, items: from.slice(0, max) };
}

function handles(tpm: SoftwareTpm, type: number): number[] {
  switch (type) {
    case TPM_HT.PCR:
      return Array.from({ length: PCR_COUNT }, (_, i) => i);
    case TPM_HT.NV_INDEX:
      return [...tpm.state.nv.keys()];
    case TPM_HT.HMAC_SESSION:
    case TPM_HT.POLICY_SESSION:
      return [...tpm.sessions.keys()].filter((h) => h >>> 24 === type);
    case TPM_HT.PERMANENT:
      return [TPM_RH.OWNER, TPM_RH.NULL, TPM_RH.LOCKOUT, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM];
    case TPM_HT.TRANSIENT:
      return [...tpm.objects.keys()];
    case TPM_HT.PERSISTENT:
      return [...tpm.state.persistent.keys()];
    default:
      return [];
  }
}

function capability(tpm: SoftwareTpm, cap: number, property: number, count: number): { moreData: boolean; capabilityData: TPMS_CAPABILITY_DATA } {
  switch (cap) {
    case TPM_CAP.ALGS: {
      const { moreData, items } = page(ALG_PROPERTIES, ([alg]) => alg, property, count);
      return { moreData, capabilityData: { capability: cap, data: items.map(([alg, p]) => ({ alg, algProperties: TPMA_ALGORITHM.make(p) })) } };
    }
    case TPM_CAP.HANDLES: {
      const sorted = handles(tpm, property >>> 24).sort((a, b) => a - b);
      const { moreData, items } = page(sorted, (h) => h, property, count);
      return { moreData, capabilityData: { capability: cap, data: items } };
    }
    case TPM_CAP.COMMANDS: {
      const codes = [...tpm.implementedCommands()].sort((a, b) => a - b);
      const { moreData, items } = page(codes, (c) => c, property, count);
      const data = items.map((code) => {
        const schema = C.commandByCode(code);
        return TPMA_CC.make({
          commandIndex: code & 0xffff,
          cHandles: schema.handles.length,
          rHandle: schema.responseHandles.length > 0,
          flushed: code === TPM_CC.FlushContext,
        });
      });
      return { moreData, capabilityData: { capability: cap, data } };
    }
    case TPM_CAP.PCRS:
      return { moreData: false, capabilityData: { capability: cap, data: PCR_BANKS.map((hash) => ({ hash, pcrSelect: new Uint8Array([0xff, 0xff, 0xff]) })) } };
    case TPM_CAP.TPM_PROPERTIES: {
      const all = [...properties(tpm)].map(([p, value]) => ({ property: p, value })).sort((a, b) => a.property - b.property);
      const { moreData, items } = page(all, (p) => p.property, property, count);
      return { moreData, capabilityData: { capability: cap, data: items } };
    }
    case TPM_CAP.ECC_CURVES: {
      const { moreData, items } = page([TPM_ECC_CURVE.NIST_P256, TPM_ECC_CURVE.NIST_P384], (c) => c, property, count);
      return { moreData, capabilityData: { capability: cap, data: items } };
    }
    case TPM_CAP.PP_COMMANDS:
    case TPM_CAP.AUDIT_COMMANDS:
    case TPM_CAP.PCR_PROPERTIES:
    case TPM_CAP.AUTH_POLICIES:
      return { moreData: false, capabilityData: { capability: cap, data: [] } };
    default:
      return failParam('VALUE', 1, `capability 0x${cap.toString(16)} is not implemented`);
  }
}

/** PCR attributes of the PC Client profile at locality 0: 16 and 23 are resettable; 17–22 belong to DRTM localities. */
function checkPcrExtend(pcr: number): void {
  if (pcr >= 17 && pcr <= 22) fail('LOCALITY', `PCR ${pcr} cannot be extended from locality 0`);
}

function pcrChanged(tpm: SoftwareTpm, pcr: number): void {
  if (!PCRS_WITHOUT_UPDATE_COUNT.has(pcr)) tpm.pcrUpdateCounter = (tpm.pcrUpdateCounter + 1) >>> 0;
}

/** Extends each allocated bank named; the update counter advances once per bank extended, as in swtpm (a bank the TPM does not have is ignored). */
function extend(tpm: SoftwareTpm, pcr: number, digests: readonly TPMT_HA[]): void {
  for (const d of digests) {
    const bank = tpm.pcrs.get(d.hashAlg);
    if (!bank || d.digest === null) continue;
    bank[pcr] = tpmHash(d.hashAlg, bank[pcr]!, d.digest);
    pcrChanged(tpm, pcr);
  }
}

function pcrIndex(handle: number): number | undefined {
  return handle === TPM_RH.NULL ? undefined : handle;
}

export const coreHandlers: readonly (readonly [number, Handler])[] = [
  on(C.Startup, (tpm, _h, p) => {
    if (tpm.started) fail('INITIALIZE', 'TPM2_Startup was already run');
    tpm.startup(p.startupType === TPM_SU.STATE);
    return {};
  }),
  on(C.Shutdown, (tpm, _h, p) => {
    tpm.shutdown(p.shutdownType === TPM_SU.STATE);
    return {};
  }),
  on(C.SelfTest, () => ({})),
  on(C.TestParms, () => ({})),
  // At most sizeof(TPMU_HA) per command: 64 bytes in swtpm's build, which has SHA-512 (Part 3, 16.1).
  on(C.GetRandom, (tpm, _h, p) => ({ randomBytes: tpm.random(Math.min(p.bytesRequested, TPM_LIMITS.MAX_DIGEST)) })),
  on(C.GetCapability, (tpm, _h, p) => capability(tpm, p.capability, p.property, p.propertyCount)),
  on(C.ReadClock, (tpm) => ({ currentTime: { time: tpm.clock(), clockInfo: tpm.clockInfo() } })),
  on(C.Hash, (tpm, _h, p) => {
    const outHash = tpmHash(p.hashAlg, p.data);
    // Data starting with TPM_GENERATED_VALUE could forge a TPMS_ATTEST: no ticket for it (Part 3, 15.4).
    const forgeable = p.data.length >= 4 && new DataView(p.data.buffer, p.data.byteOffset).getUint32(0) === TPM_GENERATED_VALUE;
    return {
      outHash,
      validation:
        forgeable || p.hierarchy === TPM_RH.NULL
          ? { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) }
          : hashTicket(tpm, p.hierarchy, outHash),
    };
  }),
  on(C.PCR_Read, (tpm, _h, p) => {
    // At most 8 digests per response (TPML_DIGEST); the selection out says which were returned.
    let budget = 8;
    const pcrSelectionOut: TPML_PCR_SELECTION = [];
    const pcrValues: Uint8Array[] = [];
    for (const s of p.pcrSelectionIn) {
      const bank = tpm.pcrs.get(s.hash);
      const out = new Uint8Array(Math.max(3, s.pcrSelect.length));
      if (bank) {
        for (const i of selectedPcrs(s.pcrSelect)) {
          if (budget === 0) break;
          out[i >> 3]! |= 1 << (i & 7);
          pcrValues.push(bank[i]!);
          budget--;
        }
      }
      pcrSelectionOut.push({ hash: s.hash, pcrSelect: out });
    }
    return { pcrUpdateCounter: tpm.pcrUpdateCounter, pcrSelectionOut, pcrValues };
  }),
  on(C.PCR_Extend, (tpm, h, p) => {
    const pcr = pcrIndex(h.pcrHandle);
    if (pcr === undefined) return {};
    if (h.pcrHandle >>> 24 !== TPM_HT.PCR) failHandle('VALUE', 1, 'not a PCR handle');
    checkPcrExtend(pcr);
    for (const d of p.digests) if (d.hashAlg === A.NULL) failParam('HASH', 1, 'TPM_ALG_NULL digest');
    extend(tpm, pcr, p.digests);
    return {};
  }),
  on(C.PCR_Event, (tpm, h, p) => {
    const digests: TPMT_HA[] = [...tpm.pcrs.keys()].map((hashAlg) => ({ hashAlg: hashAlg as TPMT_HA['hashAlg'], digest: tpmHash(hashAlg, p.eventData) }));
    const pcr = pcrIndex(h.pcrHandle);
    if (pcr !== undefined) {
      if (h.pcrHandle >>> 24 !== TPM_HT.PCR) failHandle('VALUE', 1, 'not a PCR handle');
      checkPcrExtend(pcr);
      extend(tpm, pcr, digests);
    }
    return { digests };
  }),
  on(C.PCR_Reset, (tpm, h) => {
    if (h.pcrHandle >>> 24 !== TPM_HT.PCR) failHandle('VALUE', 1, 'not a PCR handle');
    if (h.pcrHandle !== 16 && h.pcrHandle !== 23) fail('LOCALITY', `PCR ${h.pcrHandle} cannot be reset from locality 0`);
    for (const [alg, bank] of tpm.pcrs) bank[h.pcrHandle] = new Uint8Array(HASH_SIZE[alg]!);
    pcrChanged(tpm, h.pcrHandle);
    return {};
  }),
];
