// Attestation and key release, the server's half (docs/design.md "Attestation and key release"): a
// single-use challenge in the database (any replica finishes it), then the evidence appraised with
// the node's bound AK, the accepted reference sets and the active policy, the result stored with
// its evidence, an EAR signed, and — only when affirming and the node is not revoked — the node's
// secrets encrypted to the agent's ephemeral key, the release audited in the same transaction.
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { SECRET_NAMES } from '../broker/index.ts';
import type { PcrValues } from '../hash/index.ts';
import {
  ProtocolError,
  qualifyingData,
  type AttestRequest,
  type AttestResponse,
  type ChallengeResponse,
  type ReleasedSecrets,
  type VerdictReasonSchema,
} from '../protocol/index.ts';
import { StoreError, type AuditEntry, type NodeRecord, type Repositories } from '../store/index.ts';
import { decode, structures } from '../tpm/index.ts';
import { appraise, earClaims, type NodeFacts, type Reason, type Verdict } from '../verifier/index.ts';
import type { Static } from 'typebox';
import type { Catalog } from './catalog.ts';
import { b64, unb64, type ServerContext } from './context.ts';
import { recordNodeEvent } from './events.ts';
import { tpmSelection, type EvidenceBinding } from './recorded.ts';
import { BOOTSTRAP_GROUPS, BOOTSTRAP_USAGES, bootstrapJoin, checkKubeletCsr, newBootstrapToken, signKubeletCertificate } from './join.ts';

const NONCE_BYTES = 32;
/** The JWE the secrets travel in (docs/design.md step 4): ECDH-ES key agreement with the agent's ephemeral key. */
const RELEASE_KEY_ALGORITHM = 'ECDH-ES+A256KW';
const RELEASE_CONTENT_ALGORITHM = 'A256GCM';
/** Named in an EAR when no policy is active: the reference values alone decided. */
const NO_POLICY_ID = 'vouch:reference-values-only';

type WireReason = Static<typeof VerdictReasonSchema>;

/** A node that may attest: enrolled (or revoked, which is appraised but never released to) with a bound AK. */
async function attestingNode(store: Repositories, nodeId: string): Promise<NodeRecord> {
  const node = await store.nodes.get(nodeId);
  if (!node) throw new ProtocolError('ERR_NODE_UNKNOWN', `no node ${nodeId}`, { nodeId });
  if (node.boundAt === null || (node.status !== 'enrolled' && node.status !== 'revoked')) {
    throw new ProtocolError('ERR_NODE_UNKNOWN', `node ${node.name} has not completed enrollment: its AK was never activated`, { nodeId, status: node.status });
  }
  return node;
}

/** POST /v1/attest/challenge. */
export async function challenge(ctx: ServerContext, nodeId: string): Promise<ChallengeResponse> {
  await attestingNode(ctx.store, nodeId);
  const selection = ctx.config.attestation.pcrSelection;
  const session = await ctx.store.attestationSessions.create({
    nodeId,
    pcrSelection: Object.fromEntries(selection.map((s) => [s.bank, s.pcrs])),
    ttlMs: ctx.config.attestation.sessionTtlMs,
    nonce: ctx.random(NONCE_BYTES),
  });
  return {
    sessionId: session.id,
    nonce: b64(session.nonce),
    expiresAt: new Date(session.expiresAt).toISOString(),
    pcrSelection: selection.map((s) => ({ bank: s.bank, pcrs: [...s.pcrs] })),
  };
}

function wireReason(r: Reason): WireReason {
  return {
    reason: r.reason,
    message: r.message,
    ...(r.pcr !== undefined ? { pcr: r.pcr } : {}),
    ...(r.bank !== undefined ? { bank: r.bank } : {}),
    ...(r.rule !== undefined ? { rule: r.rule } : {}),
    ...(r.expected !== undefined ? { expected: r.expected } : {}),
    ...(r.actual !== undefined ? { actual: r.actual } : {}),
  };
}

/** Every reason of a verdict, refusals first, as the protocol carries them. */
export function verdictReasons(verdict: Verdict): WireReason[] {
  return [...verdict.reasons, ...verdict.warnings].map(wireReason);
}

