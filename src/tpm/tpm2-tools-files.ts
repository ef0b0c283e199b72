/**
 * The file formats tpm2-tools uses for quotes, so Vouch's output feeds `tpm2_checkquote` and
 * `tpm2_quote`'s output feeds Vouch.
 *
 * `tpm2_quote -o FILE` ("serialized", the default --pcrs_format) dumps C structures of tpm2-tss
 * as they lie in memory on a little-endian machine (tpm2-tools lib/pcr.c pcr_fwrite_serialized):
 *
 *   TPML_PCR_SELECTION  u32le count · 16 × { u16le hash · u8 sizeofSelect · u8[4] pcrSelect · pad 1 }   132 bytes
 *   u32le               number of TPML_DIGEST blocks that follow
 *   TPML_DIGEST[n]      u32le count · 8 × { u16le size · u8[64] buffer }                                532 bytes each
 *
 * The digests are the PCR values in selection order (bank by bank, PCRs ascending), at most 8 per
 * block, as successive TPM2_PCR_Read calls return them. `-F values` is the bare concatenation.
 */
import { ByteReader, ByteWriter } from '../bytes/index.ts';
import { HASH_SIZE, TPM_LIMITS, algName } from './constants.ts';
import { TpmError } from './errors.ts';
import { pcrValuesOf, pcrsOf } from './pcr-selection.ts';
import type { PcrValues } from '../hash/index.ts';
import type { TPML_PCR_SELECTION, TpmHashAlg } from './structures.ts';

const NUM_PCR_BANKS = 16;
const PCR_SELECT_MAX = 4;
const PCR_SELECTION_SIZE = 8;
const PCR_SELECTION_LIST_SIZE = 4 + NUM_PCR_BANKS * PCR_SELECTION_SIZE;
const DIGESTS_PER_BLOCK = 8;
const DIGEST_BUFFER = 64;
const DIGEST_BLOCK_SIZE = 4 + DIGESTS_PER_BLOCK * (2 + DIGEST_BUFFER);
/** tpm2-tools' tpm2_pcrs holds at most TPM2_MAX_PCRS (32) blocks. */
const MAX_BLOCKS = 32;

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new TpmError('ERR_TPM_BAD_VALUE', `tpm2-tools PCR file: ${message}`, details);
}

/** Writes the "serialized" PCR file for a selection and its values (values in selection order). */
export function encodePcrsSerialized(selection: TPML_PCR_SELECTION, values: readonly Uint8Array[]): Uint8Array {
  if (selection.length > NUM_PCR_BANKS) throw new TpmError('ERR_TPM_ENCODE', `more than ${NUM_PCR_BANKS} banks`, {});
  const w = new ByteWriter(PCR_SELECTION_LIST_SIZE + 4 + DIGEST_BLOCK_SIZE * Math.ceil(values.length / DIGESTS_PER_BLOCK));
  w.u32le(selection.length);
  for (let i = 0; i < NUM_PCR_BANKS; i++) {
    const s = selection[i];
    if (!s) {
      w.zeros(PCR_SELECTION_SIZE);
      continue;
    }
    if (s.pcrSelect.length > PCR_SELECT_MAX) throw new TpmError('ERR_TPM_ENCODE', `sizeofSelect ${s.pcrSelect.length} > ${PCR_SELECT_MAX}`, {});
    w.u16le(s.hash)
      .u8(s.pcrSelect.length)
      .bytes(s.pcrSelect)
      .zeros(PCR_SELECT_MAX - s.pcrSelect.length + 1);
  }
  const blocks = Math.ceil(values.length / DIGESTS_PER_BLOCK);
  w.u32le(blocks);
  for (let b = 0; b < blocks; b++) {
    const chunk = values.slice(b * DIGESTS_PER_BLOCK, (b + 1) * DIGESTS_PER_BLOCK);
    w.u32le(chunk.length);
    for (let i = 0; i < DIGESTS_PER_BLOCK; i++) {
      const d = chunk[i] ?? new Uint8Array(0);
      if (d.length > DIGEST_BUFFER) throw new TpmError('ERR_TPM_ENCODE', `digest of ${d.length} bytes`, {});
      w.u16le(d.length)
        .bytes(d)
        .zeros(DIGEST_BUFFER - d.length);
    }
  }
  return w.finish();
}

export interface ParsedPcrFile {
  readonly selection: TPML_PCR_SELECTION;
  readonly values: PcrValues;
  /** The values in selection order (what the quote's pcrDigest hashes). */
  readonly ordered: readonly Uint8Array[];
}

