// The server the node lab's agent boots attest to: `vouch serve` (bin/vouch.js, as an operator runs
// it) on the host's 127.0.0.1 with a port the system picks, its embedded store in a temporary data
// directory, reached by the guest only through bootNodeDisk's guestfwd (GUEST_SERVER_URL). The lab
// talks to it as an operator does: releases are imported through the admin API with the first
// start's admin token, and what the server decided is read back from its audit log.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from './cli.ts';

export interface LabServerOptions {
  /** Where its data directory and configuration go (removed when the test ends). */
  readonly tmpRoot: string;
  /** PEM files of the CAs that issue the nodes' EK certificates (the swtpm's local CA): enrollment trusts them. */
  readonly ekRoots: readonly string[];
  readonly ekIntermediates: readonly string[];
}

/** One audit log entry, as the admin API returns it. */
export interface LabAuditEntry {
  readonly seq: number;
  readonly action: string;
  readonly subject: string | null;
  readonly details: Record<string, unknown>;
}

export interface LabServer {
  /** The host port the guest's GUEST_SERVER_URL is forwarded to. */
  readonly port: number;
  /** Imports release `name` (`vouch predict --json` output and its composefs digest) and accepts it. */
  importRelease(name: string, prediction: unknown, composefsDigest: string): Promise<void>;
  /** The audit log, oldest first. */
  audit(): Promise<LabAuditEntry[]>;
}

/** How long `vouch serve` may take to start, and to drain on SIGTERM. */
const SERVE_START_MS = 60_000;
const SERVE_STOP_MS = 15_000;

/** Starts `vouch serve` for one test; it is stopped (SIGTERM, then SIGKILL) and its data removed when the test ends. */
export async function startLabServer(t: TestContext, options: LabServerOptions): Promise<LabServer> {
  const dir = await mkdtemp(join(options.tmpRoot, 'vouch-serve-'));
  const config = join(dir, 'serve.json');
  await writeFile(config, JSON.stringify({ enrollment: { ekRoots: options.ekRoots, ekIntermediates: options.ekIntermediates } }));
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin/vouch.js'), 'serve', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', config],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), SERVE_STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  });
  let stderr = '';
  const started = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vouch serve did not start within ${SERVE_START_MS / 1000} s: ${stderr}`)), SERVE_START_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const token = /initial admin token \(shown once, store it now\): (\S+)/.exec(stderr)?.[1];
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url !== undefined && token !== undefined) {
        clearTimeout(timer);
        resolve({ url, token });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`vouch serve exited: ${stderr}`));
    });
  });
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${started.url}/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${started.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`vouch serve: ${method} /v1/admin${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    port: Number(new URL(started.url).port),
    async importRelease(name, prediction, composefsDigest) {
      await admin('POST', '/reference-sets', { name, prediction, composefsDigest, activate: true });
    },
    async audit() {
      const entries: LabAuditEntry[] = [];
      let cursor: string | undefined;
      do {
        const page = (await admin('GET', `/audit?limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)) as {
          items: LabAuditEntry[];
          nextCursor?: string;
        };
        entries.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return entries.sort((a, b) => a.seq - b.seq);
    },
  };
}
