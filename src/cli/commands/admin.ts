// `vouch admin …`: a thin client over the admin API (docs/protocol.md). Each command is one request:
// the server URL and bearer token come from --server/--token or VOUCH_SERVER/VOUCH_ADMIN_TOKEN,
// answers print as JSON (or, for listings, one line per row), and a problem document becomes the
// error its code names (ERR_AUTH_* exit 4). For https, the server's CA is trusted through the
// system store or NODE_EXTRA_CA_CERTS.
import { writeFileSync } from 'node:fs';
import { registeredErrorCodes } from '../../errors/index.ts';
import { PROBLEM_CONTENT_TYPE, ProtocolError, type ProtocolErrorCodeName } from '../../protocol/index.ts';
import type { CommandContext, CommandHandler, CommandOutcome } from '../command.ts';
import { UsageError, optionalString, requireString } from '../command.ts';
import { CliInput, readInputFile } from '../files.ts';

const DEFAULT_TIMEOUT_MS = 30_000;

export interface AdminConnection {
  readonly server: string;
  readonly token: string;
}

export function adminConnection(ctx: CommandContext): AdminConnection {
  const server = optionalString(ctx, 'server') ?? ctx.io.env.VOUCH_SERVER;
  const token = optionalString(ctx, 'token') ?? ctx.io.env.VOUCH_ADMIN_TOKEN;
  if (!server) throw new UsageError('give --server URL (or set VOUCH_SERVER)');
  if (!token) throw new UsageError('give --token TOKEN (or set VOUCH_ADMIN_TOKEN)');
  return { server: server.replace(/\/+$/, ''), token };
}

