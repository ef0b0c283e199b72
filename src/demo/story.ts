// The demo's story told to a real Vouch server over HTTP: the releases' reference sets and the
// policy go in through the admin API with an admin token; each simulated node enrolls (credential
// activation), boots and attests through the same protocol client and node half the agent uses;
// the verdict, the EAR and the released secrets come back over the wire and are checked: the EAR
// against the server's published keys, the secrets by decrypting them and comparing the disk key
// with the one the server sealed. Which server, and how the sealed key is read, the caller decides.
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { stringify as yamlStringify } from 'yaml';
import { VouchClient, attest, enroll, type AttestOutcome } from '../agent/index.ts';
import { isVouchError } from '../errors/index.ts';
import { HashAlgorithm, isHashAlgorithmName, type PcrValues } from '../hash/index.ts';
import { DEFAULT_POLICY } from '../policy/index.ts';
import {
  PROBLEM_CONTENT_TYPE,
  ProtocolError,
  qualifyingData,
  type AttestRequest,
  type AttestResponse,
  type ChallengeResponse,
  type ProtocolErrorCodeName,
} from '../protocol/index.ts';
import { encode, encodePcrsSerialized, pcrValuesInOrder, publicKeyPem, structures, toPcrSelection, type PcrSelection } from '../tpm/index.ts';
import type { Verdict } from '../verifier/index.ts';
import { unmetExpectations, type ObservedNode } from './expectations.ts';
import { SimulatedNode, type DemoReferences, type NodePlan } from './fleet.ts';

const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

/** The admin API with one bearer token; a problem answer becomes the ProtocolError it names. */
export class AdminApi {
  readonly #base: string;
  readonly #token: string;

  constructor(baseUrl: string, token: string) {
    this.#base = baseUrl.replace(/\/$/, '');
    this.#token = token;
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw new ProtocolError('ERR_CLIENT_UNREACHABLE', `${this.#base}: ${(e as Error).message}`, { url: this.#base }, { cause: e });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (e) {
      throw new ProtocolError('ERR_CLIENT_RESPONSE', `${method} ${path}: the answer is not JSON`, { path }, { cause: e });
    }
    if (response.ok) return parsed as T;
    const problem = parsed as { code?: string; detail?: string } | undefined;
    if ((response.headers.get('content-type') ?? '').startsWith(PROBLEM_CONTENT_TYPE) && typeof problem?.code === 'string') {
      throw new ProtocolError(problem.code as ProtocolErrorCodeName, `${method} ${path}: ${problem.detail ?? ''}`, { path, status: response.status });
    }
    throw new ProtocolError('ERR_CLIENT_RESPONSE', `${method} ${path}: HTTP ${response.status}`, { path, status: response.status });
  }
}

/** Imports both releases' reference sets (predicted PCRs and composefs digests) and the demo's policy, all active. */
export async function importReferences(admin: AdminApi, refs: DemoReferences): Promise<{ releases: string[]; policyVersion: number }> {
  const releases: string[] = [];
  for (const reference of refs.references) {
    const set = refs.catalog.values.sets.find((s) => s.version === reference.version)!;
    await admin.call('POST', '/v1/admin/reference-sets', {
      name: reference.version,
      prediction: { sets: [set] },
      composefsDigest: `composefs=${reference.composefsDigest}`,
      activate: true,
    });
    releases.push(reference.version);
  }
  const policy = await admin.call<{ version: number }>('POST', '/v1/admin/policies', {
    text: yamlStringify(DEFAULT_POLICY),
    description: 'vouch demo: the default rules (Secure Boot on, a released root image, no init override, a consistent log)',
    activate: true,
  });
  return { releases, policyVersion: policy.version };
}

/** The protocol client of one node, keeping what it sent and received: the evidence files of the run. */
class RecordingClient extends VouchClient {
  challengeResponse: ChallengeResponse | undefined;
  attestRequest: AttestRequest | undefined;

