// Error codes are API: every code declared in src/**/errors.ts is documented in docs/errors.md,
// and docs/errors.md lists no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, glob } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { registeredErrorCodes } from '../../src/errors/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('every declared error code is documented and every documented code is declared', async () => {
  for await (const f of glob('src/**/errors.ts', { cwd: root })) {
    await import(pathToFileURL(join(root, f)).href);
  }
  const declared = new Set(registeredErrorCodes().keys());
  const doc = await readFile(join(root, 'docs/errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]!));
  const undocumented = [...declared].filter((c) => !documented.has(c)).sort();
  const stale = [...documented].filter((c) => !declared.has(c)).sort();
  assert.deepEqual(undocumented, [], 'codes missing from docs/errors.md');
  assert.deepEqual(stale, [], 'docs/errors.md lists codes no module declares');
});