/** Parses a "serialized" PCR file (untrusted): exact size, known hashes, digest sizes per bank. */
export function parsePcrsSerialized(bytes: Uint8Array): ParsedPcrFile {
  const r = new ByteReader(bytes);
  if (bytes.length < PCR_SELECTION_LIST_SIZE + 4)
    throw new TpmError('ERR_TPM_TRUNCATED', `tpm2-tools PCR file: ${bytes.length} bytes, the header alone has ${PCR_SELECTION_LIST_SIZE + 4}`, {});
  const count = r.u32le();
  if (count === 0 || count > NUM_PCR_BANKS) bad(`bank count ${count} (1..${NUM_PCR_BANKS})`, { count });
  const selection: { hash: TpmHashAlg; pcrSelect: Uint8Array }[] = [];
  for (let i = 0; i < NUM_PCR_BANKS; i++) {
    const hash = r.u16le();
    const size = r.u8();
    const select = r.bytesView(PCR_SELECT_MAX);
    r.skip(1);
    if (i >= count) continue;
    if (!HASH_SIZE[hash]) bad(`bank ${i}: unknown hash ${algName(hash)}`, { hash });
    if (size > PCR_SELECT_MAX) throw new TpmError('ERR_TPM_TOO_LARGE', `tpm2-tools PCR file: sizeofSelect ${size} > ${PCR_SELECT_MAX}`, {});
    selection.push({ hash: hash as TpmHashAlg, pcrSelect: new Uint8Array(select.subarray(0, size)) });
  }
  const blocks = r.u32le();
  if (blocks > MAX_BLOCKS) throw new TpmError('ERR_TPM_TOO_LARGE', `tpm2-tools PCR file: ${blocks} digest blocks (max ${MAX_BLOCKS})`, { blocks });
  if (r.remaining !== blocks * DIGEST_BLOCK_SIZE) {
    throw new TpmError(
      r.remaining < blocks * DIGEST_BLOCK_SIZE ? 'ERR_TPM_TRUNCATED' : 'ERR_TPM_TRAILING',
      `tpm2-tools PCR file: ${blocks} digest blocks need ${blocks * DIGEST_BLOCK_SIZE} bytes, ${r.remaining} present`,
      {},
    );
  }
  const ordered: Uint8Array[] = [];
  for (let b = 0; b < blocks; b++) {
    const n = r.u32le();
    if (n > DIGESTS_PER_BLOCK) throw new TpmError('ERR_TPM_TOO_LARGE', `tpm2-tools PCR file: block ${b} has ${n} digests (max ${DIGESTS_PER_BLOCK})`, {});
    for (let i = 0; i < DIGESTS_PER_BLOCK; i++) {
      const size = r.u16le();
      const buf = r.bytesView(DIGEST_BUFFER);
      if (i < n) {
        if (size > DIGEST_BUFFER) throw new TpmError('ERR_TPM_TOO_LARGE', `tpm2-tools PCR file: digest of ${size} bytes`, {});
        ordered.push(new Uint8Array(buf.subarray(0, size)));
      }
    }
  }
  const banks = new Map<TpmHashAlg, Map<number, Uint8Array>>();
  let at = 0;
  for (const s of selection) {
    const bank = banks.get(s.hash) ?? new Map<number, Uint8Array>();
    banks.set(s.hash, bank);
    for (const pcr of pcrsOf(s.pcrSelect)) {
      const v = ordered[at++];
      if (!v) bad(`fewer values (${ordered.length}) than the selection names`, {});
      if (v.length !== HASH_SIZE[s.hash]) bad(`${algName(s.hash)} PCR ${pcr} has ${v.length} bytes, expected ${HASH_SIZE[s.hash]}`, { pcr });
      bank.set(pcr, v);
    }
  }
  if (at !== ordered.length) bad(`${ordered.length} values for a selection of ${at} PCRs`, {});
  return { selection, values: pcrValuesOf(banks), ordered };
}

/** Splits `tpm2_pcrread -o` / `-F values` output (bare concatenated digests) along a selection. */
export function parsePcrValues(bytes: Uint8Array, selection: TPML_PCR_SELECTION): ParsedPcrFile {
  if (selection.length > TPM_LIMITS.MAX_PCR_BANKS) throw new TpmError('ERR_TPM_TOO_LARGE', 'too many banks', {});
  const r = new ByteReader(bytes);
  const banks = new Map<TpmHashAlg, Map<number, Uint8Array>>();
  const ordered: Uint8Array[] = [];
  for (const s of selection) {
    const size = HASH_SIZE[s.hash];
    if (size === undefined) throw new TpmError('ERR_TPM_BAD_ALG', `PCR values file: unknown hash ${algName(s.hash)} in the selection`, { hash: s.hash });
    const bank = banks.get(s.hash) ?? new Map<number, Uint8Array>();
    banks.set(s.hash, bank);
    for (const pcr of pcrsOf(s.pcrSelect)) {
      if (r.remaining < size)
        throw new TpmError('ERR_TPM_TRUNCATED', `PCR values file: ${algName(s.hash)} PCR ${pcr} needs ${size} bytes, ${r.remaining} left`, { pcr });
      const v = new Uint8Array(r.bytesView(size));
      bank.set(pcr, v);
      ordered.push(v);
    }
  }
  if (r.remaining !== 0) throw new TpmError('ERR_TPM_TRAILING', `PCR values file: ${r.remaining} bytes beyond the selection`, {});
  return { selection, values: pcrValuesOf(banks), ordered };
}