  override async challenge(nodeId: string): Promise<ChallengeResponse> {
    this.challengeResponse = await super.challenge(nodeId);
    return this.challengeResponse;
  }

  override attest(request: AttestRequest): Promise<AttestResponse> {
    this.attestRequest = request;
    return super.attest(request);
  }
}

/** A node's evidence as it went over the wire, in the formats tpm2-tools and `vouch` read. */
export interface NodeEvidenceFiles {
  /** TPM2B_PUBLIC of the EK (what enrollment's MakeCredential encrypted to). */
  readonly ekPublic: Uint8Array;
  /** TPM2B_PUBLIC of the AK (vouch verify quote --ak). */
  readonly akPublic: Uint8Array;
  /** The AK as PEM (tpm2_checkquote -u). */
  readonly akPublicPem: string;
  /** The quote's qualifying data: SHA-256(challenge nonce ‖ JWK thumbprint of the ephemeral key), hex. */
  readonly qualifyingData: string;
  /** TPMS_ATTEST (tpm2_quote -m). */
  readonly quoteMessage: Uint8Array;
  /** TPMT_SIGNATURE (tpm2_quote -s). */
  readonly quoteSignature: Uint8Array;
  /** tpm2-tools serialized TPML_PCR_SELECTION + TPML_DIGEST values (tpm2_quote -o). */
  readonly quotePcrs: Uint8Array;
  /** Quoted values as {bank: {pcr: hex}} (vouch eventlog replay --expect). */
  readonly quotedPcrs: PcrValues;
  /** binary_bios_measurements. */
  readonly eventLog: Uint8Array;
}

/** One node's run: the plan, what the server answered, and which promises held. */
export interface NodeRun {
  readonly plan: NodePlan;
  readonly observed: ObservedNode;
  /** The whole verdict, as the admin API shows the result. */
  readonly verdict?: Verdict;
  /** The EAR verified with the server's published keys, and its status equals the answer's. */
  readonly earVerified: boolean;
  readonly evidence?: NodeEvidenceFiles;
  /** Empty when every expectation held. */
  readonly unmet: readonly string[];
}

export interface FleetOptions {
  /** The server's base URL. */
  readonly server: string;
  readonly admin: AdminApi;
  readonly refs: DemoReferences;
  readonly nodes: readonly SimulatedNode[];
  /** Nodes in flight at once. */
  readonly concurrency: number;
  /** The newest disk key the server's key broker holds for a node (what it sealed at enrollment). */
  readonly sealedDiskKey: (nodeId: string) => Promise<Uint8Array | undefined>;
  /** Told after each node finishes. */
  readonly onNode?: (run: NodeRun, done: number, total: number) => void;
}

function selectionOf(values: PcrValues): PcrSelection[] {
  return Object.entries(values).flatMap(([bank, pcrs]) =>
    isHashAlgorithmName(bank) ? [{ hash: HashAlgorithm[bank].id as PcrSelection['hash'], pcrs: Object.keys(pcrs).map(Number) }] : [],
  );
}

async function evidenceFiles(node: SimulatedNode, client: RecordingClient): Promise<NodeEvidenceFiles | undefined> {
  const challenge = client.challengeResponse;
  const request = client.attestRequest;
  if (!challenge || !request) return undefined;
  const pcrs = request.pcrValues as PcrValues;
  const selection = selectionOf(pcrs);
  return {
    ekPublic: encode(structures.TPM2B_PUBLIC, node.ek.public),
    akPublic: encode(structures.TPM2B_PUBLIC, node.ak.public),
    akPublicPem: publicKeyPem(node.ak.public.value),
    qualifyingData: Buffer.from(await qualifyingData(unb64(challenge.nonce), request.ephemeralPublic)).toString('hex'),
    quoteMessage: unb64(request.quote.attest),
    quoteSignature: unb64(request.quote.signature),
    quotePcrs: encodePcrsSerialized(toPcrSelection(selection), pcrValuesInOrder(pcrs, selection)),
    quotedPcrs: pcrs,
    eventLog: unb64(request.eventLog),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/** The EAR verifies with the server's published keys, is about this node, and says what the answer says. */
async function earMatches(jwks: JSONWebKeySet, response: AttestResponse, nodeId: string): Promise<boolean> {
  try {
    const { payload } = await jwtVerify(response.result, createLocalJWKSet(jwks), { subject: nodeId });
    const submodules = Object.values((payload as { submods?: Record<string, { 'ear.status'?: unknown }> }).submods ?? {});
    return submodules.length > 0 && submodules.every((s) => s['ear.status'] === response.status);
  } catch {
    return false;
  }
}

async function runOne(node: SimulatedNode, options: FleetOptions, jwks: JSONWebKeySet): Promise<NodeRun> {
  const { plan } = node;
  const client = new RecordingClient({ server: options.server });
  let nodeId: string | undefined;
  let outcome: AttestOutcome | undefined;
  let secrets: ObservedNode['secrets'];
  let error: ObservedNode['error'];
  try {
    const enrolled = await enroll(client, node.tpm, { ek: node.ek, ak: node.ak, hostname: plan.name });
    if (enrolled.status !== 'enrolled') throw new ProtocolError('ERR_CLIENT_RESPONSE', `enrollment ${enrolled.enrollmentId} is ${enrolled.status}`, {});
    nodeId = enrolled.nodeId;
    await node.boot(options.refs);
    try {
      outcome = await attest(client, node.tpm, { nodeId, ak: node.ak, eventLog: node.eventLog });
    } catch (e) {
      // Secrets that came but do not decrypt are a broken promise, not a crash of the demo.
      if (!(isVouchError(e) && e.code === 'ERR_AGENT_SECRETS')) throw e;
      secrets = { decrypted: false, diskKeyMatches: false };
    }
    if (outcome?.secrets) {
      const sealed = await options.sealedDiskKey(nodeId);
      secrets = {
        decrypted: true,
        diskKeyMatches: sealed !== undefined && sameBytes(sealed, unb64(outcome.secrets.diskKey)),
        ...(outcome.secrets.join ? { join: outcome.secrets.join.kind } : {}),
      };
    }
  } catch (e) {
    if (!isVouchError(e)) throw e;
    error = { code: e.code, message: e.message };
  }
  const response = outcome?.response;
  const verdict = response ? (await options.admin.call<{ verdict: Verdict }>('GET', `/v1/admin/results/${response.resultId}`)).verdict : undefined;
  const observed: ObservedNode = {
    ...(nodeId !== undefined ? { nodeId } : {}),
    ...(response ? { status: response.status } : {}),
    reasons: response?.reasons ?? [],
    ...(secrets ? { secrets } : {}),
    ...(error ? { error } : {}),
  };
  const earVerified = response !== undefined && nodeId !== undefined && (await earMatches(jwks, response, nodeId));
  const unmet = unmetExpectations(plan, observed);
  if (response && !earVerified) unmet.push('its EAR does not verify with the server’s published keys, names another node, or differs from the answer');
  const evidence = await evidenceFiles(node, client);
  return { plan, observed, ...(verdict ? { verdict } : {}), earVerified, ...(evidence ? { evidence } : {}), unmet };
}

/**
 * Enrolls, boots and attests every node over HTTP, `concurrency` at a time; the runs come back in
 * the fleet's order whatever order they finished in.
 */
export async function runFleet(options: FleetOptions): Promise<NodeRun[]> {
  const response = await fetch(new URL('/.well-known/jwks.json', options.server));
  const jwks = (await response.json()) as JSONWebKeySet;
  const runs: NodeRun[] = new Array<NodeRun>(options.nodes.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < options.nodes.length) {
      const i = next++;
      runs[i] = await runOne(options.nodes[i]!, options, jwks);
      options.onNode?.(runs[i], ++done, options.nodes.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, options.nodes.length)) }, worker));
  return runs;
}
