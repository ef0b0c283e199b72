// What `vouch agent …` and the clevis pin do on a node, over the protocol halves of
// ./attestation.ts: enrollment with the state directory kept, and one attestation with its retries,
// its outcome turned into the agent's errors (refused, revoked), and the last result recorded. The
// ephemeral key and the released secrets never leave memory; the state directory gets only what is
// public (AK blobs wrapped by the TPM, the node record, the signed attestation result).
import { hostname as osHostname } from 'node:os';
import { isVouchError } from '../errors/index.ts';
import { EventLogLimits } from '../eventlog/index.ts';
import { readFileUpTo } from '../io/index.ts';
import type { ReleasedSecrets } from '../protocol/index.ts';
import { Tpm, type Loaded } from '../tpm/index.ts';
import { createAk, loadAk, writeAk } from './ak.ts';
import { attest, enroll, resumeEnrollment, type AttestOutcome } from './attestation.ts';
import { VouchClient } from './client.ts';
import { openEndorsementKey } from './ek.ts';
import { AgentError } from './errors.ts';
import { withRetry, type RetryOptions } from './retry.ts';
import {
  prepareStateDir,
  readEnrolledState,
  readNodeRecord,
  readStateAk,
  writeLastResult,
  writeNodeRecord,
  type AgentState,
  type NodeRecord,
} from './state.ts';

export const DEFAULT_TPM = 'device:/dev/tpmrm0';
export const DEFAULT_EVENT_LOG = '/sys/kernel/security/tpm0/binary_bios_measurements';

/** Everything an agent operation needs to know about this node's surroundings. */
export interface AgentSettings {
  readonly stateDir: string;
  readonly tpm: string;
  readonly eventLog: string;
  /** The server to talk to; default: the one the node enrolled with. */
  readonly server?: string;
  /** PEM of the server's certificate or CA; default: the one pinned at enrollment. */
  readonly serverCa?: string;
  /** Retries of a call the server may answer later (unreachable, draining, rate-limited). */
  readonly retry: Omit<RetryOptions, 'onRetry'>;
  readonly timeoutMs?: number;
  /** Progress lines (stderr); never given anything secret. */
  readonly log: (line: string) => void;
}

/** TPM-layer failures (transport, response codes, simulator) as the agent's one TPM error, with the layer's code kept. */
function asAgentTpmError(uri: string, e: unknown): unknown {
  if (!isVouchError(e) || !e.code.startsWith('ERR_TPM_')) return e;
  return new AgentError('ERR_AGENT_TPM', `TPM ${uri}: ${e.code}: ${e.message}`, { tpm: uri, tpmCode: e.code, ...e.details }, { cause: e });
}

/** Opens and starts the TPM, runs `fn`, closes it; TPM failures become ERR_AGENT_TPM. */
export async function withAgentTpm<T>(uri: string, fn: (tpm: Tpm) => Promise<T>): Promise<T> {
  let tpm: Tpm;
  try {
    tpm = await Tpm.open(uri);
    await tpm.startup();
  } catch (e) {
    throw asAgentTpmError(uri, e);
  }
  try {
    return await fn(tpm);
  } catch (e) {
    throw asAgentTpmError(uri, e);
  } finally {
    await tpm.close();
  }
}

function clientFor(settings: AgentSettings, node?: NodeRecord): VouchClient {
  const server = settings.server ?? node?.server;
  if (server === undefined) throw new AgentError('ERR_AGENT_NOT_ENROLLED', 'no --server given and the state directory names none', {});
  const ca = settings.serverCa ?? (settings.server === undefined || new URL(settings.server).origin === node?.server ? node?.serverCa : undefined);
  return new VouchClient({ server, ...(ca !== undefined ? { ca } : {}), ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}) });
}

function retrying<T>(settings: AgentSettings, what: string, fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, {
    ...settings.retry,
    onRetry: (e, attempt, waitMs) => {
      settings.log(`${what}: ${(e as Error).message} (attempt ${attempt} of ${settings.retry.attempts}); retrying in ${waitMs} ms`);
    },
  });
}

/** A hostname the protocol accepts: the system's, lower-cased. */
export function defaultHostname(): string {
  return osHostname().toLowerCase();
}

export type EnrollReport =
  | { readonly status: 'enrolled'; readonly nodeId: string; readonly server: string; readonly akName: string; readonly alreadyEnrolled: boolean }
  | { readonly status: 'pending-approval'; readonly enrollmentId: string; readonly server: string; readonly reason?: string };

/**
 * Enrolls this node (or finishes an enrollment that waited for approval): an AK under the SRK
 * (made once and kept in the state directory), the EK its certificate names, credential activation.
 * An enrolled state directory is left as it is.
 */
