// Shared fixtures: the real logs of test/vectors/eventlogs and their quoted PCR values, and
// the CLI run in-process (also used by the secureboot CLI tests).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runVouch, type VouchRun } from '../helpers/cli.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const vectorDir = join(repoRoot, 'test/vectors/eventlogs');

export type ExpectedPcrs = Record<string, Record<string, string>>;

/** Log file name → quoted PCR values per bank (google/go-tpm-tools server/eventlog_test.go). */
export const expectedPcrs: Record<string, ExpectedPcrs> = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(join(vectorDir, 'expected-pcrs.json'), 'utf8')) as Record<string, { pcrs: ExpectedPcrs }>).map(([name, v]) => [
    name,
    v.pcrs,
  ]),
);

export const realLogNames = Object.keys(expectedPcrs).sort();

export function readRealLog(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(vectorDir, name)));
}

/** Runs `vouch ARGS` in-process from the repository root with captured output streams. */
export const vouch = (args: readonly string[]): Promise<VouchRun> => runVouch(args);
