import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peer } from '../helpers/peers.ts';
import { makeSampleTree, needsRoot } from './fixtures.ts';
import {
  ObjectStore,
  buildTreeFromDirectory,
  diffTrees,
  lookupPath,
  parseDump,
  printDump,
  printDumpLine,
  verifyObjects,
  hex,
  tempDir,
  tmpfsDir,
  FileType,
} from './helpers.ts';
import { readImage, writeImage } from '../../src/composefs/erofs/index.ts';

test('a directory tree builds into the store and survives dump and image round trips', async (t) => {
  const setfattr = peer(t, 'setfattr');
  const fsverity = peer(t, 'fsverity');
  const fsck = peer(t, 'fsck.erofs');
  if (!setfattr || !fsverity || !fsck || needsRoot(t)) return;
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const sample = await makeSampleTree(src, setfattr);
  t.after(() => sample.close());
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const { root, stats } = await buildTreeFromDirectory(src, { store, hardlinks: true });

  assert.equal(stats.hardlinks, 1);
  assert.equal(stats.objectsAdded, 3); // just-over, big, sparse (the rest inline or empty)
  const line = (p: string): string => printDumpLine(lookupPath(root, p)!);
  assert.match(line('/etc/small'), /^\/etc\/small 6 100644 1 \d+ \d+ 0 1600000000\.250000000 - hello\\n - user\.note=a\\x3db\\x20c\n$/);
  assert.match(line('/etc/empty'), /^\/etc\/empty 0 100644 1 \d+ \d+ 0 [\d.]+ - - -\n$/);
  assert.match(line('/null-dev'), /^\/null-dev 0 20644 1 \d+ \d+ 259 /);
  assert.match(line('/fifo'), / 10644 /);
  assert.match(line('/sock'), / 14\d{4} /);
  assert.match(line('/dash-link'), /^\/dash-link 1 120777 1 \d+ \d+ 0 [\d.]+ \\x2d - -\n$/);
  assert.match(line('/name\xffwith\nbytes'), /^\/name\\xffwith\\nbytes 8 /);
  // The first name in dump order holds the inode; later names are hardlinks to it.
  assert.match(line('/etc/deep/er/big'), /^\/etc\/deep\/er\/big 300000 @100644 2 .* \/big-hardlink - [0-9a-f]{64} user\.bin=\\x00\\xff\\x3d\\n\n$/);
  assert.equal(lookupPath(root, '/etc')!.inode.nlink, 3);
  // As lcfs_load_node_from_file: a directory keeps its st_size (the image writer replaces it).
  assert.equal(lookupPath(root, '/etc')!.inode.size, BigInt(statSync(join(src, 'etc')).size));
  assert.equal(lookupPath(root, '/etc/deep')!.inode.xattrs[0]!.name, 'trusted.overlay.opaque');
  assert.equal(lookupPath(root, '/sparse')!.inode.mode & FileType.mask, FileType.regular);

  // Every external file's object is exactly the file, by the reference tool's digest.
  for (const p of ['/etc/just-over', '/etc/deep/er/big', '/sparse']) {
    const inode = lookupPath(root, p)!.inode;
    const expected: string | undefined = execFileSync(fsverity, ['digest', join(src, p)], { encoding: 'utf8' }).split(' ')[0];
    assert.equal(`sha256:${hex(inode.fsverityDigest!)}`, expected, p);
    assert.equal(inode.payload, `${expected!.slice(7, 9)}/${expected!.slice(9)}`);
  }
  assert.deepEqual((await verifyObjects(root, store)).problems, []);

  const dump = printDump(root);
  assert.equal(printDump(parseDump(dump, { strict: true })), dump);
  const image = writeImage(root);
  const imagePath = join(dir, 'image.cfs');
  writeFileSync(imagePath, image);
  execFileSync(fsck, [imagePath], { stdio: 'pipe' });
  assert.deepEqual(diffTrees(readImage(image), root), []);
  // Building again from the same files finds the same tree and adds nothing to the store.
  const again = await buildTreeFromDirectory(src, { store, hardlinks: true });
  assert.equal(again.stats.objectsAdded, 0);
  assert.deepEqual(diffTrees(root, again.root), []);
});

