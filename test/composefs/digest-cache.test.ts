// The rebuild digest cache: unchanged files are not read again, and no change to a file, to the
// store or to the cache file can make a build pin content the file no longer has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectStore, buildTreeFromDirectory, fsverityDigest, hex, lookupPath, tempDir, type BuildOptions } from './helpers.ts';
import { writeImage } from '../../src/composefs/erofs/index.ts';

/** Files just written have a fresh ctime; a build "started" two minutes later may cache them. */
const later = (): number => Date.now() + 120_000;

function makeSource(src: string): void {
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a'), 'a'.repeat(1000));
  writeFileSync(join(src, 'sub/b'), 'b'.repeat(70_000));
  writeFileSync(join(src, 'sub/c'), 'c'.repeat(5000));
  writeFileSync(join(src, 'inline'), 'tiny');
}

async function build(src: string, store: ObjectStore, options: BuildOptions = {}): ReturnType<typeof buildTreeFromDirectory> {
  const built = await buildTreeFromDirectory(src, { store, skipXattrs: true, startedAt: later(), ...options });
  await store.release();
  return built;
}

function cachePath(storeRoot: string, src: string): string {
  return join(storeRoot, 'cache', `dir-${createHash('sha256').update(src).digest('hex')}`);
}

const digestOf = (root: Awaited<ReturnType<typeof build>>['root'], path: string): string => hex(lookupPath(root, path)!.inode.fsverityDigest!);

test('a rebuild reads no unchanged file and writes the same image', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const first = await build(src, store);
  assert.deepEqual([first.stats.objectsAdded, first.stats.digestsReused], [3, 0]);
  const again = await build(src, store);
  assert.deepEqual([again.stats.objectsAdded, again.stats.digestsReused], [0, 3]);
  assert.deepEqual(writeImage(again.root), writeImage(first.root));
  const off = await build(src, store, { digestCache: false });
  assert.equal(off.stats.digestsReused, 0);
});

test('a file changed in place with its size and mtime put back is read again (its ctime moved)', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  await build(src, store);
  const before = statSync(join(src, 'sub/c'));
  writeFileSync(join(src, 'sub/c'), 'C'.repeat(5000));
  utimesSync(join(src, 'sub/c'), before.atime, before.mtime);
  chmodSync(join(src, 'a'), 0o600); // a metadata change moves ctime too; content is the same
  const again = await build(src, store);
  assert.equal(digestOf(again.root, '/sub/c'), hex(fsverityDigest(new Uint8Array(Buffer.from('C'.repeat(5000))))));
  assert.deepEqual([again.stats.objectsAdded, again.stats.digestsReused], [1, 1]);
});

test('files changed less than a minute before the build are never cached', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  await build(src, store, { startedAt: Date.now() });
  // Even a build that would trust them finds nothing recorded.
  assert.equal((await build(src, store)).stats.digestsReused, 0);
});

test('a cache file others may write, a forged or cut-short one, is not used', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const storeRoot = join(dir, 'store');
  const store = await ObjectStore.open(storeRoot, { create: true });
  const first = await build(src, store);
  const path = cachePath(storeRoot, src);
  const text = readFileSync(path, 'latin1');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // Point every entry at an object the store holds, but of another file: /sub/b's content.
  const forged = text.replace(/ [0-9a-f]{64}$/gm, ` ${digestOf(first.root, '/sub/b')}`);
  writeFileSync(path, forged, { mode: 0o600 });
  chmodSync(path, 0o620);
  const groupWritable = await build(src, store);
  assert.equal(groupWritable.stats.digestsReused, 0);
  assert.equal(digestOf(groupWritable.root, '/a'), digestOf(first.root, '/a'));
  writeFileSync(path, text.slice(0, text.length - 10), { mode: 0o600 });
  chmodSync(path, 0o600);
  assert.equal((await build(src, store)).stats.digestsReused, 0);
});

test('an object gone from the store (gc) is not taken from the cache: the file is read and stored again', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const first = await build(src, store);
  rmSync(store.objectPath(digestOf(first.root, '/sub/b')));
  const again = await build(src, store);
  assert.deepEqual([again.stats.objectsAdded, again.stats.digestsReused], [1, 2]);
  assert.equal(store.hasSync(digestOf(first.root, '/sub/b')), true);
});