/** What a policy may read of the node: the server's record, never the node's word. */
export function nodeFacts(node: NodeRecord): NodeFacts {
  return {
    id: node.id,
    name: node.name,
    ekKind: node.ekKind,
    ekCertified: node.ekCertificate !== null,
    revoked: node.status === 'revoked',
    ...(node.currentRelease !== null ? { currentRelease: node.currentRelease } : {}),
  };
}

/** The policy id an EAR names. */
export function policyId(catalog: Catalog): string {
  return catalog.policy ? `vouch:policy/${catalog.policy.version}` : NO_POLICY_ID;
}

async function consumeSession(store: Repositories, sessionId: string) {
  try {
    return await store.attestationSessions.consume(sessionId);
  } catch (e) {
    if (e instanceof StoreError && ['ERR_STORE_NOT_FOUND', 'ERR_STORE_CONSUMED', 'ERR_STORE_EXPIRED'].includes(e.code)) {
      throw new ProtocolError('ERR_ATTEST_SESSION_INVALID', `attestation session ${sessionId}: ${e.message}`, { reason: e.code }, { cause: e });
    }
    throw e;
  }
}

export interface AttestationOutcome {
  readonly response: AttestResponse;
  /** Node events committed with it (for webhooks). */
  readonly events: readonly AuditEntry[];
}

/** POST /v1/attest. */
export async function attest(ctx: ServerContext, request: AttestRequest): Promise<AttestationOutcome> {
  // Used once, whatever follows: a replayed quote finds its session consumed.
  const session = await consumeSession(ctx.store, request.sessionId);
  const node = await attestingNode(ctx.store, session.nodeId);
  const kubelet = ctx.clusterCa && request.csr !== undefined ? await checkKubeletCsr(request.csr, node.name) : undefined;

  const nonce = session.nonce;
  const ephemeralPublic = request.ephemeralPublic as JWK;
  const expected = await qualifyingData(nonce, ephemeralPublic);
  const catalog = await ctx.catalog.current();
  const now = ctx.now();
  const evidence = {
    untrustedAttest: unb64(request.quote.attest),
    untrustedSignature: unb64(request.quote.signature),
    untrustedPcrs: request.pcrValues as PcrValues,
    untrustedEventLog: unb64(request.eventLog),
  };
  const selection = Object.entries(session.pcrSelection).map(([bank, pcrs]) => ({ bank, pcrs }));
  const stopTimer = ctx.metrics.appraisalSeconds.startTimer();
  const verdict = appraise(evidence, {
    boundAk: decode(structures.TPM2B_PUBLIC, node.akPublic, 'akPublic').value,
    qualifyingData: expected,
    selection: tpmSelection(selection),
    references: catalog.references,
    ...(catalog.policy ? { policy: catalog.policy.check } : {}),
    node: nodeFacts(node),
    now,
  });
  stopTimer();
  ctx.metrics.attestations.inc({ status: verdict.status });

  const ear = await ctx.keys.sign(
    earClaims(verdict, {
      nodeId: node.id,
      policyId: policyId(catalog),
      nonce: b64(nonce),
      issuer: ctx.config.issuer,
      verifierBuild: ctx.verifierBuild,
      lifetimeSeconds: ctx.config.attestation.resultLifetimeSeconds,
    }),
  );
  const release = verdict.matchedReleases[0] ?? null;
  const releasing = verdict.status === 'affirming' && node.status === 'enrolled';
  const reasons = verdictReasons(verdict);

  const outcome = await ctx.store.transaction(async (tx) => {
    const result = await tx.results.record({
      nodeId: node.id,
      sessionId: session.id,
      status: verdict.status,
      policyVersion: catalog.policy?.version ?? null,
      release,
      verdict,
      ear,
      evidence: {
        quoteAttest: evidence.untrustedAttest,
        quoteSignature: evidence.untrustedSignature,
        pcrValues: request.pcrValues,
        eventLog: evidence.untrustedEventLog,
        claims: {
          ephemeralPublic: request.ephemeralPublic,
          binding: { akPublic: b64(node.akPublic), qualifyingData: b64(expected), pcrSelection: selection, referenceVersions: catalog.referenceVersions },
        } satisfies EvidenceBinding,
      },
    });
    const actor = `node:${node.id}`;
    await tx.audit.append({
      actor,
      action: 'attestation.decision',
      subject: node.id,
      details: {
        resultId: result.id,
        status: verdict.status,
        release,
        policyVersion: catalog.policy?.version ?? null,
        reasons: verdict.reasons.map((r) => r.reason),
      },
    });
    const events: AuditEntry[] = [];
    if (node.lastAttestationStatus !== verdict.status || (verdict.status === 'affirming' && node.currentRelease !== release)) {
      events.push(await recordNodeEvent(tx, 'node.attestation-changed', await tx.nodes.require(node.id), actor, { resultId: result.id }));
    }
    const response: AttestResponse = {
      resultId: result.id,
      status: verdict.status,
      result: ear,
      reasons,
      ...(node.status === 'revoked' ? { revoked: true } : {}),
    };
    if (!releasing) return { response, events };
    const secrets = await releasedSecrets(ctx, tx, node, kubelet, now);
    await tx.audit.append({
      actor,
      action: 'secrets.released',
      subject: node.id,
      details: { resultId: result.id, secrets: secrets.names, join: secrets.value.join?.kind ?? null },
    });
    const jwe = await encryptTo(ephemeralPublic, secrets.value);
    return { response: { ...response, secrets: jwe }, events };
  });
  if (releasing) ctx.metrics.releases.inc();
  return outcome;
}

