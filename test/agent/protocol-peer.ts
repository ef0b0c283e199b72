// A protocol peer for the agent's tests: a real HTTP server on 127.0.0.1 (port 0) that speaks the
// node-facing protocol of src/protocol with the verifier's own server halves — attestationKeyProblems,
// issueCredential and credentialMatches for enrollment (real MakeCredential, so only the node's TPM
// can answer), checkQuote against the bound AK and SHA-256(nonce ‖ thumbprint) for attestation, an
// EAR JWT signed ES256 with its key at /.well-known/jwks.json, and the secrets as a JWE
// (ECDH-ES+A256KW, A256GCM) to the agent's ephemeral key. Every artefact it emits is real and
// verifiable. What it does not do is appraise the boot: each test sets the verdict (affirming,
// contraindicated with reasons, revoked) — the appraisal is the server's, tested there.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { CompactEncrypt, SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { PROBLEM_CONTENT_TYPE, PROBLEM_STATUS, qualifyingData, type ProtocolErrorCodeName } from '../../src/protocol/index.ts';
import { decode, structures, type Sized } from '../../src/tpm/index.ts';
import { systemRandom } from '../../src/tpm/crypto/random.ts';
import { attestationKeyProblems, checkQuote, credentialMatches, issueCredential } from '../../src/verifier/index.ts';
import { HashAlgorithm } from '../../src/hash/index.ts';

export interface PeerVerdict {
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly reasons?: readonly { readonly reason: string; readonly message: string }[];
}

export interface PeerNode {
  readonly nodeId: string;
  readonly hostname: string;
  readonly ak: Sized<structures.TPMT_PUBLIC>;
  readonly ekCertificate?: string;
  /** The LUKS key this node's attestations release (32 random bytes). */
  readonly diskKey: Uint8Array;
  revoked: boolean;
}

export interface ProtocolPeer {
  readonly url: string;
  readonly nodes: Map<string, PeerNode>;
  /** The verdict of the next attestations. */
  verdict: PeerVerdict;
  /** Enrollment requests answer `pending-approval` until approve() is called. */
  queueEnrollments: boolean;
  approve(enrollmentId: string): void;
  /** Every request, method and path, in order. */
  readonly requests: string[];
  /** Every body the agent sent, as text: what a test scans for secrets. */
  readonly bodies: string[];
  /** Stops listening (the server becomes unreachable); the port is not reused by it. */
  close(): Promise<void>;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));
const ALL_SHA256: readonly { bank: 'sha256'; pcrs: number[] }[] = [{ bank: 'sha256', pcrs: Array.from({ length: 24 }, (_, i) => i) }];

