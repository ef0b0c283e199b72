// Properties of verification: any tampering with a stored object (one flipped byte anywhere,
// truncation, growth, deletion, two objects swapped) and any change to a file of the root tree
// (content with size and times kept, size, mode, owner, symlink target, xattrs, an added or a
// removed file) is always reported, naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  lutimesSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { peer } from '../helpers/peers.ts';
import { ObjectStore, buildTreeFromDirectory, diffTrees, verifyObjects, walkTree, FileType, type CfsNode } from './helpers.ts';
import { tempDir } from './helpers.ts';

/** Sizes around the inline limit (64), one block (4096) and a second Merkle level (more than 128 blocks). */
const fileSizes = [1, 64, 65, 4095, 4096, 4097, 70_000, 600_000];
const wholeSecond = 1_700_000_000;

function fillSourceTree(src: string): void {
  mkdirSync(join(src, 'sub/deeper'), { recursive: true });
  fileSizes.forEach((size, i) => {
    const path = join(src, i % 2 === 0 ? `f${i}` : `sub/f${i}`);
    writeFileSync(
      path,
      new Uint8Array(size).map((_, j) => (j * 31 + i * 7 + (j >> 8)) & 0xff),
    );
  });
  writeFileSync(join(src, 'sub/deeper/empty'), '');
  symlinkSync('../f0', join(src, 'sub/link'));
  // Whole-second times, so putting them back after a change restores them exactly.
  lutimesSync(join(src, 'sub/link'), wholeSecond, wholeSecond);
  for (const path of [...fileSizes.map((_, i) => (i % 2 === 0 ? `f${i}` : `sub/f${i}`)), 'sub/deeper/empty', 'sub/deeper', 'sub', ''])
    utimesSync(join(src, path), wholeSecond, wholeSecond);
}

/** Object files of the store, in a fixed order, with the dump paths that reference them. */
function referencedObjects(root: CfsNode, store: ObjectStore): { payload: string; file: string }[] {
  const payloads = new Set<string>();
  for (const node of walkTree(root)) {
    const { payload, content, mode } = node.inode;
    if ((mode & FileType.mask) === FileType.regular && content === null && payload !== null) payloads.add(payload);
  }
  return [...payloads].sort().map((payload) => ({ payload, file: join(store.objectsDir, payload) }));
}

type ObjectTamper =
  | { kind: 'flip'; object: number; offset: number; mask: number }
  | { kind: 'truncate'; object: number; keep: number }
  | { kind: 'append'; object: number; extra: Uint8Array }
  | { kind: 'delete'; object: number }
  | { kind: 'swap'; object: number; other: number };

const objectTamperArb: fc.Arbitrary<ObjectTamper> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), object: fc.nat(), offset: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), object: fc.nat(), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), object: fc.nat(), extra: fc.uint8Array({ minLength: 1, maxLength: 5000 }) }),
  fc.record({ kind: fc.constant('delete' as const), object: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), object: fc.nat(), other: fc.nat({ max: 1000 }) }),
);

test('verify reports every tampered object: any flipped byte, truncation, growth, deletion or swap', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  fillSourceTree(src);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const { root } = await buildTreeFromDirectory(src, { store, skipXattrs: true });
  const objects = referencedObjects(root, store);
  assert.equal(objects.length, fileSizes.filter((s) => s > 64).length);
  assert.deepEqual((await verifyObjects(root, store)).problems, []);

  await fc.assert(
    fc.asyncProperty(objectTamperArb, async (tamper) => {
      const victim = objects[tamper.object % objects.length]!;
      const original = readFileSync(victim.file);
      const tampered = [victim.payload];
      let otherOriginal: { file: string; bytes: Buffer } | undefined;
      try {
        chmodSync(victim.file, 0o644);
        switch (tamper.kind) {
          case 'flip': {
            const bytes = Buffer.from(original);
            bytes[tamper.offset % bytes.length]! ^= tamper.mask;
            writeFileSync(victim.file, bytes);
            break;
          }
          case 'truncate':
            truncateSync(victim.file, tamper.keep % original.length);
            break;
          case 'append':
            writeFileSync(victim.file, Buffer.concat([original, tamper.extra]));
            break;
          case 'delete':
            unlinkSync(victim.file);
            break;
          case 'swap': {
            const other = objects[(tamper.object + 1 + (tamper.other % (objects.length - 1))) % objects.length]!;
            otherOriginal = { file: other.file, bytes: readFileSync(other.file) };
            chmodSync(other.file, 0o644);
            writeFileSync(victim.file, otherOriginal.bytes);
            writeFileSync(other.file, original);
            tampered.push(other.payload);
            break;
          }
        }
        const { problems } = await verifyObjects(root, store);
        assert.deepEqual(problems.map((p) => p.payload).sort(), tampered.sort(), `${tamper.kind}: ${JSON.stringify(problems)}`);
        const expectedKind = tamper.kind === 'delete' ? 'missing' : 'corrupt';
        for (const p of problems) assert.equal(p.problem, expectedKind);
      } finally {
        writeFileSync(victim.file, original);
        if (otherOriginal) writeFileSync(otherOriginal.file, otherOriginal.bytes);
      }
    }),
    { numRuns: 60 },
  );
  assert.deepEqual((await verifyObjects(root, store)).problems, []);

  // An object that cannot even be looked at (here a symlink to itself) is reported, and the rest still checked.
  const victim = objects[0]!;
  renameSync(victim.file, `${victim.file}.aside`);
  symlinkSync(victim.file, victim.file);
  try {
    const { checked, problems } = await verifyObjects(root, store);
    assert.equal(checked, objects.length);
    assert.deepEqual(
      problems.map((p) => [p.payload, p.problem]),
      [[victim.payload, 'unreadable']],
    );
    assert.match(problems[0]!.reason!, /ELOOP/);
  } finally {
    unlinkSync(victim.file);
    renameSync(`${victim.file}.aside`, victim.file);
  }
});

