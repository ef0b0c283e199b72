// Issue 8 §4, the attacks on a running server (both stores), each refused with its reason and
// nothing released: replayed requests and quotes, a swapped ephemeral key, a response taken to
// another key, another node's AK or id, an AK never activated, and boots that differ from every
// release — edited command line and root image, unlisted signer, modified UKI, Secure Boot off,
// forged, truncated and reordered logs, PCRs the log does not explain, the forged-claims log.
// (Admin tokens, revoked nodes, unknown EKs and malformed or oversized bodies: admin.test.ts and
// e2e.test.ts.)
import assert from 'node:assert/strict';
import { compactDecrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { resumeEnrollment } from '../../src/agent/index.ts';
import { signRelease } from '../../src/demo/boot-chain.ts';
import { DEMO_DB_SIGNER, DEMO_UNLISTED_SIGNER } from '../../src/demo/demo-keys.ts';
import { certificateDatabase, kernelCommandLine, logEventsOf } from '../../src/demo/index.ts';
import { EventType, utf16leBytes, type EventToEncode } from '../../src/eventlog/index.ts';
import { hashBytes } from '../../src/hash/index.ts';
import { ProtocolError, qualifyingData, type AttestRequest, type AttestResponse } from '../../src/protocol/index.ts';
import { signImage } from '../../src/secureboot/index.ts';
import { TPM_ALG } from '../../src/tpm/index.ts';
import { attestNode, boot, enrollNode, serverTest, simNode, unreleasedCmdline, type BootOptions, type SimNode, type TestServer } from './helpers.ts';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

async function enrolled(s: TestServer, node: SimNode): Promise<string> {
  const queued = await enrollNode(s, node);
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${queued.enrollmentId}/approve`, {})).status, 200);
  const done = await resumeEnrollment(s.client, node.tpm, node, queued.enrollmentId);
  return (done as { nodeId: string }).nodeId;
}

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e;
  }
  assert.fail('expected a refusal');
}

/** An attestation request made by hand: the node's quote over a challenge, bound to an ephemeral key. */
async function attestRequest(s: TestServer, node: SimNode, nodeId: string, eventLog: Uint8Array) {
  const challenge = await s.client.challenge(nodeId);
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
  const jwk = (await exportJWK(publicKey)) as JWK & { x: string; y: string };
  const selection = [{ hash: TPM_ALG.SHA256, pcrs: challenge.pcrSelection[0]!.pcrs }];
  const quote = await node.tpm.quote(node.ak.ref, await qualifyingData(Buffer.from(challenge.nonce, 'base64url'), jwk), selection);
  const request: AttestRequest = {
    sessionId: challenge.sessionId,
    quote: { attest: b64(quote.quoted.bytes), signature: b64(quote.signatureBytes) },
    pcrValues: await node.tpm.pcrRead(selection),
    eventLog: b64(eventLog),
    ephemeralPublic: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
  };
  return { request, privateKey };
}

function refusedFor(response: AttestResponse, reason: string, what = ''): void {
  assert.equal(response.status, 'contraindicated', `${what}: ${JSON.stringify(response.reasons)}`);
  assert.equal(response.secrets, undefined);
  assert.ok(
    response.reasons.some((r) => r.reason === reason),
    `${what}: expected a ${reason} reason, got ${response.reasons.map((r) => r.reason).join(', ')}`,
  );
}

serverTest('replayed requests and quotes, a swapped ephemeral key and a response taken to another key are useless', async (t, s) => {
  const node = await simNode(t, 'replay');
  const nodeId = await enrolled(s, node);
  const eventLog = await boot(s, node);
  const genuine = await attestRequest(s, node, nodeId, eventLog);
  const answered = await s.client.attest(genuine.request);
  assert.equal(answered.status, 'affirming');
  assert.ok(answered.secrets);

  // The same request again: its session is spent.
  const replayed = await refusal(s.client.attest(genuine.request));
  assert.equal(replayed.code, 'ERR_ATTEST_SESSION_INVALID');
  assert.match(replayed.message, /already used/);

  // The old quote in a new session: it carries the old nonce.
  const fresh = await attestRequest(s, node, nodeId, eventLog);
  refusedFor(await s.client.attest({ ...genuine.request, sessionId: fresh.request.sessionId }), 'quote-invalid');

  // A man in the middle puts his own key in a fresh request: the quote names the node's key.
  const thief = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
  const thiefJwk = (await exportJWK(thief.publicKey)) as JWK & { x: string; y: string };
  const next = await attestRequest(s, node, nodeId, eventLog);
  refusedFor(await s.client.attest({ ...next.request, ephemeralPublic: { kty: 'EC', crv: 'P-256', x: thiefJwk.x, y: thiefJwk.y } }), 'quote-invalid');

  // The genuine response opens only with the node's ephemeral key.
  await assert.rejects(compactDecrypt(answered.secrets, thief.privateKey));
  const opened = await compactDecrypt(answered.secrets, genuine.privateKey);
  assert.equal((JSON.parse(Buffer.from(opened.plaintext).toString('utf8')) as { nodeId: string }).nodeId, nodeId);
});

serverTest("another node's AK, another node's id and an AK never activated get nothing", async (t, s) => {
  const victim = await simNode(t, 'victim');
  const attacker = await simNode(t, 'attacker');
  const victimId = await enrolled(s, victim);
  await enrolled(s, attacker);
  // The attacker's TPM boots a good release and asks for the victim's secrets.
  const stolen = await attestNode(s, attacker, victimId, await boot(s, attacker));
  refusedFor(stolen.response, 'quote-invalid');
  assert.equal(stolen.secrets, undefined);

  // Approved but never activated: the AK is not bound to the EK, so there is nothing to attest.
  const lazy = await simNode(t, 'lazy');
  const queued = await enrollNode(s, lazy);
  assert.equal((await s.admin('POST', `/v1/admin/nodes/${queued.enrollmentId}/approve`, {})).status, 200);
  const unbound = await refusal(s.client.challenge(queued.enrollmentId));
  assert.equal(unbound.code, 'ERR_NODE_UNKNOWN');
  assert.match(unbound.message, /never activated/);

  // A wrong answer to the credential challenge does not bind the AK.
  const challenge = await s.client.enrollment(queued.enrollmentId);
  assert.equal(challenge.status, 'activate');
  const wrong = await refusal(s.client.activate(challenge.enrollmentId, { secret: b64(new Uint8Array(32)) }));
  assert.equal(wrong.code, 'ERR_ENROLL_ACTIVATION_FAILED');
  // …and the challenge was used up by the wrong answer.
  assert.equal((await refusal(s.client.activate(challenge.enrollmentId, { secret: b64(new Uint8Array(32)) }))).code, 'ERR_ENROLL_NOT_FOUND');
});

/** Each tampered boot, on its own node, and the reason it must be refused for. */
function tamperedBoots(s: TestServer): { name: string; options: BootOptions; reason: string; rawLog?: (log: Uint8Array) => Uint8Array }[] {
  const v1 = s.refs.releases.find((r) => r.version === 'v1')!;
  const modifiedUki = new Uint8Array(v1.uki);
  // The last byte: inside the UKI's last section (the initrd), so the image still parses but measures differently.
  modifiedUki[modifiedUki.length - 1]! ^= 0xff;
  // The attacker booted another command line, then put the release's own PCR 9 and 12 events in the log.
  const genuine = logEventsOf(s.refs.references.find((r) => r.version === 'v1')!.prediction);
  const genuineCmdline = (events: EventToEncode[]): EventToEncode[] => {
    const byPcr = new Map([9, 12].map((pcr) => [pcr, genuine.filter((e) => e.pcr === pcr)]));
    return events.map((e) => byPcr.get(e.pcr)?.shift() ?? e);
  };
  return [
    { name: 'command line naming a root image of no release', options: { cmdline: unreleasedCmdline(s) }, reason: 'pcr-not-in-reference' },
    {
      name: 'UKI signed by a key the firmware db lists but no release uses',
      options: { firmware: { db: certificateDatabase(DEMO_UNLISTED_SIGNER.certificate) }, signedUki: signRelease(v1, DEMO_UNLISTED_SIGNER) },
      reason: 'pcr-not-in-reference',
    },
    { name: 'modified UKI', options: { signedUki: signImage(modifiedUki, DEMO_DB_SIGNER) }, reason: 'pcr-not-in-reference' },
    // What firmware measures with Secure Boot disabled: the SecureBoot variable reads 0 (log and TPM agree).
    { name: 'Secure Boot off', options: { extend: secureBootOff, edit: secureBootOff }, reason: 'policy-failed' },
    { name: 'log edited to show the release command line', options: { cmdline: unreleasedCmdline(s), edit: genuineCmdline }, reason: 'log-does-not-replay' },
    {
      name: 'event data forged under its digest',
      options: {
        edit: (events) =>
          events.map((e) => (e.pcr === 12 && e.type === EventType.EV_IPL ? { ...e, data: utf16leBytes(`${v1.cmdline} init=/bin/sh`, true) } : e)),
      },
      reason: 'event-data-forged',
    },
    { name: 'log truncated mid-event', options: {}, reason: 'event-log-malformed', rawLog: (log) => log.subarray(0, log.length - 7) },
    {
      name: 'two events of PCR 4 reordered',
      options: {
        edit: (events) => {
          const at = events.flatMap((e, i) => (e.pcr === 4 ? [i] : []));
          const out = [...events];
          [out[at[0]!], out[at[1]!]] = [out[at[1]!]!, out[at[0]!]!];
          return out;
        },
      },
      reason: 'log-does-not-replay',
    },
    {
      name: 'a measurement the log does not show',
      options: { extend: (events) => [...events, { pcr: 14, type: EventType.EV_IPL, data: new Uint8Array([1]), digests: digestsOf(new Uint8Array([1])) }] },
      reason: 'log-does-not-replay',
    },
  ];
}

const SECURE_BOOT_NAME = Buffer.from('SecureBoot', 'utf16le');

/** The boot's events with the SecureBoot variable (UEFI_VARIABLE_DATA, its one data byte last) measured as 0. */
function secureBootOff(events: EventToEncode[]): EventToEncode[] {
  return events.map((e) => {
    if (e.pcr !== 7 || e.type !== EventType.EV_EFI_VARIABLE_DRIVER_CONFIG || !Buffer.from(e.data).includes(SECURE_BOOT_NAME)) return e;
    const data = new Uint8Array(e.data);
    data[data.length - 1] = 0;
    return { ...e, data, digests: digestsOf(data) };
  });
}

function digestsOf(data: Uint8Array): EventToEncode['digests'] {
  return { sha1: hashBytes('sha1', data), sha256: hashBytes('sha256', data), sha384: hashBytes('sha384', data) };
}

serverTest('boots that differ from every release are refused, each with its reason', async (t, s) => {
  for (const [i, tamper] of tamperedBoots(s).entries()) {
    const node = await simNode(t, `tampered-${i}`);
    const nodeId = await enrolled(s, node);
    const log = await boot(s, node, tamper.options);
    const outcome = await attestNode(s, node, nodeId, tamper.rawLog ? tamper.rawLog(log) : log);
    assert.equal(outcome.secrets, undefined, tamper.name);
    refusedFor(outcome.response, tamper.reason, tamper.name);
  }
});

serverTest('the forged-claims log: an injected command line event without digests is never a claim', async (t, s) => {
  const node = await simNode(t, 'forged-claims');
  const nodeId = await enrolled(s, node);
  const forged = `${kernelCommandLine(s.refs.catalog.composefsDigests.v2!)} init=/bin/sh`;
  const log = await boot(s, node, {
    edit: (events) => {
      const at = events.findIndex((e) => e.pcr === 12);
      return [...events.slice(0, at), { pcr: 12, type: EventType.EV_IPL, data: utf16leBytes(forged, true), digests: {} }, ...events.slice(at)];
    },
  });
  const outcome = await attestNode(s, node, nodeId, log);
  const detail = await s.admin('GET', `/v1/admin/results/${outcome.response.resultId}`);
  const verdict = (detail.body as { verdict: { claims?: unknown; composefsRelease?: string } }).verdict;
  assert.ok(!JSON.stringify(verdict.claims ?? {}).includes('init=/bin/sh'), 'the forged command line is not a claim');
  assert.notEqual(verdict.composefsRelease, 'v2');
  // Whatever the verdict, v2's root image was not released on the strength of the forged event.
  if (outcome.response.status === 'affirming') assert.deepEqual((detail.body as { result: { release: string } }).result.release, 'v1');
});
