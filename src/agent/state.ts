// The agent's state directory: the AK blobs (ak.json, ak.pub, ak.priv, ak.pub.pem, ak.name — the
// layout of `vouch tpm ak create`), the node record (node.json) and the last attestation result
// (last-result.json). Nothing secret is ever here: the AK's private blob is wrapped by the TPM, and
// released secrets live in memory only. Every file is written atomically and owner-only, in a
// directory that is owner-only, and every field is checked when read back: the directory may have
// been edited, restored from an old backup, or copied from another node.
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory, readFileUpTo, writeFileAtomically } from '../io/index.ts';
import type { KeyAlg } from '../tpm/index.ts';
import { AkFile, readAk, type AkBlobs } from './ak.ts';
import { AgentError } from './errors.ts';

export const StateFile = {
  node: 'node.json',
  lastResult: 'last-result.json',
} as const;

/** Where the agent keeps its state unless --state says otherwise. */
export const DEFAULT_STATE_DIR = '/var/lib/vouch/agent';

/** node.json: who this node is to which server. */
export interface NodeRecord {
  readonly format: 'vouch-node-v1';
  /** The server's origin, e.g. https://vouch.example:8443. */
  readonly server: string;
  /** The pinned server certificate or CA (PEM), when enrollment was given one. */
  readonly serverCa?: string;
  readonly hostname: string;
  /** Which EK template enrolled (the one a pending enrollment must resume with). */
  readonly ekAlg: KeyAlg;
  /** Name(AK) in hex: must equal the AK directory's. */
  readonly akName: string;
  readonly enrollmentId: string;
  readonly status: 'enrolled' | 'pending-approval';
  /** Present once enrolled. */
  readonly nodeId?: string;
  readonly updatedAt: string;
}

/** last-result.json: the last attestation's outcome, without anything released. */
export interface LastResult {
  readonly format: 'vouch-result-v1';
  readonly server: string;
  readonly nodeId: string;
  readonly resultId: string;
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly revoked: boolean;
  /** Whether secrets were released (never the secrets). */
  readonly released: boolean;
  readonly reasons: readonly { readonly reason: string; readonly message: string }[];
  /** The server-signed EAR attestation result (JWT). */
  readonly ear: string;
  readonly at: string;
}

export interface AgentState {
  readonly dir: string;
  readonly node: NodeRecord;
  readonly ak: AkBlobs;
}

const MAX_STATE_FILE_BYTES = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOSTNAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const HEX_NAME = /^[0-9a-f]{68}$/;
const PEM = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+-----END CERTIFICATE-----\s*$/;

function stateError(path: string, why: string, cause?: unknown): AgentError {
  return new AgentError('ERR_AGENT_STATE', `${path}: ${why}`, { path }, cause === undefined ? undefined : { cause });
}

const isIsoDate = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));

function isOrigin(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const url = new URL(v);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === v;
  } catch {
    return false;
  }
}

/** Every field of node.json, checked; the first that is wrong is named. */
function checkNodeRecord(path: string, untrusted: unknown): NodeRecord {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) throw stateError(path, 'not a JSON object');
  const r = untrusted as Record<string, unknown>;
  const allowed = new Set(['format', 'server', 'serverCa', 'hostname', 'ekAlg', 'akName', 'enrollmentId', 'status', 'nodeId', 'updatedAt']);
  const checks: [string, boolean][] = [
    ['format', r.format === 'vouch-node-v1'],
    ['server', isOrigin(r.server)],
    ['serverCa', r.serverCa === undefined || (typeof r.serverCa === 'string' && PEM.test(r.serverCa))],
    ['hostname', typeof r.hostname === 'string' && HOSTNAME.test(r.hostname)],
    ['ekAlg', r.ekAlg === 'rsa' || r.ekAlg === 'ecc'],
    ['akName', typeof r.akName === 'string' && HEX_NAME.test(r.akName)],
    ['enrollmentId', typeof r.enrollmentId === 'string' && UUID.test(r.enrollmentId)],
    ['status', r.status === 'enrolled' || r.status === 'pending-approval'],
    ['nodeId', r.status === 'enrolled' ? typeof r.nodeId === 'string' && UUID.test(r.nodeId) : r.nodeId === undefined],
    ['updatedAt', isIsoDate(r.updatedAt)],
    ...Object.keys(r)
      .filter((k) => !allowed.has(k))
      .map((k): [string, boolean] => [k, false]),
  ];
  const wrong = checks.find(([, ok]) => !ok);
  if (wrong) throw stateError(path, `field ${wrong[0]} is ${r[wrong[0]] === undefined ? 'missing' : 'not valid'} (format vouch-node-v1)`);
  return r as unknown as NodeRecord;
}

