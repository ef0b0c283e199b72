// The protocol client (docs/design.md "Enrollment", "Attestation"): one method per server call, each
// response checked against the same schema the server serializes with, and every error answer
// turned back into the ProtocolError the server named (problem+json with an ERR_* code). The
// agent, the clevis pin, the simulated fleet and the tests all talk to the server through this.
import { Compile } from 'typebox/compile';
import { Type, type TSchema, type Static } from 'typebox';
import { isVouchError, registeredErrorCodes } from '../errors/index.ts';
import {
  ActivateResponse,
  AttestResponse,
  ChallengeResponse,
  EnrollResponse,
  PROBLEM_CONTENT_TYPE,
  Problem,
  ProtocolError,
  type ActivateRequest,
  type AttestRequest,
  type EnrollRequest,
  type ProtocolErrorCodeName,
} from '../protocol/index.ts';
import { httpJson, type HttpOptions } from './http.ts';

export interface ClientOptions {
  /** Base URL of the server, e.g. https://vouch.example:8443. */
  readonly server: string;
  /** PEM of the server certificate or its CA (pinned for https). */
  readonly ca?: string;
  readonly timeoutMs?: number;
}

/** An error answer from the server: its code and, for refusals, the reasons. */
export interface ServerProblem {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly retryAfterSeconds?: number;
}

/** The server's attestation-result signing keys (RFC 7517 JWK set), as served at /.well-known/jwks.json. */
const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 64 }) });
export type Jwks = Static<typeof Jwks>;

const DEFAULT_TIMEOUT_MS = 30_000;
/** The largest answer the protocol has: an attestation result with its reasons and the secrets JWE. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const checkers = new Map<TSchema, ReturnType<typeof Compile>>();
function checker(schema: TSchema): ReturnType<typeof Compile> {
  let c = checkers.get(schema);
  if (!c) {
    c = Compile(schema);
    checkers.set(schema, c);
  }
  return c;
}

export class VouchClient {
  readonly #base: URL;
  readonly #http: HttpOptions;

  constructor(options: ClientOptions) {
    try {
      this.#base = new URL(options.server.endsWith('/') ? options.server : `${options.server}/`);
    } catch (e) {
      throw new ProtocolError('ERR_CLIENT_UNREACHABLE', `--server ${JSON.stringify(options.server)} is not a URL`, {}, { cause: e });
    }
    this.#http = {
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    };
  }

  get server(): string {
    return this.#base.origin;
  }

  enroll(request: EnrollRequest): Promise<EnrollResponse> {
    return this.#call('POST', 'v1/enroll', request, EnrollResponse);
  }

  /** Polls an enrollment that waits for approval: once approved, it carries the credential challenge. */
  enrollment(enrollmentId: string): Promise<EnrollResponse> {
    return this.#call('GET', `v1/enroll/${encodeURIComponent(enrollmentId)}`, undefined, EnrollResponse);
  }

  activate(enrollmentId: string, request: ActivateRequest): Promise<ActivateResponse> {
    return this.#call('POST', `v1/enroll/${encodeURIComponent(enrollmentId)}/activate`, request, ActivateResponse);
  }

  challenge(nodeId: string): Promise<ChallengeResponse> {
    return this.#call('POST', 'v1/attest/challenge', { nodeId }, ChallengeResponse);
  }

  attest(request: AttestRequest): Promise<AttestResponse> {
    return this.#call('POST', 'v1/attest', request, AttestResponse);
  }

  /** The keys the server signs attestation results (EAR JWTs) with. */
  jwks(): Promise<Jwks> {
    return this.#call('GET', '.well-known/jwks.json', undefined, Jwks);
  }

  async #call<S extends TSchema>(method: 'GET' | 'POST', path: string, body: unknown, schema: S): Promise<Static<S>> {
    const url = new URL(path, this.#base);
    const response = await httpJson(url, method, body, this.#http);
    const parsed = parseJson(url, response.body);
    if (response.status >= 200 && response.status < 300) {
      if (!checker(schema).Check(parsed)) {
        const first = [...checker(schema).Errors(parsed)][0];
        throw new ProtocolError(
          'ERR_CLIENT_RESPONSE',
          `${url.pathname}: the answer does not match the protocol (${first?.instancePath ?? ''} ${first?.message ?? ''})`,
          {
            path: url.pathname,
          },
        );
      }
      return parsed as Static<S>;
    }
    throw problemError(url, response.status, response.contentType, parsed, response.retryAfterSeconds);
  }
}

function parseJson(url: URL, body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ProtocolError('ERR_CLIENT_RESPONSE', `${url.pathname}: the answer is not JSON`, { path: url.pathname }, { cause: e });
  }
}

/** The server's error answer as the ProtocolError it names; anything else is ERR_CLIENT_RESPONSE. */
function problemError(url: URL, status: number, contentType: string, body: unknown, retryAfterSeconds: number | undefined): ProtocolError {
  const known = registeredErrorCodes();
  if (contentType !== PROBLEM_CONTENT_TYPE || !checker(Problem).Check(body) || !known.has((body as Problem).code)) {
    return new ProtocolError('ERR_CLIENT_RESPONSE', `${url.pathname}: HTTP ${status} without a problem document Vouch knows`, { path: url.pathname, status });
  }
  const problem = body as Problem;
  const details: Record<string, unknown> = {
    status,
    ...(problem.reasons ? { reasons: problem.reasons } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
  // The code is the server's (a registered protocol code); keep it so callers switch on it.
  return new ProtocolError(problem.code as ProtocolErrorCodeName, problem.detail, details);
}

/** Whether an error is one a retry may cure: the server unreachable, overloaded, draining or rate-limiting. */
export function isTransient(e: unknown): boolean {
  return isVouchError(e) && ['ERR_CLIENT_UNREACHABLE', 'ERR_SERVER_UNAVAILABLE', 'ERR_RATE_LIMITED', 'ERR_SERVER_INTERNAL'].includes(e.code);
}
