import type { Writable } from 'node:stream';
import type { ParseArgsOptionsConfig } from 'node:util';
import type { ExitCode } from './exit-codes.ts';

/** Streams are injected so tests run commands in-process and read what they print. */
export interface CliIO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface CommandContext {
  /** Option values as node:util parseArgs returns them (strings, booleans, or arrays when `multiple`). */
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  readonly json: boolean;
  readonly verbose: boolean;
  readonly io: CliIO;
  /** Progress and logs: stderr, only on a TTY and never with --json. */
  readonly log: (line: string) => void;
}

export interface CommandOutcome {
  /** The machine-readable result: printed as `{result, error}` with --json. */
  readonly result: unknown;
  /** Human text for stdout without --json; when absent the result is printed as JSON. */
  readonly text?: string;
  /** Non-zero when the command completed but the answer is "no" (e.g. 3: not verified). */
  readonly exitCode?: ExitCode;
}

/** A command's implementation, in its area's file; the table loads it only when the command runs. */
export interface CommandHandler {
  run(ctx: CommandContext): Promise<CommandOutcome>;
}

/** One row of the command table: what help and argument parsing need, and how to load the rest. */
export interface Command {
  /** Words that select the command, e.g. ['tpm', 'quote']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Argument synopsis after the command words, e.g. '--tpm URI --ak DIR --nonce HEX'. */
  readonly usage: string;
  readonly options?: ParseArgsOptionsConfig;
  /** Whether positionals are accepted (default false: an unexpected word is a usage error). */
  readonly positionals?: boolean;
  /** Imports the implementation (and with it only the modules this command needs). */
  load(): Promise<CommandHandler>;
}

/** Reads a string option that must be present. */
export function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.values[name];
  if (typeof v !== 'string' || v === '') {
    throw new UsageError(`missing required option --${name}`);
  }
  return v;
}

export function optionalString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function stringList(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

import { CliError } from './errors.ts';
export class UsageError extends CliError {
  constructor(message: string) {
    super('ERR_CLI_USAGE', message);
  }
}
