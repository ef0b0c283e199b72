import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ComposefsLimits,
  FileType,
  addChild,
  addHardlink,
  createInode,
  createRoot,
  externalChunkBits,
  isVouchErrorWithCode,
  lookupPath,
  nodePath,
  setXattr,
  validateInode,
  walkTree,
} from './helpers.ts';

const invalid = (e: unknown): boolean => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TREE_INVALID');
const dir = () => createInode({ mode: FileType.directory | 0o755 });
const file = () => createInode({ mode: FileType.regular | 0o644 });

test('names: empty, ., .., slash, NUL, too long and duplicates are refused', () => {
  const root = createRoot(dir());
  addChild(root, 'a', file());
  for (const name of ['', '.', '..', 'x/y', 'x\0', 'n'.repeat(256), 'a']) assert.throws(() => addChild(root, name, file()), invalid, JSON.stringify(name));
  assert.equal(nodePath(addChild(root, 'n'.repeat(255), file())), '/' + 'n'.repeat(255));
  assert.throws(() => addChild(lookupPath(root, '/a')!, 'b', file()), invalid);
  assert.throws(() => createRoot(file()), invalid);
  assert.throws(() => createInode({ mode: 0o644 }), invalid);
});

test('walk order is parents first, siblings in byte order (strcmp), as composefs dumps', () => {
  const root = createRoot(dir());
  for (const n of ['b', 'B', '\xff', 'a']) addChild(root, n, dir());
  addChild(lookupPath(root, '/a')!, 'z', file());
  assert.deepEqual([...walkTree(root)].map(nodePath), ['/', '/B', '/a', '/a/z', '/b', '/\xff']);
});

test('xattrs: replacing a name moves the last entry into its slot and appends, as libcomposefs does', () => {
  const inode = file();
  for (const n of ['user.a', 'user.b', 'user.c']) setXattr(inode, n, new Uint8Array([1]));
  setXattr(inode, 'user.a', new Uint8Array([2]));
  assert.deepEqual(
    inode.xattrs.map((x) => `${x.name}=${x.value[0]}`),
    ['user.c=1', 'user.b=1', 'user.a=2'],
  );
  assert.throws(() => setXattr(inode, '', new Uint8Array(0)), invalid);
  assert.throws(() => setXattr(inode, 'u'.repeat(256), new Uint8Array(0)), invalid);
  assert.throws(() => setXattr(inode, 'user.big', new Uint8Array(ComposefsLimits.maxXattrValueLength + 1)), invalid);
  // The per-inode budget (half of EROFS's u16 xattr area) counts names, values and entry overhead.
  const full = file();
  setXattr(full, 'user.x', new Uint8Array(ComposefsLimits.maxXattrBudget - ComposefsLimits.xattrHeaderSize - ComposefsLimits.xattrEntryOverhead - 6));
  assert.throws(() => setXattr(full, 'user.y', new Uint8Array(0)), invalid);
});

test('hardlinks resolve to the real target and never to directories', () => {
  const root = createRoot(dir());
  const a = addChild(root, 'a', file());
  const b = addHardlink(root, 'b', a);
  const c = addHardlink(root, 'c', b);
  assert.equal(c.hardlinkTarget, a);
  assert.equal(c.inode, a.inode);
  assert.throws(() => addHardlink(root, 'd', addChild(root, 'sub', dir())), invalid);
});

test('size limits: inline content, symlink targets, chunk count of external files', () => {
  assert.equal(externalChunkBits(1n), 12);
  assert.equal(externalChunkBits(4097n), 13);
  assert.equal(externalChunkBits(1n << 60n), 43);
  const big = createInode({ mode: FileType.regular | 0o644, size: 1024n << 43n });
  validateInode(big, '/ok');
  big.size += 1n;
  assert.throws(
    () => validateInode(big, '/too-big'),
    (e) => invalid(e) && /too big/.test((e as Error).message),
  );
  const inline = createInode({ mode: FileType.regular | 0o644, size: 5001n, content: new Uint8Array(5001) });
  assert.throws(() => validateInode(inline, '/inline'), invalid);
  const link = createInode({ mode: FileType.symlink | 0o777, size: 4096n, payload: 'x'.repeat(4096) });
  assert.throws(() => validateInode(link, '/link'), invalid);
  assert.throws(() => validateInode(createInode({ mode: FileType.symlink | 0o777 }), '/empty-link'), invalid);
});
