/**
 * PCR value files of tpm2-tools, as `tpm2_quote -o` and `tpm2_pcrread -o` write them.
 *
 * "serialized" (tpm2_quote's default, what tpm2_checkquote -f reads): the tools' in-memory C
 * structs dumped little-endian on x86-64 (tpm2-tools lib/pcr.c pcr_fwrite_serialized):
 *   TPML_PCR_SELECTION  u32 count, then 16 × { u16 hash, u8 sizeofSelect, u8 pcrSelect[4], pad }  (132 bytes)
 *   u32 count of TPML_DIGEST that follow (PCR_Read answers up to 8 digests at a time)
 *   count × TPML_DIGEST  u32 count, then 8 × { u16 size, u8 buffer[64] }                          (532 bytes each)
 * The digests, taken in order across the TPML_DIGESTs, are the selected PCRs bank by bank, PCR
 * index ascending. "values" (tpm2_pcrread's default with -o): the digests concatenated, in the
 * same order, with no selection: the reader must be told the PCR list.
 */
import { ByteReader, ByteWriter } from '../bytes/index.ts';
import { HASH_SIZE, TPM_LIMITS, algName } from '../tpm/constants.ts';
import { VerifierError } from './errors.ts';
import { selectedPcrs, type PcrBankSelection, type PcrBankValues } from './quote.ts';

/** TPM2_NUM_PCR_BANKS, TPM2_PCR_SELECT_MAX and the TPML_DIGEST capacity in tpm2-tss's headers. */
const TSS_NUM_PCR_BANKS = 16;
const TSS_PCR_SELECT_MAX = 4;
const TSS_DIGESTS_PER_LIST = 8;
const TSS_DIGEST_BUFFER = 64;
const SELECTION_ENTRY_BYTES = 8;
const SELECTION_BYTES = 4 + TSS_NUM_PCR_BANKS * SELECTION_ENTRY_BYTES;
const DIGEST_ENTRY_BYTES = 2 + TSS_DIGEST_BUFFER;
const DIGEST_LIST_BYTES = 4 + TSS_DIGESTS_PER_LIST * DIGEST_ENTRY_BYTES;
/** tpm2_pcrs holds at most this many TPML_DIGEST (tpm2-tools lib/pcr.h). */
const MAX_DIGEST_LISTS = 16;

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new VerifierError('ERR_QUOTE_PCR_FILE', message, details);
}

function bankLabel(hash: number): string {
  return algName(hash).replace('TPM_ALG_', '').toLowerCase();
}

/** Distributes digests over a selection, bank by bank, PCR ascending; sizes must fit each bank's hash. */
function assign(selection: readonly PcrBankSelection[], digests: readonly Uint8Array[]): PcrBankValues[] {
  const total = selection.reduce((n, s) => n + s.pcrs.length, 0);
  if (digests.length !== total) bad(`${digests.length} PCR values for ${total} selected PCRs`, { values: digests.length, selected: total });
  let i = 0;
  return selection.map((s) => {
    const values = new Map<number, Uint8Array>();
    for (const pcr of s.pcrs) {
      const d = digests[i++]!;
      if (d.length !== HASH_SIZE[s.hash]) bad(`value for ${bankLabel(s.hash)} PCR ${pcr} has ${d.length} bytes, expected ${HASH_SIZE[s.hash] ?? '?'}`, { pcr });
      values.set(pcr, d);
    }
    return { hash: s.hash, values };
  });
}

