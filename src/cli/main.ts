import { parseArgs } from 'node:util';
import { isVouchError } from '../errors/index.ts';
import type { CliIO, Command, CommandOutcome } from './command.ts';
import { UsageError } from './command.ts';
import { ExitCode, exitCodeForError } from './exit-codes.ts';

const globalOptions = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function findCommand(commands: readonly Command[], argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of commands) {
    const n = command.path.length;
    if (n > argv.length) continue;
    if (command.path.every((w, i) => argv[i] === w) && (!best || n > best.command.path.length)) {
      best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

function helpText(commands: readonly Command[], prefix: readonly string[]): string {
  const shown = commands.filter((c) => prefix.every((w, i) => c.path[i] === w));
  const lines = ['usage: vouch <command> [options] [--json] [--verbose]', '', 'commands:'];
  const width = Math.max(...shown.map((c) => c.path.join(' ').length), 10);
  for (const c of shown) lines.push(`  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  lines.push('', 'exit codes: 0 ok, 1 error, 2 cancelled, 3 not verified/denied, 4 authentication');
  return lines.join('\n') + '\n';
}

function commandHelp(c: Command): string {
  return `usage: vouch ${c.path.join(' ')} ${c.usage}\n\n${c.summary}\n`;
}

function write(stream: NodeJS.WritableStream | import('node:stream').Writable, s: string): void {
  stream.write(s);
}

/**
 * Runs one `vouch` invocation over a command table and returns its exit code. With --json stdout
 * gets exactly one document `{result, error}`; without it, human text on stdout and
 * `vouch: CODE: message` on stderr. Only the chosen command's implementation is loaded.
 */
export async function runCli(argv: readonly string[], io: CliIO, commands: readonly Command[]): Promise<number> {
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  const emitError = (code: string, message: string, details: unknown, stack?: string): void => {
    if (json) {
      write(io.stdout, JSON.stringify({ result: null, error: { code, message, details } }) + '\n');
    } else {
      write(io.stderr, `vouch: ${code}: ${message}\n`);
      if (verbose && stack) write(io.stderr, stack + '\n');
    }
  };

  const words = argv.filter((a) => !a.startsWith('-'));
  const found = findCommand(commands, argv);
  if (!found) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
      write(io.stdout, helpText(commands, words[0] === 'help' ? words.slice(1) : words));
      return ExitCode.ok;
    }
    const partial = commands.some((c) => words.length > 0 && c.path[0] === words[0]);
    if (partial) write(io.stderr, helpText(commands, [words[0]!]));
    emitError('ERR_CLI_USAGE', `unknown command: ${words.join(' ') || argv.join(' ')}`, {});
    return ExitCode.error;
  }
  const { command, rest } = found;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...globalOptions, ...(command.options ?? {}) },
        allowPositionals: command.positionals ?? false,
        strict: true,
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n${commandHelp(command).trimEnd()}`);
    }
    if (parsed.values.help) {
      write(io.stdout, commandHelp(command));
      return ExitCode.ok;
    }
    const isTty = Boolean((io.stderr as { isTTY?: boolean }).isTTY);
    const handler = await command.load();
    const outcome: CommandOutcome = await handler.run({
      values: parsed.values,
      positionals: parsed.positionals,
      json,
      verbose,
      io,
      log: (line) => {
        if (!json && (isTty || verbose)) write(io.stderr, line + '\n');
      },
    });
    if (json) {
      write(io.stdout, JSON.stringify({ result: outcome.result ?? null, error: null }, jsonReplacer) + '\n');
    } else if (outcome.text !== undefined) {
      write(io.stdout, outcome.text.endsWith('\n') || outcome.text === '' ? outcome.text : outcome.text + '\n');
    } else {
      write(io.stdout, JSON.stringify(outcome.result, jsonReplacer, 2) + '\n');
    }
    return outcome.exitCode ?? ExitCode.ok;
  } catch (e) {
    if (isVouchError(e)) {
      emitError(e.code, e.message, e.details, e.stack);
      return exitCodeForError(e.code);
    }
    emitError('ERR_CLI_INTERNAL', e instanceof Error ? e.message : String(e), {}, e instanceof Error ? e.stack : undefined);
    return ExitCode.error;
  }
}

/** Runs `vouch` as this process (its arguments, streams, environment and directory) and sets its exit code. */
export async function runAsProcess(commands: readonly Command[]): Promise<void> {
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
  process.exitCode = await runCli(process.argv.slice(2), io, commands);
}

/** JSON for values that hold bytes and bigints: bytes as hex, bigints as decimal strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
