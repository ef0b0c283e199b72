// The pure appraisal on real evidence from one simulated node, then that evidence broken in every
// way an attacker or a bad network can: wrong nonce, altered PCR values, no bound AK, forged event
// data, truncated / random / mutated logs and quotes. appraise() never throws on untrusted bytes;
// it answers contraindicated with typed reasons.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { encodeEventLog, EventType, parseEventLog, utf16leBytes, type EventToEncode } from '../../src/eventlog/index.ts';
import type { PcrValues } from '../../src/hash/index.ts';
import { decode, structures } from '../../src/tpm/index.ts';
import { DemoError, MAX_FLEET_NODES, QUOTED_PCRS, createReferences, kernelCommandLine, planFleet, quoteNode, seededRandom } from '../../src/demo/index.ts';
import type { DemoReferences, NodeEvidence } from '../../src/demo/index.ts';
import {
  VerdictReason,
  appraise,
  attestationKeyProblems,
  credentialMatches,
  issueCredential,
  trustworthinessVector,
  type AttestationEvidence,
  type AppraisalInputs,
  type PolicyCheck,
} from '../../src/verifier/index.ts';
import { SYSTEMD_STUB, requireStub } from '../demo/helpers.ts';

let references: DemoReferences | undefined;
let files: NodeEvidence | undefined;
const NOW = new Date('2026-12-04T12:00:00Z');

before(async () => {
  if (!existsSync(SYSTEMD_STUB)) return;
  references = createReferences(new Uint8Array(await readFile(SYSTEMD_STUB)));
  files = await quoteNode(
    { name: 'node-1', ekAlg: 'ecc', release: 'v1', tamper: null },
    references,
    'appraisal-test',
    seededRandom('appraisal-test', 'nonce')(32),
  );
});

function evidence(): AttestationEvidence {
  return {
    untrustedAttest: files!.quoteMessage,
    untrustedSignature: files!.quoteSignature,
    untrustedPcrs: files!.quotedPcrs,
    untrustedEventLog: files!.eventLog,
  };
}

function inputs(): AppraisalInputs {
  return {
    boundAk: decode(structures.TPM2B_PUBLIC, files!.akPublic).value,
    qualifyingData: files!.nonce,
    selection: QUOTED_PCRS,
    references: references!.catalog,
    now: NOW,
  };
}

/** The log's events without its Spec ID header, ready to encode again. */
function loggedEvents(): EventToEncode[] {
  return parseEventLog(files!.eventLog)
    .events.slice(1)
    .map((e) => ({ pcr: e.pcr, type: e.type, data: e.data, digests: e.digests }));
}

const knownReasons = new Set<string>(Object.values(VerdictReason));

test('appraise: the untouched evidence of a v1 node is affirming, with the claims taken from its log', (t) => {
  if (!requireStub(t) || !files) return;
  const verdict = appraise(evidence(), inputs());
  assert.equal(verdict.status, 'affirming');
  assert.equal(verdict.appraisedAt, NOW.toISOString(), 'the clock is injected');
  assert.deepEqual(verdict.matchedReleases, ['v1']);
  assert.equal(verdict.composefsRelease, 'v1');
  assert.deepEqual(verdict.reasons, []);
  const claims = verdict.claims!;
  assert.equal(claims.kernelCmdline, kernelCommandLine(references!.catalog.composefsDigests.v1!));
  assert.equal(claims.composefsDigest, references!.catalog.composefsDigests.v1);
  assert.equal(claims.secureBoot.enabled, true);
  assert.deepEqual(
    claims.secureBoot.authorities.map((a) => a.subject),
    claims.secureBoot.db!.certificates.map((c) => c.subject),
    'the db certificate verified the UKI',
  );
  assert.equal(claims.bootApplications.length, 1, 'one boot application: the UKI');
  assert.deepEqual(
    claims.ukiSections.map((s) => s.name),
    ['.linux', '.osrel', '.initrd'],
    'systemd-stub 252 measures these sections (not .uname)',
  );
  assert.deepEqual(trustworthinessVector(verdict), { 'instance-identity': 2, hardware: 2, configuration: 2, executables: 3, 'file-system': 2 });
});