/** Parses "sha256:0,1,2+sha1:0-7" (tpm2-tools PCR list syntax; ranges allowed; "all" = 0-23). */
export function parsePcrList(spec: string): { hash: TpmHashAlg; pcrs: number[] }[] {
  const names: Record<string, TpmHashAlg> = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };
  const out: { hash: TpmHashAlg; pcrs: number[] }[] = [];
  for (const part of spec.split('+')) {
    const m = /^([a-z0-9]+):([0-9,\- ]+|all)$/i.exec(part.trim());
    const hash = m ? names[m[1]!.toLowerCase()] : undefined;
    if (!m || hash === undefined) throw new TpmError('ERR_TPM_ENCODE', `bad PCR list ${JSON.stringify(part)} (expected e.g. sha256:0,1,2-7)`, { spec });
    // One entry per bank: a bank named twice would be quoted and read back in two pieces whose
    // order the PCR files cannot express.
    if (out.some((o) => o.hash === hash))
      throw new TpmError('ERR_TPM_ENCODE', `bank ${m[1]} is listed twice in ${JSON.stringify(spec)}; list its PCRs once (e.g. ${m[1]}:0,1,7)`, { spec });
    const pcrs = new Set<number>();
    const items = m[2]!.toLowerCase() === 'all' ? ['0-23'] : m[2]!.split(',');
    for (const item of items) {
      const range = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(item);
      if (!range) throw new TpmError('ERR_TPM_ENCODE', `bad PCR index ${JSON.stringify(item)}`, { spec });
      const lo = Number(range[1]);
      const hi = range[2] === undefined ? lo : Number(range[2]);
      if (hi < lo || hi >= 8 * PCR_SELECT_MAX) throw new TpmError('ERR_TPM_ENCODE', `PCR range ${item} outside 0..${8 * PCR_SELECT_MAX - 1}`, { spec });
      for (let p = lo; p <= hi; p++) pcrs.add(p);
    }
    out.push({ hash, pcrs: [...pcrs].sort((a, b) => a - b) });
  }
  return out;
}

/** tpm2-tools' credential file (tpm2_makecredential -o / tpm2_activatecredential -i): lib/files.c header + two TPM2Bs. */
const CREDENTIAL_MAGIC = 0xbadcc0de;
const CREDENTIAL_VERSION = 1;

export interface CredentialFile {
  readonly credentialBlob: Uint8Array;
  readonly secret: Uint8Array;
}

/** u32 magic 0xBADCC0DE · u32 version 1 · TPM2B_ID_OBJECT · TPM2B_ENCRYPTED_SECRET (all big-endian). */
export function encodeCredentialFile(c: CredentialFile): Uint8Array {
  return new ByteWriter(12 + c.credentialBlob.length + c.secret.length)
    .u32(CREDENTIAL_MAGIC)
    .u32(CREDENTIAL_VERSION)
    .u16(c.credentialBlob.length)
    .bytes(c.credentialBlob)
    .u16(c.secret.length)
    .bytes(c.secret)
    .finish();
}

export function parseCredentialFile(bytes: Uint8Array): CredentialFile {
  const r = new ByteReader(bytes);
  if (bytes.length < 12) throw new TpmError('ERR_TPM_TRUNCATED', `credential file of ${bytes.length} bytes`, {});
  const magic = r.u32();
  const version = r.u32();
  if (magic !== CREDENTIAL_MAGIC || version !== CREDENTIAL_VERSION) {
    throw new TpmError(
      'ERR_TPM_BAD_VALUE',
      `not a tpm2-tools credential file: magic 0x${magic.toString(16)} version ${version}, expected 0xbadcc0de version 1`,
      { magic, version },
    );
  }
  const part = (what: string, max: number): Uint8Array => {
    if (r.remaining < 2) throw new TpmError('ERR_TPM_TRUNCATED', `credential file: ${what} size missing`, {});
    const n = r.u16();
    if (n > max) throw new TpmError('ERR_TPM_TOO_LARGE', `credential file: ${what} of ${n} bytes (max ${max})`, {});
    if (r.remaining < n) throw new TpmError('ERR_TPM_TRUNCATED', `credential file: ${what} needs ${n} bytes, ${r.remaining} left`, {});
    return new Uint8Array(r.bytesView(n));
  };
  const credentialBlob = part('TPM2B_ID_OBJECT', TPM_LIMITS.MAX_ID_OBJECT);
  const secret = part('TPM2B_ENCRYPTED_SECRET', TPM_LIMITS.MAX_ENCRYPTED_SECRET);
  if (r.remaining !== 0) throw new TpmError('ERR_TPM_TRAILING', `credential file: ${r.remaining} trailing bytes`, {});
  return { credentialBlob, secret };
}
