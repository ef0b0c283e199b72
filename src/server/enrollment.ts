// Enrollment, the server's half (docs/design.md "Enrollment"): an EK is accepted by its certificate
// (chained to a configured manufacturer root and certifying exactly this key) or by the allowlist,
// else it waits for an operator (or is refused when the server keeps no approval queue); the AK's
// attributes are checked; MakeCredential binds a fresh secret S to (EK, Name(AK)) and only H(S) is
// kept, for a short time and one answer. A correct answer binds the AK and makes the node's secrets.
//
// Re-enrollment of a known EK (a reinstalled node): the node keeps its id, name and secrets (its
// disk key above all: the data on its disk stays readable), and a new AK needs a new activation;
// until it succeeds the bound AK stays, so nobody who merely knows the EK's public key can unbind
// a node. A revoked node cannot re-enroll itself out of revocation, nor a denied one out of denial.
import { toHex } from '../bytes/index.ts';
import { isVouchError } from '../errors/index.ts';
import { ProtocolError, type ActivateResponse, type EnrollRequest, type EnrollResponse } from '../protocol/index.ts';
import { StoreError, type NodeRecord, type NodeStatus, type Repositories } from '../store/index.ts';
import { SECRET_NAMES } from '../broker/index.ts';
import { TPM_ALG, decode, encode, objectName, structures, type Sized } from '../tpm/index.ts';
import {
  attestationKeyProblems,
  credentialMatches,
  issueCredential,
  validateAkCertificate,
  validateEkCertificate,
  EndorsementProblemCode,
  type EndorsementResult,
} from '../verifier/index.ts';
import { b64, unb64, type ServerContext } from './context.ts';
import { recordNodeEvent } from './events.ts';
import type { AuditEntry } from '../store/index.ts';

type TpmtPublic = structures.TPMT_PUBLIC;

function tpmPublic(field: string, text: string): Sized<TpmtPublic> {
  try {
    return decode(structures.TPM2B_PUBLIC, unb64(text), field);
  } catch (e) {
    if (!isVouchError(e)) throw e;
    throw new ProtocolError('ERR_REQUEST_INVALID', `${field} is not a TPM2B_PUBLIC: ${e.message}`, { field }, { cause: e });
  }
}

/** An EK is a restricted decryption key of the TPM (TCG EK Credential Profile §2.1.5). */
function endorsementKeyProblems(ek: TpmtPublic): string[] {
  const a = ek.objectAttributes;
  const problems: string[] = [];
  if (ek.type !== TPM_ALG.RSA && ek.type !== TPM_ALG.ECC) problems.push('it is neither an RSA nor an ECC key');
  if (!a.restricted || !a.decrypt || a.sign) problems.push('it is not a restricted decryption key');
  if (!a.fixedTPM || !a.fixedParent) problems.push('it is not fixed to its TPM');
  return problems;
}

/** Problems a queue cannot fix: a certificate for some other key, or no certificate at all. */
const DISQUALIFYING = new Set<string>([EndorsementProblemCode.keyMismatch, EndorsementProblemCode.unparsable]);

function describeProblems(result: EndorsementResult): string {
  return result.problems.map((p) => p.message).join('; ');
}

interface KeysInRequest {
  readonly ek: Sized<TpmtPublic>;
  readonly ak: Sized<TpmtPublic>;
  readonly ekName: Uint8Array;
  readonly akName: Uint8Array;
}

function keysOf(request: EnrollRequest): KeysInRequest {
  const ek = tpmPublic('ekPublic', request.ekPublic);
  const ak = tpmPublic('akPublic', request.akPublic);
  const ekProblems = endorsementKeyProblems(ek.value);
  if (ekProblems.length) throw new ProtocolError('ERR_REQUEST_INVALID', `ekPublic is no endorsement key: ${ekProblems.join('; ')}`, { field: 'ekPublic' });
  const akProblems = attestationKeyProblems(ak.value);
  if (akProblems.length) throw new ProtocolError('ERR_ENROLL_AK_INVALID', `the AK cannot vouch for quotes: ${akProblems.join('; ')}`, { problems: akProblems });
  return { ek, ak, ekName: objectName(ek), akName: objectName(ak) };
}