test('appraise: every one of the 24 quoted PCRs has a rule; the unappraised ones say why', (t) => {
  if (!requireStub(t) || !files) return;
  const verdict = appraise(evidence(), inputs());
  assert.equal(verdict.pcrs.length, 24);
  const byOutcome = (outcome: string): number[] => verdict.pcrs.filter((p) => p.outcome === outcome).map((p) => p.pcr);
  assert.deepEqual(byOutcome('not-appraised'), [0, 1, 2, 3, 5, 6, 10, 15, 23]);
  assert.deepEqual(byOutcome('matches'), [4, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22]);
  for (const p of verdict.pcrs.filter((x) => x.outcome === 'not-appraised')) assert.match(p.rule, /^not appraised: .{20,}/);

  // A set with no rule for a quoted PCR cannot affirm: nothing goes unappraised silently.
  const values = references!.catalog.values;
  const withoutPcr10 = {
    ...references!.catalog,
    values: { sets: values.sets.map((s) => ({ ...s, pcrs: { sha256: Object.fromEntries(Object.entries(s.pcrs.sha256!).filter(([pcr]) => pcr !== '10')) } })) },
  };
  const refused = appraise(evidence(), { ...inputs(), references: withoutPcr10 });
  assert.equal(refused.status, 'contraindicated');
  assert.ok(refused.reasons.some((r) => r.reason === 'pcr-not-in-reference' && r.pcr === 10 && r.expected === '(no rule)'));

  // "any of these": a pinned PCR 0 accepts each listed value and refuses any other.
  const quoted0 = files.quotedPcrs.sha256!['0']!;
  const pin = (oneOf: string[]): AppraisalInputs['references'] => ({
    ...references!.catalog,
    values: { sets: values.sets.map((s) => ({ ...s, pcrs: { sha256: { ...s.pcrs.sha256, '0': { oneOf } } } })) },
  });
  assert.equal(appraise(evidence(), { ...inputs(), references: pin(['00'.repeat(32), quoted0]) }).status, 'affirming');
  const pinned = appraise(evidence(), { ...inputs(), references: pin(['00'.repeat(32)]) });
  assert.ok(pinned.reasons.some((r) => r.pcr === 0 && r.expected === `one of ${'00'.repeat(32)}` && r.actual === quoted0));
});

test('appraise: the policy sees the claims; deny rules contraindicate, warn rules make a warning', (t) => {
  if (!requireStub(t) || !files) return;
  const seen: { input?: Parameters<PolicyCheck>[0] } = {};
  const deny: PolicyCheck = (input) => {
    seen.input = input;
    return [{ rule: 'no-v1', action: 'deny', message: 'v1 is retired', expected: 'release != v1', actual: input.refs.composefsRelease ?? '' }];
  };
  const denied = appraise(evidence(), { ...inputs(), policy: deny, node: { name: 'node-1' } });
  assert.equal(denied.status, 'contraindicated');
  assert.deepEqual(
    denied.reasons.map((r) => [r.reason, r.rule, r.actual]),
    [['policy-failed', 'no-v1', 'v1']],
  );
  const input = seen.input;
  assert.ok(input);
  assert.equal(input.node.name, 'node-1');
  assert.deepEqual(input.refs.matchedReleases, ['v1']);
  const warned = appraise(evidence(), { ...inputs(), policy: () => [{ rule: 'old-firmware', action: 'warn', message: 'firmware is old' }] });
  assert.equal(warned.status, 'warning');
  assert.deepEqual(warned.reasons, []);
  assert.equal(warned.warnings[0]!.rule, 'old-firmware');
});