function checkLastResult(path: string, untrusted: unknown): LastResult {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) throw stateError(path, 'not a JSON object');
  const r = untrusted as Record<string, unknown>;
  const reasonsOk =
    Array.isArray(r.reasons) &&
    r.reasons.every(
      (x: unknown) =>
        typeof x === 'object' &&
        x !== null &&
        typeof (x as { reason?: unknown }).reason === 'string' &&
        typeof (x as { message?: unknown }).message === 'string',
    );
  const checks: [string, boolean][] = [
    ['format', r.format === 'vouch-result-v1'],
    ['server', isOrigin(r.server)],
    ['nodeId', typeof r.nodeId === 'string' && UUID.test(r.nodeId)],
    ['resultId', typeof r.resultId === 'string' && UUID.test(r.resultId)],
    ['status', r.status === 'affirming' || r.status === 'warning' || r.status === 'contraindicated'],
    ['revoked', typeof r.revoked === 'boolean'],
    ['released', typeof r.released === 'boolean'],
    ['reasons', reasonsOk],
    ['ear', typeof r.ear === 'string' && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(r.ear)],
    ['at', isIsoDate(r.at)],
  ];
  const wrong = checks.find(([, ok]) => !ok);
  if (wrong) throw stateError(path, `field ${wrong[0]} is ${r[wrong[0]] === undefined ? 'missing' : 'not valid'} (format vouch-result-v1)`);
  return r as unknown as LastResult;
}

/** A JSON file of the state directory, or undefined when it does not exist. */
async function readJson(path: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileUpTo(path, MAX_STATE_FILE_BYTES);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateError(path, `cannot be read: ${(e as Error).message}`, e);
  }
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw stateError(path, `not JSON: ${(e as Error).message}`, e);
  }
}

/** The node record, or undefined when the directory holds none yet. */
export async function readNodeRecord(dir: string): Promise<NodeRecord | undefined> {
  const path = join(dir, StateFile.node);
  const json = await readJson(path);
  return json === undefined ? undefined : checkNodeRecord(path, json);
}

/** The AK of the state directory, or undefined when there is none yet; an incomplete or malformed one is ERR_AGENT_STATE. */
export async function readStateAk(dir: string): Promise<AkBlobs | undefined> {
  const present = await readdir(dir).catch((e: unknown): string[] => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw stateError(dir, `cannot be read: ${(e as Error).message}`, e);
  });
  if (!present.includes(AkFile.descriptor)) return undefined;
  try {
    return await readAk(dir);
  } catch (e) {
    if (e instanceof AgentError) throw e;
    throw stateError(dir, `the AK cannot be read: ${(e as Error).message}`, e);
  }
}

/** The whole state of an enrolled node; ERR_AGENT_NOT_ENROLLED when there is no finished enrollment. */
export async function readEnrolledState(dir: string): Promise<AgentState & { readonly node: NodeRecord & { readonly nodeId: string } }> {
  const node = await readNodeRecord(dir);
  if (!node) throw new AgentError('ERR_AGENT_NOT_ENROLLED', `${dir} holds no enrollment (no ${StateFile.node}): run vouch agent enroll first`, { dir });
  if (node.status !== 'enrolled' || node.nodeId === undefined) {
    throw new AgentError(
      'ERR_AGENT_ENROLLMENT_PENDING',
      `enrollment ${node.enrollmentId} at ${node.server} waits for an operator's approval: run vouch agent enroll again once approved`,
      { dir, enrollmentId: node.enrollmentId },
    );
  }
  const ak = await readStateAk(dir);
  if (!ak) throw stateError(join(dir, AkFile.descriptor), `missing, but ${StateFile.node} records an enrollment`);
  if (ak.descriptor.name !== node.akName) throw stateError(join(dir, StateFile.node), `records AK ${node.akName}, the AK files hold ${ak.descriptor.name}`);
  return { dir, node: node as NodeRecord & { nodeId: string }, ak };
}

/** Makes the state directory owner-only (created if missing; tightened if it exists). */
export async function prepareStateDir(dir: string): Promise<void> {
  try {
    await makeDirectory(dir, 0o700);
    await chmod(dir, 0o700);
  } catch (e) {
    throw stateError(dir, `cannot be created: ${(e as Error).message}`, e);
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  try {
    await writeFileAtomically(path, JSON.stringify(value, null, 2) + '\n', 0o600);
  } catch (e) {
    throw stateError(path, `cannot be written: ${(e as Error).message}`, e);
  }
}

export function writeNodeRecord(dir: string, record: NodeRecord): Promise<void> {
  return writeJson(join(dir, StateFile.node), record);
}

export function writeLastResult(dir: string, result: LastResult): Promise<void> {
  return writeJson(join(dir, StateFile.lastResult), result);
}

export async function readLastResult(dir: string): Promise<LastResult | undefined> {
  const path = join(dir, StateFile.lastResult);
  const json = await readJson(path);
  return json === undefined ? undefined : checkLastResult(path, json);
}