/** Issues a credential challenge for (EK, AK): the node must answer it to bind the AK. */
async function challenge(ctx: ServerContext, tx: Repositories, node: NodeRecord, ek: TpmtPublic, ak: Sized<TpmtPublic>): Promise<EnrollResponse> {
  const credential = issueCredential(ek, ak, ctx.random);
  const created = await tx.enrollmentChallenges.create({
    nodeId: node.id,
    secretHash: credential.expectedSecretSha256,
    ttlMs: ctx.config.enrollment.challengeTtlMs,
    ak: { akPublic: encodeTpm2bPublic(ak), akName: objectName(ak) },
  });
  ctx.metrics.enrollments.inc({ outcome: 'challenged' });
  return {
    enrollmentId: created.id,
    status: 'activate',
    credential: {
      credentialBlob: b64(credential.blob.credentialBlob),
      encryptedSecret: b64(credential.blob.secret),
      expiresAt: new Date(created.expiresAt).toISOString(),
    },
  };
}

function encodeTpm2bPublic(key: Sized<TpmtPublic>): Uint8Array {
  return encode(structures.TPM2B_PUBLIC, key);
}

async function nameConflict<T>(hostname: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StoreError && e.code === 'ERR_STORE_CONFLICT') {
      throw new ProtocolError('ERR_RESOURCE_CONFLICT', `the name ${hostname} (or this EK) is already enrolled with another TPM`, { hostname }, { cause: e });
    }
    throw e;
  }
}

/** The node record of a first enrollment; a name or EK already enrolled is ERR_RESOURCE_CONFLICT. */
function createNode(
  tx: Repositories,
  request: EnrollRequest,
  keys: KeysInRequest,
  ekCertificate: Uint8Array | undefined,
  status: NodeStatus,
): Promise<NodeRecord> {
  return nameConflict(request.hostname, () =>
    tx.nodes.create({
      name: request.hostname,
      status,
      ekPublic: unb64(request.ekPublic),
      ekName: keys.ekName,
      ekKind: keys.ek.value.type === TPM_ALG.RSA ? 'rsa' : 'ecc',
      ekCertificate: ekCertificate ?? null,
      akPublic: unb64(request.akPublic),
      akName: keys.akName,
    }),
  );
}

export interface EnrollmentResult {
  readonly response: EnrollResponse;
  /** Node events committed with it (for webhooks). */
  readonly events: readonly AuditEntry[];
}