function problem(res: ServerResponse, code: ProtocolErrorCodeName, detail: string, reasons?: PeerVerdict['reasons']): void {
  const status = PROBLEM_STATUS[code] ?? 400;
  res.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE });
  res.end(JSON.stringify({ type: 'about:blank', title: code, status, detail, code, ...(reasons ? { reasons } : {}) }));
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the peer for one test; it is closed when the test ends. */
export async function startProtocolPeer(t: TestContext): Promise<ProtocolPeer> {
  const signing = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'peer-1', alg: 'ES256', use: 'sig' };
  const enrollments = new Map<
    string,
    { ek: Sized<structures.TPMT_PUBLIC>; ak: Sized<structures.TPMT_PUBLIC>; hostname: string; ekCertificate?: string; expected?: Uint8Array; approved: boolean }
  >();
  const sessions = new Map<string, { nodeId: string; nonce: Uint8Array }>();
  const nodes = new Map<string, PeerNode>();
  const requests: string[] = [];
  const bodies: string[] = [];

  const challengeFor = (res: ServerResponse, enrollmentId: string): void => {
    const e = enrollments.get(enrollmentId)!;
    const issued = issueCredential(e.ek.value, e.ak, systemRandom);
    e.expected = issued.expectedSecretSha256;
    json(res, {
      enrollmentId,
      status: 'activate',
      credential: {
        credentialBlob: b64(issued.blob.credentialBlob),
        encryptedSecret: b64(issued.blob.secret),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      },
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    requests.push(`${req.method} ${path}`);
    const text = await body(req);
    bodies.push(text);
    const input = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (req.method === 'GET' && path === '/.well-known/jwks.json') {
      json(res, { keys: [jwk] });
      return;
    }
    if (req.method === 'POST' && path === '/v1/enroll') {
      const ek = decode(structures.TPM2B_PUBLIC, unb64(input.ekPublic as string), 'ekPublic');
      const ak = decode(structures.TPM2B_PUBLIC, unb64(input.akPublic as string), 'akPublic');
      const problems = attestationKeyProblems(ak.value);
      if (problems.length > 0) {
        problem(res, 'ERR_ENROLL_AK_INVALID', problems.join('; '));
        return;
      }
      const enrollmentId = randomUUID();
      enrollments.set(enrollmentId, {
        ek,
        ak,
        hostname: input.hostname as string,
        ...(typeof input.ekCertificate === 'string' ? { ekCertificate: input.ekCertificate } : {}),
        approved: !peer.queueEnrollments,
      });
      if (peer.queueEnrollments) {
        json(res, { enrollmentId, status: 'pending-approval', reason: 'the EK is not known: waiting for an operator' });
        return;
      }
      challengeFor(res, enrollmentId);
      return;
    }
    const enrollment = /^\/v1\/enroll\/([0-9a-f-]{36})(\/activate)?$/.exec(path);
    if (enrollment) {
      const e = enrollments.get(enrollment[1]!);
      if (!e) {
        problem(res, 'ERR_ENROLL_NOT_FOUND', 'no such enrollment');
        return;
      }
      if (req.method === 'GET') {
        if (!e.approved) {
          json(res, { enrollmentId: enrollment[1], status: 'pending-approval' });
          return;
        }
        challengeFor(res, enrollment[1]!);
        return;
      }
      if (!e.expected || !credentialMatches(e.expected, unb64(input.secret as string))) {
        problem(res, 'ERR_ENROLL_ACTIVATION_FAILED', 'wrong secret');
        return;
      }
      e.expected = undefined;
      const nodeId = randomUUID();
      nodes.set(nodeId, {
        nodeId,
        hostname: e.hostname,
        ak: e.ak,
        ...(e.ekCertificate ? { ekCertificate: e.ekCertificate } : {}),
        diskKey: new Uint8Array(randomBytes(32)),
        revoked: false,
      });
      json(res, { nodeId, status: 'enrolled' });
      return;
    }
    if (req.method === 'POST' && path === '/v1/attest/challenge') {
      if (!nodes.has(input.nodeId as string)) {
        problem(res, 'ERR_NODE_UNKNOWN', 'no enrolled node has this id');
        return;
      }
      const sessionId = randomUUID();
      const nonce = new Uint8Array(randomBytes(32));
      sessions.set(sessionId, { nodeId: input.nodeId as string, nonce });
      json(res, { sessionId, nonce: b64(nonce), expiresAt: new Date(Date.now() + 60_000).toISOString(), pcrSelection: ALL_SHA256 });
      return;
    }
    if (req.method === 'POST' && path === '/v1/attest') {
      const session = sessions.get(input.sessionId as string);
      sessions.delete(input.sessionId as string);
      if (!session) {
        problem(res, 'ERR_ATTEST_SESSION_INVALID', 'unknown or used session');
        return;
      }
      const node = nodes.get(session.nodeId)!;
      const ephemeral = input.ephemeralPublic as JWK;
      const quote = input.quote as { attest: string; signature: string };
      const checked = checkQuote({
        ak: node.ak.value,
        untrustedAttest: unb64(quote.attest),
        untrustedSignature: unb64(quote.signature),
        pcrs: input.pcrValues as Record<string, Record<string, string>>,
        expectedExtraData: await qualifyingData(session.nonce, ephemeral),
        expectedSelection: [{ hash: HashAlgorithm.sha256.id, pcrs: ALL_SHA256[0]!.pcrs }],
      });
      const verdict: PeerVerdict = checked.verified
        ? peer.verdict
        : { status: 'contraindicated', reasons: [{ reason: checked.code, message: checked.reason }] };
      const resultId = randomUUID();
      const ear = await new SignJWT({
        eat_nonce: b64(session.nonce),
        submods: { 'vouch-node': { 'ear.status': verdict.status, 'vouch.reasons': verdict.reasons ?? [] } },
      })
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .setSubject(node.nodeId)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(signing.privateKey);
      const release = verdict.status === 'affirming' && !node.revoked;
      const secrets = release
        ? await new CompactEncrypt(Buffer.from(JSON.stringify({ nodeId: node.nodeId, diskKey: b64(node.diskKey) })))
            .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
            .encrypt(await importJWK(ephemeral, 'ECDH-ES+A256KW'))
        : undefined;
      json(res, {
        resultId,
        status: verdict.status,
        result: ear,
        reasons: verdict.reasons ?? [],
        ...(secrets ? { secrets } : {}),
        ...(node.revoked ? { revoked: true } : {}),
      });
      return;
    }
    problem(res, 'ERR_RESOURCE_NOT_FOUND', `${req.method ?? ''} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => problem(res, 'ERR_SERVER_INTERNAL', (e as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  const peer: ProtocolPeer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    nodes,
    verdict: { status: 'affirming' },
    queueEnrollments: false,
    approve: (id) => {
      enrollments.get(id)!.approved = true;
    },
    requests,
    bodies,
    close,
  };
  return peer;
}