type TreeChangeKind = 'content' | 'size' | 'mode' | 'uid' | 'mtime' | 'target' | 'xattr' | 'add' | 'remove';

test('verify --root reports every changed file of the tree, even a content change that keeps size and times', async (t) => {
  const setfattr = peer(t, 'setfattr');
  if (!setfattr) return;
  const dir = tempDir(t);
  const src = join(dir, 'src');
  fillSourceTree(src);
  const { root: expected } = await buildTreeFromDirectory(src);
  const filePaths = fileSizes.map((_, i) => (i % 2 === 0 ? `/f${i}` : `/sub/f${i}`));
  // Adding or removing a name changes its directory's times; each run puts them back.
  const directories = [src, join(src, 'sub')].map((path) => ({ path, times: statSync(path) }));
  const kinds: TreeChangeKind[] = ['content', 'size', 'mode', 'uid', 'mtime', 'target', 'xattr', 'add', 'remove'];

  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...kinds), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (kind, which, offset, mask) => {
      const relative = filePaths[which % filePaths.length]!;
      const file = join(src, relative);
      const before = statSync(file);
      const original = readFileSync(file);
      const restore: (() => void)[] = [];
      let changedPath = relative;
      let change: 'added' | 'removed' | 'modified' = 'modified';
      let field: string | undefined = kind;
      try {
        switch (kind) {
          case 'content': {
            // Same size, same times: only the bytes tell.
            const bytes = Buffer.from(original);
            bytes[offset % bytes.length]! ^= mask;
            writeFileSync(file, bytes);
            utimesSync(file, before.atime, before.mtime);
            restore.push(() => writeFileSync(file, original));
            break;
          }
          case 'size':
            writeFileSync(file, Buffer.concat([original, Buffer.from([mask])]));
            utimesSync(file, before.atime, before.mtime);
            restore.push(() => writeFileSync(file, original));
            field = undefined; // size and content both differ
            break;
          case 'mode':
            chmodSync(file, (before.mode & 0o7777) ^ (1 << (offset % 9)));
            restore.push(() => chmodSync(file, before.mode & 0o7777));
            break;
          case 'uid':
            chownSync(file, before.uid + 1 + (offset % 1000), before.gid);
            restore.push(() => chownSync(file, before.uid, before.gid));
            break;
          case 'mtime':
            utimesSync(file, before.atime, new Date(before.mtimeMs + 1 + (offset % 100_000)));
            break;
          case 'target': {
            const link = join(src, 'sub/link');
            const target = readlinkSync(link);
            unlinkSync(link);
            symlinkSync(`${target}x`, link);
            restore.push(() => {
              unlinkSync(link);
              symlinkSync(target, link);
              lutimesSync(link, wholeSecond, wholeSecond);
            });
            changedPath = '/sub/link';
            break;
          }
          case 'xattr':
            execFileSync(setfattr, ['-n', 'user.tamper', '-v', String(mask), file]);
            restore.push(() => execFileSync(setfattr, ['-x', 'user.tamper', file]));
            field = 'xattrs';
            break;
          case 'add':
            writeFileSync(`${file}.new`, original.subarray(0, offset % (original.length + 1)));
            restore.push(() => rmSync(`${file}.new`));
            changedPath = `${relative}.new`;
            change = 'added';
            field = undefined;
            break;
          case 'remove':
            unlinkSync(file);
            restore.push(() => writeFileSync(file, original));
            change = 'removed';
            field = undefined;
            break;
        }
        const { root: actual } = await buildTreeFromDirectory(src);
        const changes = diffTrees(expected, actual);
        const found = changes.find((c) => c.path === changedPath);
        assert.ok(found, `${kind} of ${changedPath} not reported: ${JSON.stringify(changes)}`);
        assert.equal(found.change, change);
        if (field !== undefined) assert.ok((found.fields as readonly string[] | undefined)?.includes(field), `${kind}: ${JSON.stringify(found)}`);
        if (kind === 'size')
          assert.deepEqual(
            found.fields?.filter((f) => f === 'size' || f === 'content'),
            ['size', 'content'],
          );
      } finally {
        for (const undo of restore.reverse()) undo();
        utimesSync(file, before.atime, before.mtime);
        for (const d of directories) utimesSync(d.path, d.times.atime, d.times.mtime);
      }
    }),
    { numRuns: 40 },
  );
  // Every change was undone: the tree verifies clean again.
  assert.deepEqual(diffTrees(expected, (await buildTreeFromDirectory(src)).root), []);
});
