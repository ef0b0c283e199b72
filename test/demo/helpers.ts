// Shared by the demo tests: the CLI run in-process with injected streams, and the systemd stub.
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { runCli } from '../../src/cli/main.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

export async function vouch(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.out.push(c));
  stderr.on('data', (c: Buffer) => chunks.err.push(c));
  const code = await runCli(args, { stdout, stderr, env: {}, cwd: repoRoot });
  return { code, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
}

/** The stub every demo UKI is built on (systemd-boot-efi); skips locally, fails under CI when missing. */
export function requireStub(t: TestContext): boolean {
  if (existsSync(SYSTEMD_STUB)) return true;
  if (process.env.CI) throw new Error(`${SYSTEMD_STUB} is missing: scripts/install-deps.sh installs systemd-boot-efi`);
  t.skip('systemd-boot-efi not installed');
  return false;
}
