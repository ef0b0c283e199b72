import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Creates a directory and its missing parents, one level at a time, like `mkdir -p`.
 * (fs.mkdir's recursive mode spins forever where mkdir answers ENOENT under an existing parent,
 * as anywhere in /proc: a mistyped --out or state path must fail, not hang.)
 */
export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  const options = mode === undefined ? {} : { mode };
  try {
    await mkdir(dir, options);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw e;
    await makeDirectory(parent, mode);
    await mkdir(dir, options).catch((again: unknown) => {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
    });
  }
}
