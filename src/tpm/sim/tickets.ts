/**
 * Tickets (Part 1, 10.6.5 and Part 2, 10.7): HMACs keyed by a hierarchy's proof value, by which the
 * TPM later recognises its own earlier results (a verified signature for PolicyAuthorize, a safe
 * digest for signing with a restricted key). Only this TPM can make or check them.
 */
import { createHmac } from 'node:crypto';
import { ByteWriter, constantTimeEqual } from '../../bytes/index.ts';
import { TPM_RH, TPM_ST } from '../constants.ts';
import type { SoftwareTpm } from './simulator.ts';

export interface Ticket {
  readonly tag: number;
  readonly hierarchy: number;
  readonly digest: Uint8Array;
}

function ticketDigest(tpm: SoftwareTpm, tag: number, hierarchy: number, ...parts: readonly Uint8Array[]): Uint8Array {
  // SHA-512, as swtpm (libtpms) keys its tickets: the digests have the same size as there.
  const mac = createHmac('sha512', tpm.hierarchySecrets(hierarchy).proof).update(new ByteWriter(2).u16(tag).finish());
  for (const p of parts) mac.update(p);
  return new Uint8Array(mac.digest());
}

function make(tpm: SoftwareTpm, tag: number, hierarchy: number, ...parts: readonly Uint8Array[]): Ticket {
  // A TPM_RH_NULL ticket is the NULL ticket: it proves nothing (Part 2, 10.7.1).
  if (hierarchy === TPM_RH.NULL) return { tag, hierarchy, digest: new Uint8Array(0) };
  return { tag, hierarchy, digest: ticketDigest(tpm, tag, hierarchy, ...parts) };
}

/** TPMT_TK_HASHCHECK from TPM2_Hash: `digest` is safe to sign with a restricted key. */
export function hashTicket(tpm: SoftwareTpm, hierarchy: number, digest: Uint8Array): Ticket {
  return make(tpm, TPM_ST.HASHCHECK, hierarchy, digest);
}

/** TPMT_TK_VERIFIED from TPM2_VerifySignature: `keyName` signed `digest`. */
export function verifiedTicket(tpm: SoftwareTpm, hierarchy: number, digest: Uint8Array, keyName: Uint8Array): Ticket {
  return make(tpm, TPM_ST.VERIFIED, hierarchy, digest, keyName);
}

/** TPMT_TK_CREATION from Create/CreatePrimary: this TPM created `name` with creation data hashing to `creationHash`. */
export function creationTicket(tpm: SoftwareTpm, hierarchy: number, name: Uint8Array, creationHash: Uint8Array): Ticket {
  return make(tpm, TPM_ST.CREATION, hierarchy, name, creationHash);
}

/** Whether a received ticket is one this TPM made for these values (a NULL ticket never is). */
export function checkTicket(tpm: SoftwareTpm, ticket: Ticket, expectedTag: number, ...parts: readonly Uint8Array[]): boolean {
  if (ticket.tag !== expectedTag || ticket.hierarchy === TPM_RH.NULL || ticket.digest.length === 0) return false;
  let expected: Uint8Array;
  try {
    expected = ticketDigest(tpm, expectedTag, ticket.hierarchy, ...parts);
  } catch {
    return false;
  }
  // A MAC: compared in constant time, so timing does not tell how much of a forged ticket is right.
  return constantTimeEqual(expected, ticket.digest);
}