/** The node's secrets for this release: its disk key and a fresh join credential. */
async function releasedSecrets(
  ctx: ServerContext,
  tx: Repositories,
  node: NodeRecord,
  kubelet: Awaited<ReturnType<typeof checkKubeletCsr>> | undefined,
  now: Date,
): Promise<{ value: ReleasedSecrets; names: string[] }> {
  using diskKey = await ctx.broker.within(tx).read(node.id, SECRET_NAMES.luksKey);
  if (!diskKey) throw new Error(`enrolled node ${node.id} has no disk key`);
  const value: ReleasedSecrets = { nodeId: node.id, diskKey: b64(diskKey.value) };
  const names = [`${SECRET_NAMES.luksKey}@${diskKey.version}`];
  const join = ctx.config.join;
  if (join.kind === 'kubeadm-bootstrap-token') {
    // A fresh token per release, short-lived: a token lifted from one boot expires with it.
    const token = newBootstrapToken(node.name, new Date(now.getTime() + join.tokenTtlMs));
    await tx.bootstrapTokens.record({
      token: token.token,
      nodeId: node.id,
      expiresAt: token.expiresAt.getTime(),
      usages: BOOTSTRAP_USAGES,
      groups: BOOTSTRAP_GROUPS,
      description: token.description,
    });
    return { value: { ...value, join: bootstrapJoin(token) }, names: [...names, `bootstrap-token:${token.token.slice(0, 6)}`] };
  }
  if (join.kind === 'kubelet-client-certificate' && ctx.clusterCa && kubelet) {
    const credential = await signKubeletCertificate(ctx.clusterCa, kubelet, node.name, now, join.certificateDays);
    return { value: { ...value, join: credential }, names: [...names, 'kubelet-client-certificate'] };
  }
  return { value, names };
}

async function encryptTo(ephemeralPublic: JWK, secrets: ReleasedSecrets): Promise<string> {
  const key = await importJWK({ ...ephemeralPublic, alg: RELEASE_KEY_ALGORITHM }, RELEASE_KEY_ALGORITHM);
  const plaintext = new TextEncoder().encode(JSON.stringify(secrets));
  try {
    return await new CompactEncrypt(plaintext).setProtectedHeader({ alg: RELEASE_KEY_ALGORITHM, enc: RELEASE_CONTENT_ALGORITHM }).encrypt(key);
  } finally {
    plaintext.fill(0);
  }
}