test('by default every name is its own inode, as mkcomposefs records a directory (no hardlinks, nlink 1)', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a'), 'x'.repeat(100));
  linkSync(join(src, 'a'), join(src, 'b'));
  const { root, stats } = await buildTreeFromDirectory(src, { skipXattrs: true });
  assert.equal(stats.hardlinks, 0);
  for (const name of ['/a', '/b']) {
    const node = lookupPath(root, name)!;
    assert.equal(node.hardlinkTarget, null, name);
    assert.equal(node.inode.nlink, 1, name);
  }
  assert.notEqual(lookupPath(root, '/a')!.inode, lookupPath(root, '/b')!.inode);
  const kept = await buildTreeFromDirectory(src, { skipXattrs: true, hardlinks: true });
  assert.equal(kept.stats.hardlinks, 1);
  assert.equal(lookupPath(kept.root, '/a')!.inode.nlink, 2);
  assert.match(printDumpLine(lookupPath(kept.root, '/b')!), /^\/b 100 @100644 2 .* \/a /);
});

test('diffTrees reports added, removed and modified paths with the fields that changed', (t) => {
  const base = parseDump(
    '/ 0 40755 3 0 0 0 0.0 - - -\n/a 3 100644 1 0 0 0 5.0 - abc -\n/d 0 40755 2 0 0 0 0.0 - - -\n/d/x 0 100644 1 0 0 0 0.0 - - -\n/s 1 120777 1 0 0 0 0.0 t - -\n',
  );
  const changed = parseDump(
    '/ 0 40755 3 0 0 0 0.0 - - -\n/a 3 100600 1 0 0 0 6.0 - abd - user.x=1\n/d 0 40755 2 0 0 0 0.0 - - -\n/n 0 100644 1 0 0 0 0.0 - - -\n/s 1 120777 1 0 0 0 0.0 u - -\n',
  );
  assert.deepEqual(diffTrees(base, changed), [
    { path: '/a', change: 'modified', fields: ['mode', 'mtime', 'content', 'xattrs'] },
    { path: '/d/x', change: 'removed' },
    { path: '/n', change: 'added' },
    { path: '/s', change: 'modified', fields: ['target'] },
  ]);
  assert.deepEqual(
    diffTrees(base, changed, { ignore: ['mode', 'mtime', 'xattrs', 'content', 'target'] }).map((c) => c.path),
    ['/d/x', '/n'],
  );
  t.diagnostic('diff ok');
});

test('mtimes beyond 2^53 s (tmpfs keeps them) are read to the second, as mkcomposefs reads them', async (t) => {
  const dir = tmpfsDir(t);
  if (!dir) return;
  const cases = [
    { name: 'future', stamp: '9007199254740993.5', sec: 9_007_199_254_740_993n, nsec: 500_000_000 },
    // As struct timespec holds it: seconds rounded down, nanoseconds added.
    { name: 'past', stamp: '-9007199254740995.25', sec: -9_007_199_254_740_996n, nsec: 750_000_000 },
    { name: 'max', stamp: '9223372036854775807', sec: 9_223_372_036_854_775_807n, nsec: 0 },
  ];
  for (const c of cases) {
    writeFileSync(join(dir, c.name), '');
    execFileSync('touch', ['-d', `@${c.stamp}`, join(dir, c.name)]);
  }
  const { root } = await buildTreeFromDirectory(dir, { skipXattrs: true });
  for (const c of cases) {
    const inode = lookupPath(root, `/${c.name}`)!.inode;
    assert.deepEqual([inode.mtimeSec, inode.mtimeNsec], [c.sec, c.nsec], c.name);
  }
});