/** One admin API call; a problem answer throws the ProtocolError its code names. */
export async function adminCall(connection: AdminConnection, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${connection.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${connection.token}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
  } catch (e) {
    throw new ProtocolError('ERR_CLIENT_UNREACHABLE', `${connection.server}: ${(e as Error).message}`, { url: connection.server }, { cause: e });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch (e) {
    throw new ProtocolError('ERR_CLIENT_RESPONSE', `${path}: the answer is not JSON (HTTP ${response.status})`, { status: response.status }, { cause: e });
  }
  if (response.ok) return parsed;
  const problem = parsed as { code?: unknown; detail?: unknown } | undefined;
  if (
    (response.headers.get('content-type') ?? '').startsWith(PROBLEM_CONTENT_TYPE) &&
    typeof problem?.code === 'string' &&
    registeredErrorCodes().has(problem.code)
  ) {
    throw new ProtocolError(problem.code as ProtocolErrorCodeName, typeof problem.detail === 'string' ? problem.detail : problem.code, {
      status: response.status,
    });
  }
  throw new ProtocolError('ERR_CLIENT_RESPONSE', `${path}: HTTP ${response.status} without a problem document Vouch knows`, { status: response.status });
}

function query(values: Readonly<Record<string, string | undefined>>): string {
  const entries = Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
}

function only(ctx: CommandContext, count: number, what: string): string[] {
  if (ctx.positionals.length !== count) throw new UsageError(`give ${what}`);
  return [...ctx.positionals];
}

function integer(ctx: CommandContext, name: string): number | undefined {
  const v = optionalString(ctx, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

function readJson(ctx: CommandContext, path: string): Promise<unknown> {
  return readInputFile(ctx, path, CliInput.document).then((bytes) => {
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    } catch (e) {
      throw new UsageError(`${path}: not JSON: ${(e as Error).message}`);
    }
  });
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Listings print a line per row (the row's chosen fields) and the next page's cursor. */
function listing(result: unknown, fields: readonly string[]): CommandOutcome {
  const page = result as { items: Record<string, unknown>[]; nextCursor?: string };
  const lines = page.items.map((item) => fields.map((f) => cell(item[f])).join('  '));
  if (page.nextCursor) lines.push(`(more: --cursor ${page.nextCursor})`);
  return { result, text: `${lines.join('\n')}${lines.length ? '\n' : ''}` };
}

const shown = (result: unknown): CommandOutcome => ({ result, text: `${JSON.stringify(result, null, 2)}\n` });

type Call = (ctx: CommandContext, connection: AdminConnection) => Promise<CommandOutcome>;

const statusChange =
  (verb: string): Call =>
  async (ctx, c) => {
    const [id] = only(ctx, 1, 'the node id');
    const reason = optionalString(ctx, 'reason');
    return shown(await adminCall(c, 'POST', `/v1/admin/nodes/${encodeURIComponent(id!)}/${verb}`, reason !== undefined ? { reason } : {}));
  };

const page = (ctx: CommandContext): Record<string, string | undefined> => ({ limit: optionalString(ctx, 'limit'), cursor: optionalString(ctx, 'cursor') });

const calls: Record<string, Call> = {
  'admin nodes list': async (ctx, c) =>
    listing(
      await adminCall(
        c,
        'GET',
        `/v1/admin/nodes${query({ status: optionalString(ctx, 'status'), search: optionalString(ctx, 'search'), sort: optionalString(ctx, 'sort'), ...page(ctx) })}`,
      ),
      ['id', 'name', 'status', 'lastAttestationStatus', 'currentRelease', 'lastAttestationAt'],
    ),
  'admin nodes show': async (ctx, c) => shown(await adminCall(c, 'GET', `/v1/admin/nodes/${encodeURIComponent(only(ctx, 1, 'the node id')[0]!)}`)),
  'admin nodes approve': statusChange('approve'),
  'admin nodes deny': statusChange('deny'),
  'admin nodes revoke': statusChange('revoke'),
  'admin nodes unrevoke': statusChange('unrevoke'),
  'admin approvals': async (ctx, c) => listing(await adminCall(c, 'GET', `/v1/admin/approvals${query(page(ctx))}`), ['id', 'name', 'ekName', 'createdAt']),
  'admin results list': async (ctx, c) =>
    listing(await adminCall(c, 'GET', `/v1/admin/results${query({ nodeId: optionalString(ctx, 'node'), ...page(ctx) })}`), [
      'id',
      'nodeId',
      'status',
      'release',
      'createdAt',
    ]),
  'admin results show': async (ctx, c) => shown(await adminCall(c, 'GET', `/v1/admin/results/${encodeURIComponent(only(ctx, 1, 'the result id')[0]!)}`)),
  'admin results export': async (ctx, c) => {
    const [id] = only(ctx, 1, 'the result id');
    const out = requireString(ctx, 'out');
    const recorded = await adminCall(c, 'GET', `/v1/admin/results/${encodeURIComponent(id!)}/recorded`);
    writeFileSync(out, `${JSON.stringify(recorded, null, 2)}\n`);
    return { result: { written: out }, text: `wrote ${out}\n` };
  },
  'admin policies list': async (ctx, c) =>
    listing(await adminCall(c, 'GET', `/v1/admin/policies${query(page(ctx))}`), ['version', 'active', 'description', 'createdAt', 'createdBy']),
  'admin policies set': async (ctx, c) => {
    const [file] = only(ctx, 1, 'the policy file (YAML or JSON)');
    const text = Buffer.from(await readInputFile(ctx, file!, CliInput.document)).toString('utf8');
    const description = optionalString(ctx, 'description');
    return shown(
      await adminCall(c, 'POST', '/v1/admin/policies', {
        text,
        ...(description !== undefined ? { description } : {}),
        ...(ctx.values.activate === true ? { activate: true } : {}),
      }),
    );
  },
  'admin policies activate': async (ctx, c) =>
    shown(await adminCall(c, 'POST', `/v1/admin/policies/${encodeURIComponent(only(ctx, 1, 'the policy version')[0]!)}/activate`, {})),
  'admin policies dry-run': async (ctx, c) => {
    const version = integer(ctx, 'version');
    const file = ctx.positionals[0];
    if ((file === undefined) === (version === undefined) || ctx.positionals.length > 1) throw new UsageError('give a policy FILE or --version N');
    const text = file === undefined ? undefined : Buffer.from(await readInputFile(ctx, file, CliInput.document)).toString('utf8');
    const limit = integer(ctx, 'limit');
    const node = optionalString(ctx, 'node');
    const report = (await adminCall(c, 'POST', '/v1/admin/policies/dry-run', {
      ...(text !== undefined ? { text } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(node !== undefined ? { nodeId: node } : {}),
      ...(limit !== undefined ? { limit } : {}),
    })) as { appraised: number; changed: number; outcomes: { resultId: string; nodeId: string; before: string; after: string }[] };
    const lines = report.outcomes.map((o) => `${o.resultId}  ${o.nodeId}  ${o.before} -> ${o.after}${o.before !== o.after ? '  (changed)' : ''}`);
    return { result: report, text: `${lines.join('\n')}\n${report.appraised} appraised, ${report.changed} would change\n` };
  },
  'admin reference-sets list': async (ctx, c) =>
    listing(await adminCall(c, 'GET', `/v1/admin/reference-sets${query(page(ctx))}`), ['name', 'version', 'active', 'composefsDigest', 'createdAt']),
  'admin reference-sets import': async (ctx, c) => {
    const [name, file] = only(ctx, 2, 'the release NAME and the `vouch predict --json` output FILE');
    const prediction = await readJson(ctx, file!);
    const composefs = optionalString(ctx, 'composefs');
    return shown(
      await adminCall(c, 'POST', '/v1/admin/reference-sets', {
        name,
        prediction,
        ...(composefs !== undefined ? { composefsDigest: composefs } : {}),
        ...(ctx.values.activate === true ? { activate: true } : {}),
      }),
    );
  },
  'admin reference-sets activate': async (ctx, c) => {
    const [name, version] = only(ctx, 2, 'the release NAME and VERSION');
    return shown(await adminCall(c, 'POST', `/v1/admin/reference-sets/${encodeURIComponent(name!)}/${encodeURIComponent(version!)}/activate`, {}));
  },
  'admin reference-sets deactivate': async (ctx, c) =>
    shown(await adminCall(c, 'POST', `/v1/admin/reference-sets/${encodeURIComponent(only(ctx, 1, 'the release NAME')[0]!)}/deactivate`, {})),
  'admin audit list': async (ctx, c) =>
    listing(await adminCall(c, 'GET', `/v1/admin/audit${query({ subject: optionalString(ctx, 'subject'), ...page(ctx) })}`), [
      'seq',
      'at',
      'actor',
      'action',
      'subject',
    ]),
  'admin tokens list': async (ctx, c) =>
    listing(await adminCall(c, 'GET', `/v1/admin/tokens${query(page(ctx))}`), ['id', 'name', 'role', 'createdAt', 'expiresAt', 'revokedAt']),
  'admin tokens create': async (ctx, c) => {
    const [name] = only(ctx, 1, 'the token NAME');
    const expires = integer(ctx, 'expires-in');
    const created = (await adminCall(c, 'POST', '/v1/admin/tokens', {
      name,
      role: requireString(ctx, 'role'),
      ...(expires !== undefined ? { expiresInSeconds: expires } : {}),
    })) as { token: string };
    return { result: created, text: `${created.token}\n` };
  },
  'admin tokens revoke': async (ctx, c) =>
    shown(await adminCall(c, 'POST', `/v1/admin/tokens/${encodeURIComponent(only(ctx, 1, 'the token id')[0]!)}/revoke`, {})),
  'admin webhooks list': async (ctx, c) => listing(await adminCall(c, 'GET', `/v1/admin/webhooks${query(page(ctx))}`), ['id', 'url', 'events', 'disabledAt']),
  'admin webhooks create': async (ctx, c) => {
    const [url] = only(ctx, 1, 'the webhook URL');
    const events = requireString(ctx, 'events').split(',');
    return shown(await adminCall(c, 'POST', '/v1/admin/webhooks', { url, events }));
  },
  'admin secrets rotate': async (ctx, c) => {
    only(ctx, 0, 'no arguments');
    return shown(await adminCall(c, 'POST', '/v1/admin/secrets/rotate'));
  },
  'admin secrets import-disk-key': async (ctx, c) => {
    const [id, file] = only(ctx, 2, 'the node id and the key FILE (raw bytes)');
    const value = Buffer.from(await readInputFile(ctx, file!, CliInput.document)).toString('base64url');
    return shown(await adminCall(c, 'POST', `/v1/admin/nodes/${encodeURIComponent(id!)}/disk-key`, { value }));
  },
};

export const handlers: Record<string, CommandHandler> = Object.fromEntries(
  Object.entries(calls).map(([name, call]) => [name, { run: (ctx: CommandContext) => call(ctx, adminConnection(ctx)) }]),
);
