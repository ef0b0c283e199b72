import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory } from '../../src/io/index.ts';

test('makeDirectory creates missing parents and accepts an existing directory', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vouch-io-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const deep = join(root, 'a', 'b', 'c');
  await makeDirectory(deep, 0o700);
  assert.ok((await stat(deep)).isDirectory());
  assert.equal((await stat(deep)).mode & 0o777, 0o700);
  await makeDirectory(deep);
});

test('makeDirectory fails under /proc instead of spinning (fs.mkdir recursive never returns there)', async () => {
  await assert.rejects(makeDirectory('/proc/vouch-no-such-dir/a/b'), { code: 'ENOENT' });
});
