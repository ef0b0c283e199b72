import { X509Certificate } from 'node:crypto';
import { basename } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { toHex } from '../../bytes/index.ts';
import {
  checkEventDigests,
  compareWithQuote,
  describeDecodedEvent,
  escapeControlCharacters,
  parseEventLog,
  replay,
  type EventLog,
  type Finding,
  type QuotedPcrs,
  type Replay,
} from '../../eventlog/index.ts';
import { issuerOf, parseSignatureDatabase, SignatureType, subjectOf } from '../../secureboot/index.ts';
import { CliInput, readInputFile } from '../files.ts';

function onePositional(ctx: CommandContext): string {
  if (ctx.positionals.length !== 1) throw new UsageError('name exactly one event log FILE (e.g. /sys/kernel/security/tpm0/binary_bios_measurements)');
  return ctx.positionals[0]!;
}

/** PK/KEK/db/dbx shown as their entries; X.509 entries with subject and issuer so operators recognise them. */
function decodeSignatureLists(data: Uint8Array): unknown {
  return parseSignatureDatabase(data).map((list) => ({
    type: list.type,
    typeGuid: list.typeGuid,
    signatures: list.signatures.map((s) => {
      const entry = { owner: s.owner, data: toHex(s.data) };
      if (list.typeGuid !== SignatureType.x509) return entry;
      try {
        const cert = new X509Certificate(s.data);
        return { ...entry, subject: subjectOf(cert), issuer: issuerOf(cert) };
      } catch {
        // Firmware skips a db certificate it cannot parse; show the entry and say so.
        return { ...entry, unparsable: true };
      }
    }),
  }));
}

async function loadLog(ctx: CommandContext): Promise<EventLog> {
  return parseEventLog(await readInputFile(ctx, onePositional(ctx), CliInput.eventLog), { decodeSignatureLists });
}

/**
 * The command's text output: `lines`, then the findings. Every line is escaped, since event data,
 * variable names and finding messages quoting them come from the log (terminal escape sequences,
 * bidi overrides); findings are appended one by one (a hostile log has tens of thousands).
 */
function outputText(lines: string[], findings: readonly Finding[]): string {
  if (findings.length) {
    lines.push('', 'findings:');
    for (const f of findings) lines.push(`  ${f.severity.padEnd(7)} ${f.kind}: ${f.message}`);
  }
  return lines.map(escapeControlCharacters).join('\n');
}

function selectedBanks(ctx: CommandContext): readonly string[] | undefined {
  const bank = optionalString(ctx, 'bank');
  // A bank the log lacks is replay's ERR_EVENTLOG_BANK_MISSING, which names the banks it has.
  return bank === undefined ? undefined : [bank];
}

/**
 * Quoted PCR values from a JSON file: {bank: {pcr: hex}}, {pcrs: {bank: {pcr: hex}}}, or a file of
 * several logs' values keyed by log file name ({"<log name>": {pcrs: …}}, as expected-pcrs.json).
 */
async function readQuoted(ctx: CommandContext, file: string, logFile: string): Promise<QuotedPcrs> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(await readInputFile(ctx, file, CliInput.document)).toString('utf8'));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new UsageError(`--expect ${file}: not JSON: ${(e as Error).message}`);
  }
  const logName = basename(logFile);
  const perLog = typeof parsed === 'object' && parsed !== null && Object.hasOwn(parsed, logName) ? (parsed as Record<string, unknown>)[logName] : parsed;
  const root = (perLog as { pcrs?: unknown } | null)?.pcrs ?? perLog;
  if (typeof root !== 'object' || root === null) throw new UsageError(`--expect ${file}: expected {bank: {pcr: hex}}`);
  const out: Record<string, Record<string, string>> = {};
  for (const [bank, values] of Object.entries(root as Record<string, unknown>)) {
    if (typeof values !== 'object' || values === null) throw new UsageError(`--expect ${file}: bank ${bank} is not an object of PCR values`);
    out[bank] = {};
    for (const [pcr, value] of Object.entries(values)) {
      if (!/^[0-9]+$/.test(pcr) || typeof value !== 'string') throw new UsageError(`--expect ${file}: ${bank}.${pcr} must map a PCR number to a hex string`);
      out[bank][pcr] = value;
    }
  }
  return out;
}

