// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) in one
// process and prints figures next to the real peer measured in the same run.
import { glob } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, basename } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files: string[] = [];
for await (const f of glob('*.bench.ts', { cwd: here })) files.push(f);
files.sort();
for (const f of files) {
  const name = basename(f, '.bench.ts');
  if (wanted.length && !wanted.includes(name)) continue;
  console.log(`\n## ${name}`);
  // run() is async where the bench awaits peers or files, plain where it only computes.
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { run: () => unknown };
  await mod.run();
}
