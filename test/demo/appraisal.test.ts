// The pure appraisal on real evidence from one simulated node, then that evidence broken in every
// way an attacker or a bad network can: wrong nonce, altered PCR values, no bound AK, forged event
// data, truncated / random / mutated logs and quotes. appraise() never throws on untrusted bytes;
// it answers contraindicated with typed reasons.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { encodeEventLog, parseEventLog } from '../../src/eventlog/index.ts';
import { decode, structures } from '../../src/tpm/index.ts';
import {
  DemoError,
  MAX_FLEET_NODES,
  QUOTED_PCRS,
  VerdictReason,
  appraise,
  attestationKeyProblems,
  createReferences,
  credentialMatches,
  issueCredential,
  planFleet,
  runNode,
  seededRandom,
  type AttestationEvidence,
  type AppraisalInputs,
  type DemoReferences,
  type NodeEvidenceFiles,
} from '../../src/demo/index.ts';
import { SYSTEMD_STUB, requireStub } from './helpers.ts';

let references: DemoReferences | undefined;
let files: NodeEvidenceFiles | undefined;

before(async () => {
  if (!existsSync(SYSTEMD_STUB)) return;
  references = createReferences(new Uint8Array(await readFile(SYSTEMD_STUB)));
  const node = await runNode({ name: 'node-1', ekAlg: 'ecc', release: 'v1', tamper: null }, references, 'appraisal-test');
  files = node.evidence;
});

function evidence(): AttestationEvidence {
  return { untrustedAttest: files!.quoteMessage, untrustedSignature: files!.quoteSignature, untrustedPcrs: quotedValues(), untrustedEventLog: files!.eventLog };
}

function quotedValues(): { hash: number; values: Map<number, Uint8Array> }[] {
  return [
    {
      hash: QUOTED_PCRS[0]!.hash,
      values: new Map(Object.entries(files!.quotedPcrs.sha256!).map(([pcr, hex]) => [Number(pcr), new Uint8Array(Buffer.from(hex, 'hex'))])),
    },
  ];
}

function inputs(): AppraisalInputs {
  return { boundAk: decode(structures.TPM2B_PUBLIC, files!.akPublic).value, nonce: files!.nonce, selection: QUOTED_PCRS, references: references!.catalog };
}

const knownReasons = new Set<string>(Object.values(VerdictReason));

test('appraise: the untouched evidence of a v1 node is affirming, with the claims taken from its log', (t) => {
  if (!requireStub(t) || !files) return;
  const verdict = appraise(evidence(), inputs());
  assert.equal(verdict.status, 'affirming');
  assert.deepEqual(verdict.matchedReleases, ['v1']);
  assert.equal(verdict.claims.composefsRelease, 'v1');
  assert.deepEqual(verdict.reasons, []);
});

test('appraise: another nonce, altered PCR values or no bound AK stop at the quote', (t) => {
  if (!requireStub(t) || !files) return;
  const replayed = appraise(evidence(), { ...inputs(), nonce: new Uint8Array(32) });
  assert.deepEqual(
    replayed.reasons.map((r) => r.reason),
    ['quote-invalid'],
  );
  assert.match(replayed.reasons[0]!.message, /^ERR_QUOTE_NONCE_MISMATCH/);

  const values = quotedValues();
  values[0]!.values.set(12, new Uint8Array(32).fill(0xaa));
  const altered = appraise({ ...evidence(), untrustedPcrs: values }, inputs());
  assert.deepEqual(
    altered.reasons.map((r) => r.reason),
    ['quote-invalid'],
  );
  assert.match(altered.reasons[0]!.message, /^ERR_QUOTE_PCR_DIGEST_MISMATCH/);

  const unbound = appraise(evidence(), { ...inputs(), boundAk: undefined });
  assert.deepEqual(
    unbound.reasons.map((r) => r.reason),
    ['not-enrolled'],
  );
  assert.equal(unbound.status, 'contraindicated');
});

test('appraise: event data edited under an unchanged digest is reported as forged, naming the event', (t) => {
  if (!requireStub(t) || !files) return;
  const log = parseEventLog(files.eventLog);
  const events = log.events.slice(1).map((e) => ({ pcr: e.pcr, type: e.type, data: e.data, digests: e.digests }));
  const action = events.findIndex((e) => e.pcr === 4 && Buffer.from(e.data).toString() === 'Calling EFI Application from Boot Option');
  assert.ok(action >= 0);
  events[action] = { ...events[action]!, data: new TextEncoder().encode('Calling EFI Application from Boot Option!') };
  const forged = encodeEventLog({ banks: ['sha1', 'sha256', 'sha384'], events });
  const verdict = appraise({ ...evidence(), untrustedEventLog: forged }, inputs());
  assert.equal(verdict.status, 'contraindicated');
  assert.deepEqual(
    verdict.reasons.map((r) => r.reason),
    ['event-data-forged'],
  );
  assert.equal(verdict.reasons[0]!.pcr, 4);
  assert.equal(verdict.reasons[0]!.events![0]!.index, action + 1);
});

