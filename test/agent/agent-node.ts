// A node for the agent's end-to-end tests: its own software TPM (sim:, persisted in a temporary
// directory) and state directory, and a fresh protocol peer; `vouch agent …` runs in-process with
// an empty environment. Also the checks several of those tests share.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runVouch, type VouchRun } from '../helpers/cli.ts';
import { tempDir } from '../tpm/cli-helpers.ts';
import { startProtocolPeer, type PeerNode, type ProtocolPeer } from './protocol-peer.ts';

export const EVENT_LOG = new URL('../vectors/eventlogs/debian-10.bin', import.meta.url).pathname;

export interface Node {
  readonly dir: string;
  readonly state: string;
  /** The node's TPM URI. */
  readonly tpm: string;
  readonly peer: ProtocolPeer;
  /** Every stdout and stderr the agent printed, for the secrets scan. */
  readonly printed: string[];
  agent(command: string, ...args: string[]): Promise<VouchRun>;
}

/** Retries that take milliseconds, not minutes. */
const FAST_RETRIES = ['--attempts', '3', '--backoff-base-ms', '1', '--backoff-cap-ms', '4'];

/** A node with its own software TPM and state directory, talking to a fresh protocol peer. */
export async function agentNode(t: TestContext): Promise<Node> {
  const dir = await tempDir(t, 'vouch-agent-');
  const protocolPeer = await startProtocolPeer(t);
  const state = join(dir, 'state');
  const tpm = `sim:${join(dir, 'tpm')}`;
  const printed: string[] = [];
  return {
    dir,
    state,
    tpm,
    peer: protocolPeer,
    printed,
    async agent(command, ...args) {
      const where = ['--server', protocolPeer.url, '--tpm', tpm, '--eventlog', EVENT_LOG, '--state', state, ...FAST_RETRIES];
      const run = await runVouch(['agent', command, ...where, ...args], { cwd: dir });
      printed.push(run.stdout, run.stderr);
      return run;
    },
  };
}

/**
 * Whether the kernel has device-mapper (cryptsetup open, clevis luks unlock). A kernel without it is
 * a property of the machine, not a missing package: nothing the suite could install provides it, so
 * the test is skipped with the reason even under CI (where the rest of the flow, up to cryptsetup's
 * own --test-passphrase check of the released key, still runs).
 */
export function deviceMapper(t: TestContext): boolean {
  if (/^\s*\d+ device-mapper$/m.test(readFileSync('/proc/misc', 'utf8'))) return true;
  t.skip('this kernel has no device-mapper (no device-mapper in /proc/misc; CONFIG_BLK_DEV_DM): opening through dm-crypt cannot run here');
  return false;
}

export function onlyNode(p: ProtocolPeer): PeerNode {
  assert.equal(p.nodes.size, 1);
  return [...p.nodes.values()][0]!;
}

export async function sparseImage(path: string, mib: number): Promise<string> {
  const handle = await open(path, 'w');
  await handle.truncate(mib * 1024 * 1024);
  await handle.close();
  return path;
}

/** Every file under `dir`, recursively. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The encodings a key could leak in. */
export function spellings(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  return [b.toString('base64url'), b.toString('base64'), b.toString('hex'), b.toString('hex').toUpperCase()];
}

export interface Ran {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/**
 * Runs a tool without blocking this process: the protocol peer answers from this process's event
 * loop, so a tool that calls the agent (clevis and its pin) must not be run with spawnSync.
 */
export function exec(cmd: string, args: readonly string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(options.input ?? '');
  });
}
