// Real peers (swtpm, tpm2-tools, sbsign, fsverity, fsck.erofs, qemu...) are installed by
// scripts/install-deps.sh. A test that needs one calls `peer('tool')`: present → the path;
// missing → the test fails under CI (a missing install step must be loud) and is skipped
// with a reason on a developer machine.
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const cache = new Map<string, string | undefined>();

export function findTool(name: string): string | undefined {
  if (!cache.has(name)) {
    let path: string | undefined;
    try {
      path = execFileSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      path = undefined;
    }
    cache.set(name, path);
  }
  return cache.get(name);
}

/** Returns the tool's path, or skips (locally) / fails (CI) the test when it is missing. */
export function peer(t: TestContext, name: string): string | undefined {
  const path = findTool(name);
  if (path) return path;
  if (process.env.CI) throw new Error(`peer tool ${name} is missing: scripts/install-deps.sh should have installed it`);
  t.skip(`peer tool ${name} not installed (run make setup as root)`);
  return undefined;
}
