// Recorded attestations (format vouch.recorded-attestation.v1, docs/protocol.md): an attestation as
// the server appraised it, exported by the admin API, and appraised again under another policy —
// by the admin API's dry run and offline by `vouch policy test --evidence DIR`. The evidence is kept
// byte for byte, with what bound it (the AK, the qualifying data, the PCR selection), so the quote's
// signature and binding are checked again exactly as they were.
import { Compile } from 'typebox/compile';
import { HashAlgorithm, isHashAlgorithmName } from '../hash/index.ts';
import { ProtocolError, RECORDED_ATTESTATION_FORMAT, RecordedAttestation } from '../protocol/index.ts';
import type { AttestationResultRecord, Repositories } from '../store/index.ts';
import { decode, structures, type PcrSelection } from '../tpm/index.ts';
import { appraise, type PolicyCheck, type ReleaseCatalog, type Verdict } from '../verifier/index.ts';
import { b64, unb64 } from './context.ts';
import { releaseCatalog } from './references.ts';

/** What the server keeps beside the evidence to appraise it again (the results' `claims` column). */
export interface EvidenceBinding {
  /** What the node stated: its ephemeral key (recorded, never trusted). */
  readonly ephemeralPublic: unknown;
  /** The server's side: the AK the quote was checked with, the qualifying data, the selection, the releases accepted then. */
  readonly binding: {
    readonly akPublic: string;
    readonly qualifyingData: string;
    readonly pcrSelection: readonly { readonly bank: string; readonly pcrs: readonly number[] }[];
    readonly referenceVersions: readonly { readonly name: string; readonly version: number }[];
  };
}

const checkRecorded = Compile(RecordedAttestation);

/** A recorded attestation from untrusted JSON (a file): ERR_REQUEST_INVALID naming the field otherwise. */
export function parseRecordedAttestation(untrusted: unknown, where: string): RecordedAttestation {
  if (!checkRecorded.Check(untrusted)) {
    const [first] = checkRecorded.Errors(untrusted);
    throw new ProtocolError(
      'ERR_REQUEST_INVALID',
      `${where}: not a ${RECORDED_ATTESTATION_FORMAT} document: ${first?.instancePath || '(document)'} ${first?.message ?? ''}`,
      {
        field: first?.instancePath ?? '',
      },
    );
  }
  return untrusted;
}

/** The recorded attestation of a stored result; undefined when it has no evidence. */
export async function recordedAttestation(store: Repositories, result: AttestationResultRecord): Promise<RecordedAttestation | undefined> {
  const evidence = await store.results.evidence(result.id);
  const node = await store.nodes.get(result.nodeId);
  if (!evidence || !node) return undefined;
  const { binding } = evidence.claims as EvidenceBinding;
  const records = [];
  for (const v of binding.referenceVersions) {
    const record = await store.referenceSets.get(v.name, v.version);
    if (record) records.push(record);
  }
  const catalog = releaseCatalog(records);
  return {
    format: RECORDED_ATTESTATION_FORMAT,
    resultId: result.id,
    node: { id: node.id, name: node.name },
    recordedAt: new Date(result.createdAt).toISOString(),
    status: result.status,
    policyVersion: result.policyVersion,
    akPublic: binding.akPublic,
    qualifyingData: binding.qualifyingData,
    pcrSelection: binding.pcrSelection.map((s) => ({ bank: s.bank, pcrs: [...s.pcrs] })),
    quote: { attest: b64(evidence.quoteAttest), signature: b64(evidence.quoteSignature) },
    pcrValues: evidence.pcrValues as RecordedAttestation['pcrValues'],
    eventLog: b64(evidence.eventLog),
    references: {
      sets: Object.fromEntries(catalog.values.sets.map((s) => [s.version, { pcrs: s.pcrs, events: s.events, assumptions: s.assumptions }])),
      composefsDigests: { ...catalog.composefsDigests },
    },
  };
}

/** The reference sets a recorded attestation carries, as the verifier's catalogue. */
export function recordedCatalog(recorded: RecordedAttestation): ReleaseCatalog {
  return releaseCatalog(
    Object.entries(recorded.references.sets).map(([name, content]) => ({
      name,
      version: 1,
      content,
      composefsDigest: recorded.references.composefsDigests[name] ?? null,
      createdAt: 0,
      createdBy: '',
      active: true,
    })),
  );
}

export function tpmSelection(selection: readonly { readonly bank: string; readonly pcrs: readonly number[] }[]): PcrSelection[] {
  return selection.map(({ bank, pcrs }) => {
    if (!isHashAlgorithmName(bank)) throw new ProtocolError('ERR_REQUEST_INVALID', `PCR bank ${bank} is not one Vouch knows`, { bank });
    return { hash: HashAlgorithm[bank].id as PcrSelection['hash'], pcrs };
  });
}

/**
 * Appraises a recorded attestation again, at the time it was recorded, with the given reference
 * sets (its own by default) and policy.
 */
export function appraiseRecorded(recorded: RecordedAttestation, options: { readonly references?: ReleaseCatalog; readonly policy?: PolicyCheck }): Verdict {
  return appraise(
    {
      untrustedAttest: unb64(recorded.quote.attest),
      untrustedSignature: unb64(recorded.quote.signature),
      untrustedPcrs: recorded.pcrValues,
      untrustedEventLog: unb64(recorded.eventLog),
    },
    {
      boundAk: decode(structures.TPM2B_PUBLIC, unb64(recorded.akPublic), 'akPublic').value,
      qualifyingData: unb64(recorded.qualifyingData),
      selection: tpmSelection(recorded.pcrSelection),
      references: options.references ?? recordedCatalog(recorded),
      ...(options.policy ? { policy: options.policy } : {}),
      node: { id: recorded.node.id, name: recorded.node.name },
      now: new Date(recorded.recordedAt),
    },
  );
}