/** POST /v1/enroll. */
export async function enroll(ctx: ServerContext, request: EnrollRequest): Promise<EnrollmentResult> {
  const keys = keysOf(request);
  const existing = await ctx.store.nodes.getByEkName(keys.ekName);
  if (existing) return { response: await reenroll(ctx, existing, keys), events: [] };

  const now = ctx.now();
  const cfg = ctx.config.enrollment;
  const ekCertificate = request.ekCertificate === undefined ? undefined : unb64(request.ekCertificate);

  // Cloud mode: the cloud's vTPM CA certifies the AK itself, which replaces credential activation.
  if (request.akCertificate !== undefined && cfg.cloudAkRoots.length > 0) {
    const result = await validateAkCertificate(unb64(request.akCertificate), keys.ak.value, {
      roots: cfg.cloudAkRoots,
      intermediates: cfg.cloudAkIntermediates,
      now,
    });
    if (!result.valid) {
      ctx.metrics.enrollments.inc({ outcome: 'refused' });
      throw new ProtocolError('ERR_ENROLL_AK_INVALID', `the AK certificate does not vouch for this AK: ${describeProblems(result)}`, {
        problems: result.problems.map((p) => p.code),
      });
    }
    return await ctx.store.transaction(async (tx) => {
      const node = await createNode(tx, request, keys, ekCertificate, 'enrolled');
      await ctx.broker.within(tx).generate(node.id, SECRET_NAMES.luksKey);
      const event = await recordNodeEvent(tx, 'node.enrolled', node, `node:${node.id}`, { by: 'cloud-ak-certificate', akName: toHex(keys.akName) });
      ctx.metrics.enrollments.inc({ outcome: 'enrolled' });
      return { response: { enrollmentId: node.id, status: 'enrolled', nodeId: node.id }, events: [event] };
    });
  }

  let accepted: string | undefined;
  let why = 'the EK has no certificate and is not on the allowlist';
  if (ekCertificate !== undefined && cfg.ekRoots.length > 0) {
    const result = await validateEkCertificate(ekCertificate, keys.ek.value, { roots: cfg.ekRoots, intermediates: cfg.ekIntermediates, now });
    if (result.valid) accepted = 'ek-certificate';
    else {
      why = `the EK certificate does not validate: ${describeProblems(result)}`;
      // A certificate of another key is an attempt to pass off this TPM as a certified one.
      if (result.problems.some((p) => DISQUALIFYING.has(p.code))) {
        ctx.metrics.enrollments.inc({ outcome: 'refused' });
        throw new ProtocolError('ERR_ENROLL_EK_UNTRUSTED', why, { problems: result.problems.map((p) => p.code) });
      }
    }
  } else if (ekCertificate !== undefined) {
    why = 'no EK certificate roots are configured';
  }
  if (accepted === undefined && cfg.ekAllowlist.has(toHex(keys.ekName))) accepted = 'allowlist';
  if (accepted === undefined && !cfg.approvalQueue) {
    ctx.metrics.enrollments.inc({ outcome: 'refused' });
    throw new ProtocolError('ERR_ENROLL_EK_UNTRUSTED', `${why}, and this server keeps no approval queue`, {});
  }
  const by = accepted;
  return await ctx.store.transaction(async (tx) => {
    const node = await createNode(tx, request, keys, ekCertificate, by === undefined ? 'pending-approval' : 'pending-activation');
    if (by === undefined) {
      const event = await recordNodeEvent(tx, 'node.pending-approval', node, `node:${node.id}`, { reason: why });
      ctx.metrics.enrollments.inc({ outcome: 'queued' });
      return { response: { enrollmentId: node.id, status: 'pending-approval', reason: why }, events: [event] };
    }
    await tx.audit.append({ actor: `node:${node.id}`, action: 'enroll.accepted', subject: node.id, details: { name: node.name, by } });
    return { response: await challenge(ctx, tx, node, keys.ek.value, keys.ak), events: [] };
  });
}

/** A known EK enrolls again: a new credential challenge for the AK it brings (see the top of this file). */
async function reenroll(ctx: ServerContext, node: NodeRecord, keys: KeysInRequest): Promise<EnrollResponse> {
  switch (node.status) {
    case 'revoked':
      if (node.boundAt === null) throw new ProtocolError('ERR_ENROLL_DENIED', `the enrollment of ${node.name} was denied by an operator`, { nodeId: node.id });
      throw new ProtocolError('ERR_NODE_REVOKED', `node ${node.name} is revoked; an operator must unrevoke it`, { nodeId: node.id });
    case 'pending-approval':
      // Not bound yet: the AK waiting with the approval is the newest one the node brought.
      if (toHex(node.akName) !== toHex(keys.akName)) await ctx.store.nodes.replaceAk(node.id, encodeTpm2bPublic(keys.ak), keys.akName);
      return { enrollmentId: node.id, status: 'pending-approval', reason: 'waiting for an operator to approve this EK' };
    case 'pending-activation':
    case 'enrolled':
      return await ctx.store.transaction((tx) => challenge(ctx, tx, node, keys.ek.value, keys.ak));
  }
}