/** Parses a "serialized" PCR file; trailing or missing bytes and impossible counts are ERR_QUOTE_PCR_FILE. */
export function parseTpm2ToolsPcrFile(bytes: Uint8Array): { selection: PcrBankSelection[]; pcrs: PcrBankValues[] } {
  if (bytes.length < SELECTION_BYTES + 4) bad(`PCR file of ${bytes.length} bytes is shorter than the ${SELECTION_BYTES + 4}-byte header of the serialized format`);
  const r = new ByteReader(bytes);
  const banks = r.u32le();
  if (banks > TSS_NUM_PCR_BANKS) bad(`PCR file selects ${banks} banks, at most ${TSS_NUM_PCR_BANKS}`, { banks });
  const selection: PcrBankSelection[] = [];
  for (let i = 0; i < TSS_NUM_PCR_BANKS; i++) {
    const hash = r.u16le();
    const sizeofSelect = r.u8();
    const bitmap = r.bytesView(TSS_PCR_SELECT_MAX);
    r.skip(1);
    if (i >= banks) continue;
    if (HASH_SIZE[hash] === undefined) bad(`PCR file bank ${i} has unknown hash 0x${hash.toString(16)}`, { hash });
    if (sizeofSelect > TSS_PCR_SELECT_MAX) bad(`PCR file bank ${i} sizeofSelect ${sizeofSelect} > ${TSS_PCR_SELECT_MAX}`);
    selection.push({ hash, pcrs: selectedPcrs(bitmap.subarray(0, sizeofSelect)) });
  }
  const lists = r.u32le();
  if (lists > MAX_DIGEST_LISTS) bad(`PCR file announces ${lists} digest lists, at most ${MAX_DIGEST_LISTS}`, { lists });
  if (r.remaining !== lists * DIGEST_LIST_BYTES) bad(`PCR file has ${r.remaining} bytes of digests, ${lists} lists need ${lists * DIGEST_LIST_BYTES}`, { remaining: r.remaining });
  const digests: Uint8Array[] = [];
  for (let l = 0; l < lists; l++) {
    const count = r.u32le();
    if (count > TSS_DIGESTS_PER_LIST) bad(`digest list ${l} holds ${count} digests, at most ${TSS_DIGESTS_PER_LIST}`);
    for (let d = 0; d < TSS_DIGESTS_PER_LIST; d++) {
      const size = r.u16le();
      const buffer = r.bytesView(TSS_DIGEST_BUFFER);
      if (d >= count) continue;
      if (size > TPM_LIMITS.MAX_DIGEST) bad(`digest ${d} of list ${l} has size ${size} > ${TPM_LIMITS.MAX_DIGEST}`);
      digests.push(buffer.slice(0, size));
    }
  }
  return { selection, pcrs: assign(selection, digests) };
}

/** Writes a "serialized" PCR file that tpm2_checkquote -f accepts. */
export function encodeTpm2ToolsPcrFile(selection: readonly PcrBankSelection[], pcrs: readonly PcrBankValues[]): Uint8Array {
  if (selection.length > TSS_NUM_PCR_BANKS) bad(`${selection.length} banks do not fit the serialized format`);
  const w = new ByteWriter(SELECTION_BYTES + 4 + MAX_DIGEST_LISTS * DIGEST_LIST_BYTES);
  w.u32le(selection.length);
  for (let i = 0; i < TSS_NUM_PCR_BANKS; i++) {
    const s = selection[i];
    const bitmap = new Uint8Array(TSS_PCR_SELECT_MAX);
    for (const p of s?.pcrs ?? []) bitmap[p >> 3]! |= 1 << (p & 7);
    w.u16le(s?.hash ?? 0).u8(s ? 3 : 0).bytes(bitmap).u8(0);
  }
  const digests: Uint8Array[] = [];
  for (const s of selection) {
    const bank = pcrs.find((b) => b.hash === s.hash);
    for (const p of s.pcrs) digests.push(bank?.values.get(p) ?? bad(`no ${bankLabel(s.hash)} value for PCR ${p}`, { pcr: p }));
  }
  const lists = Math.ceil(digests.length / TSS_DIGESTS_PER_LIST);
  if (lists > MAX_DIGEST_LISTS) bad(`${digests.length} PCR values do not fit the serialized format`);
  w.u32le(lists);
  for (let l = 0; l < lists; l++) {
    const chunk = digests.slice(l * TSS_DIGESTS_PER_LIST, (l + 1) * TSS_DIGESTS_PER_LIST);
    w.u32le(chunk.length);
    for (let d = 0; d < TSS_DIGESTS_PER_LIST; d++) {
      const v = chunk[d] ?? new Uint8Array(0);
      w.u16le(v.length).bytes(v).zeros(TSS_DIGEST_BUFFER - v.length);
    }
  }
  return w.finish();
}

/** Parses raw concatenated values ("values" format) against the PCR list they were read with. */
export function parseRawPcrValues(bytes: Uint8Array, selection: readonly PcrBankSelection[]): PcrBankValues[] {
  const expected = selection.reduce((n, s) => n + s.pcrs.length * (HASH_SIZE[s.hash] ?? 0), 0);
  if (bytes.length !== expected) bad(`raw PCR values file has ${bytes.length} bytes, the PCR list needs ${expected}`, { length: bytes.length, expected });
  const digests: Uint8Array[] = [];
  let o = 0;
  for (const s of selection) {
    for (let i = 0; i < s.pcrs.length; i++) {
      digests.push(bytes.slice(o, o + HASH_SIZE[s.hash]!));
      o += HASH_SIZE[s.hash]!;
    }
  }
  return assign(selection, digests);
}
