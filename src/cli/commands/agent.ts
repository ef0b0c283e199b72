// `vouch agent …`: the node side. The logic is in src/agent; this file reads options, prints one
// clear line per outcome, and maps failures to exit codes (src/cli/exit-codes.ts). Nothing secret
// is printed: the released secrets stay in memory and only go to cryptsetup's standard input (unlock)
// or, through the clevis pin, to the standard output clevis reads.
import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { compactVerify, createLocalJWKSet } from 'jose';
import type { CommandContext, CommandHandler, CommandOutcome } from '../command.ts';
import { UsageError, optionalString, requireString } from '../command.ts';
import { CliError } from '../errors.ts';
import { ExitCode, exitCodeForError } from '../exit-codes.ts';
import { CliInput, onFile, readInputFile } from '../files.ts';
import { isVouchError } from '../../errors/index.ts';
import { VouchClient } from '../../agent/client.ts';
import { CLEVIS_PIN, decryptForPin, encryptForPin, parsePinConfig, parsePinJwe, pinKey, type PinHeader } from '../../agent/clevis.ts';
import { AgentError } from '../../agent/errors.ts';
import { blankVerdict, checkMapperName, formatLuks, openLuks, probeVolume, testLuksKey } from '../../agent/luks.ts';
import {
  DEFAULT_EVENT_LOG,
  DEFAULT_TPM,
  attestNode,
  defaultHostname,
  diskKeyBytes,
  enrollNode,
  releasedSecrets,
  type AgentSettings,
} from '../../agent/node.ts';
import { abortableSleep, runSchedule, type RoundReport } from '../../agent/schedule.ts';
import { DEFAULT_STATE_DIR, readLastResult, readNodeRecord, readStateAk } from '../../agent/state.ts';
import { findTools } from '../../agent/tools.ts';

/** Retries of one-shot commands: about four minutes in all before "unreachable" (a server restart, a network coming up). */
const DEFAULT_ATTEMPTS = 10;
const DEFAULT_BACKOFF_BASE_MS = 1000;
const DEFAULT_BACKOFF_CAP_MS = 60_000;
const DEFAULT_INTERVAL_SECONDS = 300;
const DEFAULT_JITTER = 0.1;
/** clevis hands a pin a LUKS passphrase; a JWE of it is a few hundred bytes. */
const MAX_PIN_INPUT_BYTES = 64 * 1024;

