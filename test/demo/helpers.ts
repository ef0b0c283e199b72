// Shared by the demo tests: the CLI run in-process with injected streams, and the systemd stub.
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { runVouch, type VouchRun } from '../helpers/cli.ts';
import { packageFile } from '../helpers/peers.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

export const vouch = (args: readonly string[]): Promise<VouchRun> => runVouch(args);

/** The stub every demo UKI is built on (systemd-boot-efi); skips locally, fails under CI when missing. */
export function requireStub(t: TestContext): boolean {
  return packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi');
}
