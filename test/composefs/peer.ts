// composefs's own mkcomposefs and composefs-info: not packaged by Debian 12, so
// scripts/build-mkcomposefs.sh (run by scripts/install-deps.sh) builds them from Debian's source
// package into a cache. Missing tools fail the test under CI and skip it with a reason elsewhere,
// as test/helpers/peers.ts does for packaged peers.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface ComposefsTools {
  readonly mkcomposefs: string;
  readonly composefsInfo: string;
}

let found: ComposefsTools | null | undefined;

function locate(): ComposefsTools | null {
  const script = join(import.meta.dirname, '../../scripts/build-mkcomposefs.sh');
  const bin = execFileSync('bash', [script, '--where'], { encoding: 'utf8' }).trim();
  const tools = { mkcomposefs: join(bin, 'mkcomposefs'), composefsInfo: join(bin, 'composefs-info') };
  return existsSync(tools.mkcomposefs) && existsSync(tools.composefsInfo) ? tools : null;
}

/** The built tools, or skips (locally) / fails (CI) the test when they are missing. */
export function composefsTools(t: TestContext): ComposefsTools | undefined {
  found ??= locate();
  if (found) return found;
  const why = 'mkcomposefs and composefs-info are missing: scripts/build-mkcomposefs.sh builds them (make setup as root)';
  if (process.env.CI) throw new Error(why);
  t.skip(why);
  return undefined;
}

/** Runs a tool with bytes on stdin; resolves with its stdout, rejects with its stderr. */
export function runTool(file: string, args: string[], input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.toString().trim() || err.message}`));
      else resolve(stdout);
    });
    child.stdin!.end(input);
  });
}