function positiveInteger(ctx: CommandContext, name: string, fallback: number): number {
  const text = optionalString(ctx, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

async function readPem(ctx: CommandContext, file: string): Promise<string> {
  const text = Buffer.from(await readInputFile(ctx, file, CliInput.document)).toString('utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--server-ca ${file}: not a PEM certificate`);
  return text;
}

/** The settings every agent command shares, from its options (else $VOUCH_TPM, else the defaults). */
async function agentSettings(
  ctx: CommandContext,
  overrides: Partial<Pick<AgentSettings, 'server' | 'serverCa' | 'tpm' | 'stateDir' | 'eventLog'>> = {},
): Promise<AgentSettings> {
  const caFile = optionalString(ctx, 'server-ca');
  const server = overrides.server ?? optionalString(ctx, 'server');
  const serverCa = overrides.serverCa ?? (caFile !== undefined ? await readPem(ctx, caFile) : undefined);
  const baseMs = positiveInteger(ctx, 'backoff-base-ms', DEFAULT_BACKOFF_BASE_MS);
  const capMs = positiveInteger(ctx, 'backoff-cap-ms', DEFAULT_BACKOFF_CAP_MS);
  return {
    stateDir: overrides.stateDir ?? resolve(ctx.io.cwd, optionalString(ctx, 'state') ?? DEFAULT_STATE_DIR),
    tpm: overrides.tpm ?? optionalString(ctx, 'tpm') ?? ctx.io.env.VOUCH_TPM ?? DEFAULT_TPM,
    eventLog: overrides.eventLog ?? resolve(ctx.io.cwd, optionalString(ctx, 'eventlog') ?? DEFAULT_EVENT_LOG),
    ...(server !== undefined ? { server } : {}),
    ...(serverCa !== undefined ? { serverCa } : {}),
    retry: { attempts: positiveInteger(ctx, 'attempts', DEFAULT_ATTEMPTS), baseMs, capMs: Math.max(capMs, baseMs), random: Math.random, sleep: abortableSleep },
    log: ctx.log,
  };
}

const enroll: CommandHandler = {
  async run(ctx) {
    const hostname = optionalString(ctx, 'hostname') ?? defaultHostname();
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(hostname))
      throw new UsageError(`--hostname ${JSON.stringify(hostname)}: lower-case letters, digits, dots and dashes`);
    const settings = await agentSettings(ctx);
    const report = await enrollNode(settings, hostname);
    if (report.status === 'pending-approval') {
      throw new AgentError(
        'ERR_AGENT_ENROLLMENT_PENDING',
        `enrollment ${report.enrollmentId} at ${report.server} waits for an operator's approval${report.reason ? ` (${report.reason})` : ''}: run vouch agent enroll again once approved`,
        { enrollmentId: report.enrollmentId },
      );
    }
    const text = report.alreadyEnrolled
      ? `already enrolled: node ${report.nodeId} at ${report.server} (state ${settings.stateDir})`
      : `enrolled: node ${report.nodeId} at ${report.server}, AK ${report.akName}`;
    return { result: report, text };
  },
};

const attest: CommandHandler = {
  async run(ctx) {
    const report = await attestNode(await agentSettings(ctx));
    const { response, secrets } = report.outcome;
    const result = {
      nodeId: report.state.node.nodeId,
      server: report.server,
      resultId: response.resultId,
      status: response.status,
      released: secrets !== undefined,
    };
    return {
      result,
      text: `affirming: node ${result.nodeId} at ${report.server}, result ${response.resultId}${secrets ? '; secrets released (held in memory only, not shown)' : ''}`,
    };
  },
};

const unlock: CommandHandler = {
  async run(ctx) {
    const device = resolve(ctx.io.cwd, requireString(ctx, 'luks'));
    const test = ctx.values.test === true;
    const formatIfBlank = ctx.values['format-if-blank'] === true;
    const name = optionalString(ctx, 'name');
    if (!test && name === undefined) throw new UsageError('missing required option --name (the /dev/mapper name), or --test');
    if (name !== undefined && !checkMapperName(name)) throw new UsageError(`--name ${JSON.stringify(name)}: letters, digits and _.+- only`);
    const tools = findTools(ctx.io.env);
    // Before the server is asked: a mistyped device fails here, not after a release.
    await onFile(device, () => access(device, formatIfBlank ? constants.R_OK | constants.W_OK : constants.R_OK));
    const report = await attestNode(await agentSettings(ctx));
    const key = diskKeyBytes(releasedSecrets(report));
    let formatted = false;
    try {
      if (formatIfBlank) {
        const probe = await probeVolume(device, tools);
        if (!probe.isLuks) {
          const verdict = blankVerdict(probe);
          if (!verdict.blank) throw new AgentError('ERR_AGENT_NOT_BLANK', `${device} is not blank, so it is not formatted: ${verdict.why}`, { device });
          ctx.log(`${device} is blank: formatting it as LUKS2 with the released key`);
          await formatLuks(device, key, tools);
          formatted = true;
        }
      }
      if (test) await testLuksKey(device, key, tools);
      else await openLuks(device, name!, key, tools);
    } finally {
      key.fill(0);
    }
    const result = {
      device,
      ...(test ? { tested: true } : { mapped: `/dev/mapper/${name!}` }),
      formatted,
      nodeId: report.state.node.nodeId,
      resultId: report.outcome.response.resultId,
    };
    const done = test ? `the released key opens ${device}` : `${device} unlocked as /dev/mapper/${name!}`;
    return { result, text: formatted ? `${device} was blank: formatted as LUKS2 with the released key; ${done}` : done };
  },
};

interface EarView {
  readonly status?: string;
  readonly iat?: unknown;
  readonly exp?: unknown;
}

/** The recorded attestation result, checked against the server's signing keys when the server answers. */
async function verifiedResult(client: VouchClient, ear: string, nodeId: string): Promise<{ verified: boolean; note: string; view?: EarView }> {
  let keys;
  try {
    keys = await client.jwks();
  } catch (e) {
    return { verified: false, note: `${client.server} did not answer (${isVouchError(e) ? e.code : 'error'}): shown as recorded, unverified` };
  }
  try {
    const { payload } = await compactVerify(ear, createLocalJWKSet(keys), { algorithms: ['ES256'] });
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as {
      sub?: unknown;
      iat?: unknown;
      exp?: unknown;
      submods?: Record<string, Record<string, unknown>>;
    };
    if (claims.sub !== nodeId) return { verified: false, note: `the recorded result is about ${String(claims.sub)}, not this node` };
    return {
      verified: true,
      note: `signature verified with ${client.server}'s keys`,
      view: { status: String(claims.submods?.['vouch-node']?.['ear.status']), iat: claims.iat, exp: claims.exp },
    };
  } catch (e) {
    return { verified: false, note: `the recorded result does not verify with ${client.server}'s keys: ${(e as Error).message}` };
  }
}

const status: CommandHandler = {
  async run(ctx) {
    const settings = await agentSettings(ctx);
    const node = await readNodeRecord(settings.stateDir);
    const ak = await readStateAk(settings.stateDir);
    if (!node) {
      throw new AgentError(
        'ERR_AGENT_NOT_ENROLLED',
        `${settings.stateDir} holds no enrollment${ak ? ` (an AK ${ak.descriptor.name} is there)` : ''}: run vouch agent enroll first`,
        {
          dir: settings.stateDir,
        },
      );
    }
    const lines = [
      `state:      ${settings.stateDir}`,
      `server:     ${node.server}${node.serverCa ? ' (certificate pinned)' : ''}`,
      node.status === 'enrolled' ? `node:       ${node.nodeId!} (${node.hostname})` : `enrollment: ${node.enrollmentId} waits for approval (${node.hostname})`,
      `AK:         ${node.akName}${ak?.descriptor.name === node.akName ? '' : ' (the AK files do not match!)'}`,
      `EK:         ${node.ekAlg}`,
    ];
    const last = await readLastResult(settings.stateDir);
    let check: Awaited<ReturnType<typeof verifiedResult>> | undefined;
    if (!last) lines.push('last result: none recorded');
    else {
      const client = new VouchClient({
        server: settings.server ?? last.server,
        ...((settings.serverCa ?? node.serverCa) ? { ca: settings.serverCa ?? node.serverCa } : {}),
        timeoutMs: 10_000,
      });
      check = await verifiedResult(client, last.ear, last.nodeId);
      const shownStatus = check.view?.status ?? last.status;
      lines.push(`last result: ${shownStatus}${last.revoked ? ', revoked' : ''}${last.released ? ', secrets released' : ''} at ${last.at} (${last.resultId})`);
      for (const r of last.reasons) lines.push(`  ${r.reason}: ${r.message}`);
      lines.push(`  ${check.note}`);
      if (check.view && typeof check.view.exp === 'number') {
        lines.push(`  ${check.view.exp * 1000 < Date.now() ? 'expired' : 'valid until'} ${new Date(check.view.exp * 1000).toISOString()}`);
      }
    }
    const result = {
      stateDir: settings.stateDir,
      node,
      akMatches: ak?.descriptor.name === node.akName,
      lastResult: last ?? null,
      lastResultVerified: check?.verified ?? false,
      note: check?.note ?? null,
    };
    return { result, text: lines.join('\n') };
  },
};

function describeRound(report: RoundReport): string {
  const next = report.nextInMs === undefined ? '' : `; next attestation in ${(report.nextInMs / 1000).toFixed(1)} s`;
  const error = report.error;
  const what = isVouchError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : '';
  switch (report.outcome) {
    case 'affirming':
      return `round ${report.round}: affirming${next}`;
    case 'refused':
      return `round ${report.round}: refused: ${what}${next}`;
    case 'revoked':
      return `round ${report.round}: revoked: ${what}${next}`;
    case 'failed':
      return `round ${report.round}: failed (${report.failuresInARow} in a row): ${what}${next}`;
  }
}

const run: CommandHandler = {
  async run(ctx) {
    const settings = await agentSettings(ctx);
    const intervalSeconds = positiveInteger(ctx, 'interval', DEFAULT_INTERVAL_SECONDS);
    const jitterText = optionalString(ctx, 'jitter');
    const jitter = jitterText === undefined ? DEFAULT_JITTER : Number(jitterText);
    if (!(jitter >= 0 && jitter < 1)) throw new UsageError(`--jitter must be at least 0 and below 1, got ${JSON.stringify(jitterText)}`);
    const rounds = optionalString(ctx, 'rounds') === undefined ? undefined : positiveInteger(ctx, 'rounds', 1);
    // Each round tries once: between rounds the schedule's own backoff applies.
    const once = { ...settings, retry: { ...settings.retry, attempts: 1 } };
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      const last = await runSchedule(
        async () => {
          await attestNode(once);
        },
        {
          intervalMs: intervalSeconds * 1000,
          jitter,
          backoff: settings.retry,
          random: settings.retry.random,
          sleep: settings.retry.sleep,
          signal: stop.signal,
          ...(rounds !== undefined ? { rounds } : {}),
          // A daemon's journal: every round is said, whatever the terminal.
          onRound: (report) => ctx.io.stderr.write(`vouch agent run: ${describeRound(report)}\n`),
        },
      );
      const exitCode: ExitCode = last?.error !== undefined && isVouchError(last.error) ? exitCodeForError(last.error.code) : ExitCode.ok;
      return { result: last ? { rounds: last.round, outcome: last.outcome } : { rounds: 0, outcome: null }, text: '', exitCode } satisfies CommandOutcome;
    } finally {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    }
  },
};

/** Reads standard input up to `max` bytes (clevis pipes the plaintext or the JWE). */
async function readStdin(ctx: CommandContext, max: number): Promise<Uint8Array> {
  const stdin: Readable | undefined = ctx.io.stdin;
  if (!stdin) throw new UsageError('this command reads its input from standard input, which it does not have here');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max)
      throw new CliError('ERR_CLI_INPUT_TOO_LARGE', `standard input: more than ${max} bytes; the ${CLEVIS_PIN} pin reads at most that`, { maxBytes: max });
    chunks.push(chunk);
  }
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