test('appraise: a well-formed log without the quoted bank cannot explain the quote', (t) => {
  if (!requireStub(t) || !files) return;
  const log = parseEventLog(files.eventLog);
  const sha1Only = encodeEventLog({
    banks: ['sha1'],
    events: log.events.slice(1).map((e) => ({ pcr: e.pcr, type: e.type, data: e.data, digests: { sha1: e.digests.sha1! } })),
  });
  const verdict = appraise({ ...evidence(), untrustedEventLog: sha1Only }, inputs());
  assert.deepEqual(
    verdict.reasons.map((r) => r.reason),
    ['event-log-malformed'],
  );
  assert.match(verdict.reasons[0]!.message, /^ERR_EVENTLOG_BANK_MISSING/);
  assert.equal(verdict.status, 'contraindicated');
});

test('appraise: truncated event logs are never trusted and never throw', (t) => {
  if (!requireStub(t) || !files) return;
  const log = files.eventLog;
  for (let end = 0; end < log.length; end += 37) {
    const verdict = appraise({ ...evidence(), untrustedEventLog: log.subarray(0, end) }, inputs());
    assert.equal(verdict.status, 'contraindicated', `truncated at ${end}`);
    assert.ok(verdict.reasons.every((r) => knownReasons.has(r.reason)));
  }
});

test('appraise: random and mutated logs, quotes and signatures give typed reasons, never exceptions', (t) => {
  if (!requireStub(t) || !files) return;
  const base = evidence();
  const parts = ['untrustedEventLog', 'untrustedAttest', 'untrustedSignature'] as const;
  fc.assert(
    fc.property(
      fc.constantFrom(...parts),
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ kind: 'random' as const, bytes })),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => ({ kind: 'flips' as const, flips })),
      ),
      (part, change) => {
        let bytes: Uint8Array;
        if (change.kind === 'random') bytes = change.bytes;
        else {
          bytes = new Uint8Array(base[part]);
          for (const [at, xor] of change.flips) bytes[at % bytes.length]! ^= xor;
        }
        const verdict = appraise({ ...base, [part]: bytes }, inputs());
        assert.ok(verdict.reasons.every((r) => knownReasons.has(r.reason)));
        // Quote bytes are covered by the signature: any change there is caught.
        if (part !== 'untrustedEventLog') assert.equal(verdict.status, 'contraindicated');
      },
    ),
    { numRuns: 150, seed: 7 },
  );
});

test('enrollment: an AK that is not a restricted fixed signing key is refused; a wrong answer does not match', (t) => {
  if (!requireStub(t) || !files) return;
  const ak = decode(structures.TPM2B_PUBLIC, files.akPublic);
  assert.deepEqual(attestationKeyProblems(ak.value), []);
  const loose = { ...ak.value, objectAttributes: { ...ak.value.objectAttributes, restricted: false, fixedTPM: false } };
  assert.deepEqual(attestationKeyProblems(loose), ['restricted is clear', 'fixedTPM is clear']);
  const schemeless = { ...ak.value, parameters: { ...ak.value.parameters, scheme: { scheme: 0x0010, details: null } } } as typeof ak.value;
  assert.deepEqual(attestationKeyProblems(schemeless), ['no signing scheme is fixed']);
  const ek = decode(structures.TPM2B_PUBLIC, files.ekPublic).value;
  const challenge = issueCredential(ek, ak, seededRandom('s', 'credential'));
  assert.equal(credentialMatches(challenge, new Uint8Array(32)), false);
  // MakeCredential binds the secret to the AK's Name: a blob for one AK is not one for another.
  const other = issueCredential(ek, { ...ak, bytes: new Uint8Array(ak.bytes).fill(1, 40, 41) }, seededRandom('s', 'credential'));
  assert.notDeepEqual(other.blob.credentialBlob, challenge.blob.credentialBlob);
});

test('planFleet: 1..MAX_FLEET_NODES nodes; past the six showcase nodes every node is healthy', () => {
  for (const n of [0, MAX_FLEET_NODES + 1, 1.5]) {
    assert.throws(
      () => planFleet(n),
      (e: unknown) => e instanceof DemoError && e.code === 'ERR_DEMO_FLEET_SIZE',
    );
  }
  const fleet = planFleet(9);
  assert.deepEqual(
    fleet.map((n) => `${n.ekAlg}:${n.release}:${n.tamper ?? '-'}`),
    ['rsa:v1:-', 'ecc:v1:-', 'rsa:v2:-', 'ecc:v1:tampered-cmdline', 'rsa:v1:unlisted-signer', 'ecc:v1:edited-log', 'rsa:v1:-', 'ecc:v1:-', 'rsa:v2:-'],
  );
});
