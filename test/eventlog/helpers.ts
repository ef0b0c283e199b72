// Shared fixtures: the real logs of ../shared/vectors/eventlogs and their quoted PCR values, and
// the CLI run in-process (also used by the secureboot CLI tests).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const vectorDir = join(repoRoot, '../shared/vectors/eventlogs');

export type ExpectedPcrs = Record<string, Record<string, string>>;

/** Log file name → quoted PCR values per bank (google/go-tpm-tools server/eventlog_test.go). */
export const expectedPcrs: Record<string, ExpectedPcrs> = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(join(vectorDir, 'expected-pcrs.json'), 'utf8')) as Record<string, { pcrs: ExpectedPcrs }>).map(([name, v]) => [name, v.pcrs]),
);

export const realLogNames = Object.keys(expectedPcrs).sort();

export function readRealLog(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(vectorDir, name)));
}

/** Runs `vouch ARGS` in-process from the repository root with captured output streams. */
export async function vouch(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.out.push(c));
  stderr.on('data', (c: Buffer) => chunks.err.push(c));
  const code = await runCli(args, { stdout, stderr, env: {}, cwd: repoRoot });
  return { code, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
}