/** What a pin header (or configuration) says, as agent settings; the defaults where it says nothing. */
async function pinSettings(ctx: CommandContext, pin: Omit<PinHeader, 'node'>): Promise<AgentSettings> {
  return agentSettings(ctx, {
    server: pin.url,
    ...(pin.ca !== undefined ? { serverCa: pin.ca } : {}),
    tpm: pin.tpm ?? DEFAULT_TPM,
    stateDir: resolve(ctx.io.cwd, pin.state ?? DEFAULT_STATE_DIR),
    eventLog: resolve(ctx.io.cwd, pin.eventlog ?? DEFAULT_EVENT_LOG),
  });
}

/** The pin key of an affirming attestation (the caller wipes it). */
async function attestForPinKey(settings: AgentSettings): Promise<{ key: Uint8Array; nodeId: string }> {
  const report = await attestNode(settings);
  const diskKey = diskKeyBytes(releasedSecrets(report));
  try {
    return { key: pinKey(diskKey, report.state.node.nodeId), nodeId: report.state.node.nodeId };
  } finally {
    diskKey.fill(0);
  }
}

const clevisEncrypt: CommandHandler = {
  async run(ctx) {
    // clevis passes -y (skip trust prompts) through to every pin: accepted, as this pin prompts for nothing.
    const args = ctx.positionals;
    if (args.length !== 1) throw new UsageError(`usage: clevis encrypt ${CLEVIS_PIN} CONFIG < PLAINTEXT > JWE`);
    const config = parsePinConfig(args[0]!);
    const ca = config.ca === undefined || config.ca.includes('-----BEGIN') ? config.ca : await readPem(ctx, config.ca);
    const plaintext = await readStdin(ctx, MAX_PIN_INPUT_BYTES);
    try {
      const { key, nodeId } = await attestForPinKey(await pinSettings(ctx, { ...config, ...(ca !== undefined ? { ca } : {}) }));
      try {
        const header: PinHeader = { url: config.url, ...(ca !== undefined ? { ca } : {}), ...pick(config, 'tpm', 'state', 'eventlog'), node: nodeId };
        ctx.io.stdout.write(await encryptForPin(plaintext, key, header));
      } finally {
        key.fill(0);
      }
    } finally {
      plaintext.fill(0);
    }
    return { result: null, text: '' };
  },
};

