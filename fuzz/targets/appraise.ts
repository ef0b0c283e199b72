// The verifier's appraisal entry over mutated evidence: a real node's quote (TPMS_ATTEST), its
// signature and its event log, each a length-prefixed section of the input, appraised against
// the node's bound AK and the real reference values. appraise() must answer with a verdict, or a
// typed error, for any bytes.
import { appraise, type AppraisalInputs, type AttestationEvidence } from '../../src/verifier/index.ts';
import type { PcrValues } from '../../src/hash/index.ts';
import { splitSections } from './sections.ts';

export { VouchError } from './typed.ts';

export interface AppraiseSetup {
  readonly inputs: AppraisalInputs;
  readonly pcrs: PcrValues;
}

let setup: AppraiseSetup | undefined;

export function prepare(value: AppraiseSetup): void {
  setup = value;
}

export function fuzzOne(data: Uint8Array): void {
  const [attest = data, signature = data, log = data] = splitSections(data, 3);
  const evidence: AttestationEvidence = { untrustedAttest: attest, untrustedSignature: signature, untrustedPcrs: setup!.pcrs, untrustedEventLog: log };
  appraise(evidence, setup!.inputs);
}
