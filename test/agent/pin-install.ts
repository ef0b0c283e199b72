// The clevis pin laid out as installed, for tests that run Debian's clevis: `vouch` (here Node on
// bin/vouch.js) with packaging/clevis's two scripts beside it, in a directory put first on PATH.
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.ts';

const shellQuoted = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** A directory laid out as installed: `vouch` (here: Node on bin/vouch.js) with the two pin scripts beside it. */
export async function installPin(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'vouch'), `#!/bin/sh\nexec ${shellQuoted(process.execPath)} ${shellQuoted(join(repoRoot, 'bin/vouch.js'))} "$@"\n`);
  await chmod(join(bin, 'vouch'), 0o755);
  for (const script of ['clevis-encrypt-vouch', 'clevis-decrypt-vouch']) {
    await copyFile(join(repoRoot, 'packaging/clevis', script), join(bin, script));
    await chmod(join(bin, script), 0o755);
  }
  return bin;
}