function replayText(replayed: Replay): string[] {
  const lines: string[] = [];
  for (const bank of Object.values(replayed.banks)) {
    lines.push(`${bank.bank}:${bank.startupLocality ? ` (startup locality ${bank.startupLocality})` : ''}`);
    for (const p of bank.pcrs) lines.push(`  ${String(p.pcr).padStart(2)}: ${p.value}`);
  }
  return lines;
}

export const handlers = {
  'eventlog show': {
    async run(ctx) {
      const log = await loadLog(ctx);
      const pcrText = optionalString(ctx, 'pcr');
      if (pcrText !== undefined && !/^[0-9]+$/.test(pcrText)) throw new UsageError(`--pcr: not a PCR number: ${pcrText}`);
      const pcr = pcrText === undefined ? undefined : Number(pcrText);
      const digests = checkEventDigests(log);
      const events = log.events.filter((e) => pcr === undefined || e.pcr === pcr);
      const findings = [...log.findings, ...digests.findings];
      const checkByEvent = new Map(digests.events.map((c) => [c.event, c]));
      const result = {
        format: log.format,
        banks: log.banks,
        ...(log.specId ? { specId: log.specId } : {}),
        events: events.map((e) => ({
          index: e.index,
          pcr: e.pcr,
          type: e.type,
          typeName: e.typeName,
          digests: Object.fromEntries(Object.entries(e.digests).map(([bank, d]) => [bank, toHex(d)])),
          dataLength: e.data.length,
          decoded: e.decoded,
          digestCheck: checkByEvent.get(e.index),
        })),
        findings,
      };
      const shownBank = log.banks.includes('sha256') ? 'sha256' : log.banks[0]!;
      const lines = [`${log.format} log, banks ${log.banks.join(', ')}, ${log.events.length} events (digest column: ${shownBank})`];
      for (const e of events) {
        const digest = e.digests[shownBank];
        const check = checkByEvent.get(e.index)?.status === 'mismatch' ? ' [DIGEST MISMATCH]' : '';
        lines.push(
          `#${String(e.index).padStart(3)} PCR ${String(e.pcr).padStart(2)} ${e.typeName.padEnd(32)} ${digest ? toHex(digest).slice(0, 12) : '-'.repeat(12)} ${describeDecodedEvent(e.decoded)}${check}`,
        );
      }
      return { result, text: outputText(lines, findings) };
    },
  },
  'eventlog replay': {
    async run(ctx) {
      const log = await loadLog(ctx);
      const banks = selectedBanks(ctx);
      const replayed = replay(log, banks ? { banks } : {});
      const digests = checkEventDigests(log);
      const findings = [...log.findings, ...replayed.findings, ...digests.findings];
      const expectFile = optionalString(ctx, 'expect');
      const expected = expectFile === undefined ? undefined : await readQuoted(ctx, expectFile, onePositional(ctx));
      // With --bank only that bank's expected values are compared.
      const comparison =
        expected === undefined
          ? undefined
          : compareWithQuote(replayed, banks ? Object.fromEntries(Object.entries(expected).filter(([b]) => banks.includes(b))) : expected);
      const result = {
        format: log.format,
        banks: Object.fromEntries(
          Object.values(replayed.banks).map((b) => [
            b.bank,
            { startupLocality: b.startupLocality, pcrs: Object.fromEntries(b.pcrs.map((p) => [p.pcr, p.value])) },
          ]),
        ),
        ...(comparison ? { comparison } : {}),
        findings,
      };
      const lines = replayText(replayed);
      if (comparison) {
        lines.push('', comparison.allMatch ? 'all expected PCRs match' : `${comparison.mismatches.length} PCR(s) do not match:`);
        for (const m of comparison.mismatches)
          lines.push(`  ${m.bank} PCR ${m.pcr}: replayed ${m.replayed}, expected ${m.quoted} (events ${m.events.join(',') || 'none'})`);
      }
      return { result, text: outputText(lines, findings), ...(comparison && !comparison.allMatch ? { exitCode: ExitCode.notVerified } : {}) };
    },
  },
} satisfies Record<string, CommandHandler>;