/** GET /v1/enroll/{id}: an enrollment that waited for approval, polled by the node. */
export async function enrollmentStatus(ctx: ServerContext, enrollmentId: string): Promise<EnrollResponse> {
  const node = await ctx.store.nodes.get(enrollmentId);
  if (!node) throw new ProtocolError('ERR_ENROLL_NOT_FOUND', `no pending enrollment ${enrollmentId}`, {});
  switch (node.status) {
    case 'pending-approval':
      return { enrollmentId: node.id, status: 'pending-approval', reason: 'waiting for an operator to approve this EK' };
    case 'revoked':
      if (node.boundAt === null) return { enrollmentId: node.id, status: 'denied', reason: 'an operator denied this enrollment' };
      throw new ProtocolError('ERR_NODE_REVOKED', `node ${node.name} is revoked`, { nodeId: node.id });
    case 'enrolled':
      return { enrollmentId: node.id, status: 'enrolled', nodeId: node.id };
    case 'pending-activation': {
      const ek = decode(structures.TPM2B_PUBLIC, node.ekPublic, 'ekPublic').value;
      const ak = decode(structures.TPM2B_PUBLIC, node.akPublic, 'akPublic');
      return await ctx.store.transaction((tx) => challenge(ctx, tx, node, ek, ak));
    }
  }
}

/** POST /v1/enroll/{id}/activate: the node's answer to a credential challenge. */
export async function activate(ctx: ServerContext, challengeId: string, secretText: string): Promise<{ response: ActivateResponse; events: AuditEntry[] }> {
  let used;
  try {
    used = await ctx.store.enrollmentChallenges.consume(challengeId);
  } catch (e) {
    if (e instanceof StoreError && ['ERR_STORE_NOT_FOUND', 'ERR_STORE_CONSUMED', 'ERR_STORE_EXPIRED'].includes(e.code)) {
      throw new ProtocolError('ERR_ENROLL_NOT_FOUND', `credential challenge ${challengeId}: ${e.message}`, { reason: e.code }, { cause: e });
    }
    throw e;
  }
  const secret = unb64(secretText);
  const matches = credentialMatches(used.secretHash, secret);
  secret.fill(0);
  if (!matches) {
    await ctx.store.audit.append({ actor: `node:${used.nodeId}`, action: 'enroll.activation-failed', subject: used.nodeId, details: { challengeId } });
    ctx.metrics.enrollments.inc({ outcome: 'activation-failed' });
    throw new ProtocolError('ERR_ENROLL_ACTIVATION_FAILED', 'the answer is not the credential issued: this AK is not in the TPM of this EK', {});
  }
  return await ctx.store.transaction(async (tx) => {
    const before = await tx.nodes.require(used.nodeId);
    const ak = used.ak ?? { akPublic: before.akPublic, akName: before.akName };
    let node: NodeRecord;
    try {
      node = await tx.nodes.bind(before.id, ak);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'ERR_STORE_CONFLICT') {
        throw new ProtocolError(before.status === 'revoked' ? 'ERR_NODE_REVOKED' : 'ERR_ENROLL_NOT_FOUND', e.message, { nodeId: before.id }, { cause: e });
      }
      throw e;
    }
    // A reinstalled node keeps its disk key: only a node that never had one gets a new one.
    if ((await tx.secrets.get(node.id, SECRET_NAMES.luksKey)) === undefined) await ctx.broker.within(tx).generate(node.id, SECRET_NAMES.luksKey);
    const event = await recordNodeEvent(tx, 'node.enrolled', node, `node:${node.id}`, {
      by: 'credential-activation',
      akName: toHex(ak.akName),
      reenrolled: before.boundAt !== null,
    });
    ctx.metrics.enrollments.inc({ outcome: 'enrolled' });
    return { response: { nodeId: node.id, status: 'enrolled' }, events: [event] };
  });
}
