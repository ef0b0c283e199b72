// The admin API as the pages call it: same-origin fetches that carry the session cookie, and on
// every state-changing call the session's CSRF token. Types come from the admin API's own schemas
// (src/protocol/admin.ts); `import type` is erased, so the browser loads none of the server's code.
import type { Static } from 'typebox';
import type { AdminRoleName, NodeDetail, ResultDetail, ReferenceSetDetail } from '../../protocol/admin.ts';

export type Role = Static<typeof AdminRoleName>;
export type NodeDetailBody = Static<typeof NodeDetail>;
export type ResultDetailBody = Static<typeof ResultDetail>;
export type ReferenceSetDetailBody = Static<typeof ReferenceSetDetail>;

export interface Session {
  readonly name: string;
  readonly role: Role;
  readonly csrfToken: string;
  readonly expiresAt: string;
}

/** Every admin API address the dashboard uses, in one place. */
export const paths = {
  session: '/ui/session',
  nodes: '/v1/admin/nodes',
  approvals: '/v1/admin/approvals',
  node: (id: string) => `/v1/admin/nodes/${encodeURIComponent(id)}`,
  nodeAction: (id: string, action: 'approve' | 'deny' | 'revoke' | 'unrevoke') => `/v1/admin/nodes/${encodeURIComponent(id)}/${action}`,
  result: (id: string) => `/v1/admin/results/${encodeURIComponent(id)}`,
  policies: '/v1/admin/policies',
  policyDryRun: '/v1/admin/policies/dry-run',
  referenceSets: '/v1/admin/reference-sets',
  referenceSet: (name: string, version: number) => `/v1/admin/reference-sets/${encodeURIComponent(name)}/${version}`,
  activateReferenceSet: (name: string, version: number) => `/v1/admin/reference-sets/${encodeURIComponent(name)}/${version}/activate`,
  audit: '/v1/admin/audit',
  auditVerify: '/v1/admin/audit/verify',
  events: '/v1/admin/events',
} as const;

/** A refusal from the server (problem+json), or a failure to reach it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let current: Session | undefined;

export function session(): Session | undefined {
  return current;
}

/** Operators and admins act; viewers see. The server enforces this; the pages only hide what would be refused. */
export function canAct(): boolean {
  return current !== undefined && current.role !== 'viewer';
}

/** Called when a call finds the session ended (the app then shows the sign-in form). */
let onSignedOut: () => void = () => undefined;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

type Query = Readonly<Record<string, string | number | undefined>>;

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && current) headers['x-vouch-csrf'] = current.csrfToken;
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      credentials: 'same-origin',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (e) {
    throw new ApiError(0, 'ERR_CLIENT_UNREACHABLE', `the server could not be reached: ${(e as Error).message}`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body ?? {}) as { code?: string; detail?: string };
    const error = new ApiError(response.status, problem.code ?? `HTTP_${response.status}`, problem.detail ?? response.statusText);
    if (response.status === 401 && path !== paths.session) {
      current = undefined;
      onSignedOut();
    }
    throw error;
  }
  return body as T;
}

/** The current session, if the cookie names a live one. */
export async function resume(): Promise<Session | undefined> {
  try {
    current = await call<Session>('GET', paths.session);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) current = undefined;
    else throw e;
  }
  return current;
}

export async function signIn(token: string): Promise<Session> {
  current = await call<Session>('POST', paths.session, { body: { token } });
  return current;
}

export async function signOut(): Promise<void> {
  try {
    await call('DELETE', paths.session);
  } finally {
    current = undefined;
  }
}