test('appraise: a forged PCR 12 event without digests never becomes a claim (repro: forged-claims)', (t) => {
  if (!requireStub(t) || !files) return;
  // An honest log plus one injected kernel command line event that carries no digest at all: it
  // extends nothing, so the log still replays — its data must not be believed.
  const forgedCmdline = kernelCommandLine(references!.catalog.composefsDigests.v2!) + ' init=/bin/sh';
  const events = loggedEvents();
  const at = events.findIndex((e) => e.pcr === 12);
  events.splice(at, 0, { pcr: 12, type: EventType.EV_IPL, data: utf16leBytes(forgedCmdline, true), digests: {} });
  const verdict = appraise({ ...evidence(), untrustedEventLog: encodeEventLog({ banks: ['sha1', 'sha256', 'sha384'], events }) }, inputs());
  assert.notEqual(verdict.claims?.kernelCmdline, forgedCmdline);
  assert.notEqual(verdict.composefsRelease, 'v2');
  assert.ok(!JSON.stringify(verdict.claims ?? {}).includes('init=/bin/sh'));
});

test('appraise: a forged PCR 12 event with real digests breaks the replay, so PCR 12 yields no claims', (t) => {
  if (!requireStub(t) || !files) return;
  const forgedCmdline = kernelCommandLine(references!.catalog.composefsDigests.v2!) + ' init=/bin/sh';
  const events = loggedEvents();
  const at = events.findIndex((e) => e.pcr === 12);
  const data = utf16leBytes(forgedCmdline, true);
  const genuine = events[at]!;
  events.splice(at, 0, {
    pcr: 12,
    type: EventType.EV_IPL,
    data,
    digests: Object.fromEntries(Object.keys(genuine.digests!).map((b) => [b, new Uint8Array(b === 'sha1' ? 20 : b === 'sha256' ? 32 : 48).fill(1)])),
  });
  const verdict = appraise({ ...evidence(), untrustedEventLog: encodeEventLog({ banks: ['sha1', 'sha256', 'sha384'], events }) }, inputs());
  assert.equal(verdict.status, 'contraindicated');
  assert.ok(verdict.reasons.some((r) => r.reason === 'log-does-not-replay' && r.pcr === 12));
  assert.equal(verdict.claims?.kernelCmdline, undefined, 'PCR 12 does not replay: no command line is claimed');
  assert.equal(verdict.composefsRelease, undefined);
});

test('appraise: another nonce, altered PCR values or no bound AK stop at the quote', (t) => {
  if (!requireStub(t) || !files) return;
  const replayed = appraise(evidence(), { ...inputs(), qualifyingData: new Uint8Array(32) });
  assert.deepEqual(
    replayed.reasons.map((r) => r.reason),
    ['quote-invalid'],
  );
  assert.match(replayed.reasons[0]!.message, /^ERR_QUOTE_NONCE_MISMATCH/);

  const values: PcrValues = { sha256: { ...files.quotedPcrs.sha256, '12': 'aa'.repeat(32) } };
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
  const events = loggedEvents();
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
  const sha1Scheme = { ...ak.value, parameters: { ...ak.value.parameters, scheme: { scheme: 0x0018, details: { hashAlg: 0x0004 } } } } as typeof ak.value;
  assert.deepEqual(attestationKeyProblems(sha1Scheme), ['the signing scheme hashes with TPM_ALG_SHA1 (sha256, sha384 or sha512 required)']);
  assert.deepEqual(attestationKeyProblems({ ...ak.value, nameAlg: 0x0004 }), ['nameAlg is TPM_ALG_SHA1 (sha256, sha384 or sha512 required)']);
  const ek = decode(structures.TPM2B_PUBLIC, files.ekPublic).value;
  const challenge = issueCredential(ek, ak, seededRandom('s', 'credential'));
  assert.equal(credentialMatches(challenge.expectedSecretSha256, new Uint8Array(32)), false);
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