export async function enrollNode(settings: AgentSettings, hostname: string): Promise<EnrollReport> {
  await prepareStateDir(settings.stateDir);
  const existing = await readNodeRecord(settings.stateDir);
  if (existing?.status === 'enrolled' && existing.nodeId !== undefined) {
    return { status: 'enrolled', nodeId: existing.nodeId, server: existing.server, akName: existing.akName, alreadyEnrolled: true };
  }
  const client = clientFor(settings, existing);
  return withAgentTpm(settings.tpm, async (tpm) => {
    let blobs = await readStateAk(settings.stateDir);
    if (!blobs) {
      blobs = await createAk(tpm, 'ecc', 'ecdsa');
      await writeAk(settings.stateDir, blobs);
      settings.log(`AK created: ${blobs.descriptor.name}`);
    }
    const ek = await openEndorsementKey(tpm, existing?.ekAlg);
    let ak: Loaded | undefined;
    try {
      ak = await loadAk(tpm, blobs, settings.stateDir);
      const loaded = ak;
      settings.log(`EK: ${ek.alg}${ek.certificate ? ', with its certificate from NV' : ', no EK certificate in NV'}`);
      const outcome = await retrying(settings, 'enrollment', () =>
        existing
          ? resumeEnrollment(client, tpm, { ek: ek.key, ak: loaded }, existing.enrollmentId)
          : enroll(client, tpm, { ek: ek.key, ak: loaded, hostname, ...(ek.certificate ? { ekCertificate: ek.certificate } : {}) }),
      );
      const record: NodeRecord = {
        format: 'vouch-node-v1',
        server: client.server,
        ...(settings.serverCa !== undefined ? { serverCa: settings.serverCa } : existing?.serverCa !== undefined ? { serverCa: existing.serverCa } : {}),
        hostname: existing?.hostname ?? hostname,
        ekAlg: ek.alg,
        akName: blobs.descriptor.name,
        enrollmentId: outcome.enrollmentId,
        status: outcome.status,
        ...(outcome.status === 'enrolled' ? { nodeId: outcome.nodeId } : {}),
        updatedAt: new Date().toISOString(),
      };
      await writeNodeRecord(settings.stateDir, record);
      if (outcome.status === 'pending-approval') {
        return { status: 'pending-approval', enrollmentId: outcome.enrollmentId, server: client.server, ...(outcome.reason ? { reason: outcome.reason } : {}) };
      }
      return { status: 'enrolled', nodeId: outcome.nodeId, server: client.server, akName: blobs.descriptor.name, alreadyEnrolled: false };
    } finally {
      await ak?.flush();
      await ek.key.flush();
    }
  });
}

async function readEventLog(path: string): Promise<Uint8Array> {
  try {
    return await readFileUpTo(path, EventLogLimits.maxLogBytes);
  } catch (e) {
    throw new AgentError('ERR_AGENT_EVENTLOG', `${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
}

export interface AttestReport {
  readonly state: AgentState & { readonly node: { readonly nodeId: string } };
  readonly server: string;
  readonly outcome: AttestOutcome;
}

/** The verdict's reasons, one per line, for a refusal's message. */
function reasonLines(outcome: AttestOutcome): string {
  return outcome.response.reasons.map((r) => `\n  ${r.reason}: ${r.message}`).join('');
}

/**
 * One attestation of the enrolled node, retried while the server cannot answer. Affirming: the
 * outcome (with the secrets, decrypted in memory, when the server released them). Refused or
 * revoked: ERR_AGENT_REFUSED (every reason, one per line) or ERR_AGENT_REVOKED. Either way the
 * result, without secrets, is recorded in the state directory for `vouch agent status`.
 */
export async function attestNode(settings: AgentSettings): Promise<AttestReport> {
  const state = await readEnrolledState(settings.stateDir);
  const client = clientFor(settings, state.node);
  const eventLog = await readEventLog(settings.eventLog);
  const outcome = await withAgentTpm(settings.tpm, async (tpm) => {
    const ak = await loadAk(tpm, state.ak, settings.stateDir);
    try {
      return await retrying(settings, 'attestation', () => attest(client, tpm, { nodeId: state.node.nodeId, ak, eventLog }));
    } finally {
      await ak.flush();
    }
  });
  const { response } = outcome;
  const revoked = response.revoked === true;
  await writeLastResult(settings.stateDir, {
    format: 'vouch-result-v1',
    server: client.server,
    nodeId: state.node.nodeId,
    resultId: response.resultId,
    status: response.status,
    revoked,
    released: outcome.secrets !== undefined,
    reasons: response.reasons.map((r) => ({ reason: r.reason, message: r.message })),
    ear: response.result,
    at: new Date().toISOString(),
  }).catch((e: unknown) => {
    // A read-only state directory (an initramfs) must not cost the node its boot.
    settings.log(`the result was not recorded: ${(e as Error).message}`);
  });
  const details = { server: client.server, nodeId: state.node.nodeId, resultId: response.resultId, status: response.status, reasons: response.reasons };
  if (revoked) {
    throw new AgentError('ERR_AGENT_REVOKED', `node ${state.node.nodeId} is revoked at ${client.server}: nothing was released${reasonLines(outcome)}`, details);
  }
  if (response.status !== 'affirming') {
    const count = response.reasons.length;
    throw new AgentError(
      'ERR_AGENT_REFUSED',
      `${client.server} refused the attestation (${response.status}, ${count} reason${count === 1 ? '' : 's'})${reasonLines(outcome)}`,
      details,
    );
  }
  return { state, server: client.server, outcome };
}

/** The released secrets of an affirming attestation; ERR_AGENT_SECRETS when the server released none. */
export function releasedSecrets(report: AttestReport): ReleasedSecrets {
  if (report.outcome.secrets === undefined) {
    throw new AgentError('ERR_AGENT_SECRETS', `${report.server} affirmed the attestation but released no secrets`, {
      resultId: report.outcome.response.resultId,
    });
  }
  return report.outcome.secrets;
}

/** The disk key as bytes (the caller wipes them after use). */
export function diskKeyBytes(secrets: ReleasedSecrets): Uint8Array {
  const key = new Uint8Array(Buffer.from(secrets.diskKey, 'base64url'));
  if (key.length < 16) throw new AgentError('ERR_AGENT_SECRETS', `the released disk key is ${key.length} bytes; at least 16 expected`, {});
  return key;
}
