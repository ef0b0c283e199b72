// The one place that says where the real-world vectors live: test/vectors/ (PROVENANCE.md there).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './engine/build.ts';

const VECTOR_ROOTS = [join(REPO_ROOT, 'test/vectors')];

export function vectorPath(...parts: string[]): string {
  for (const root of VECTOR_ROOTS) {
    const path = join(root, ...parts);
    if (existsSync(path)) return path;
  }
  throw new Error(`vector ${parts.join('/')} not found under ${VECTOR_ROOTS.join(' or ')}`);
}

/** Every file of a vector directory whose name passes `keep`, sorted by name so seeds come in a fixed order. */
export async function vectorFiles(directory: string, keep: (name: string) => boolean = () => true): Promise<Uint8Array[]> {
  const dir = vectorPath(directory);
  const names = (await readdir(dir)).filter(keep).sort();
  return Promise.all(names.map(async (name) => new Uint8Array(await readFile(join(dir, name)))));
}