function pick(config: Omit<PinHeader, 'node'>, ...names: ('tpm' | 'state' | 'eventlog')[]): Partial<PinHeader> {
  return Object.fromEntries(names.filter((n) => config[n] !== undefined).map((n) => [n, config[n]]));
}

const clevisDecrypt: CommandHandler = {
  async run(ctx) {
    if (ctx.positionals.length !== 0) throw new UsageError(`usage: clevis decrypt ${CLEVIS_PIN} < JWE > PLAINTEXT`);
    const jwe = Buffer.from(await readStdin(ctx, MAX_PIN_INPUT_BYTES)).toString('utf8');
    const header = parsePinJwe(jwe);
    const { key, nodeId } = await attestForPinKey(await pinSettings(ctx, header));
    try {
      if (nodeId !== header.node) {
        throw new AgentError('ERR_AGENT_CLEVIS', `the JWE was made for node ${header.node}; this state directory is node ${nodeId}`, {
          node: header.node,
          nodeId,
        });
      }
      const plaintext = await decryptForPin(jwe, key);
      ctx.io.stdout.write(plaintext);
      plaintext.fill(0);
    } finally {
      key.fill(0);
    }
    return { result: null, text: '' };
  },
};

export const handlers = {
  'agent enroll': enroll,
  'agent attest': attest,
  'agent unlock': unlock,
  'agent status': status,
  'agent run': run,
  'agent clevis-encrypt': clevisEncrypt,
  'agent clevis-decrypt': clevisDecrypt,
} satisfies Record<string, CommandHandler>;
