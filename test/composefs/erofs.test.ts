// The EROFS writer against mkcomposefs' own outputs: composefs tests/assets (sha256 of each
// image, commit ec2573a0) and composefs-rs tests/mkfs.rs (fs-verity digests of v0/v1 images);
// every image passes fsck.erofs; image → tree → image is the identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDump, printDump, composefsDigest, createInode, createRoot, addChild, addHardlink, FileType, isVouchErrorWithCode } from './helpers.ts';
import { writeImage, readImage, readImageInfo, xxh32 } from '../../src/composefs/erofs/index.ts';
import { peer } from '../helpers/peers.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');
const assets = readdirSync(vectors)
  .filter((f) => f.endsWith('.dump') && !f.startsWith('should-fail-'))
  .sort();

function pinnedVersion(file: string): { minVersion?: number; maxVersion?: number } {
  const p = join(vectors, `${file}.version`);
  if (!existsSync(p)) return {};
  const v = Number(readFileSync(p, 'utf8').trim());
  return { minVersion: v, maxVersion: v };
}

function imageOf(file: string): Uint8Array {
  return writeImage(parseDump(readFileSync(join(vectors, file))), pinnedVersion(file));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

for (const file of assets) {
  test(`mkcomposefs vector ${file}: image sha256 matches`, () => {
    const expected = readFileSync(join(vectors, `${file}.sha256`), 'utf8')
      .trim()
      .split(/\s+/)[0];
    assert.equal(sha256(imageOf(file)), expected);
  });

  test(`mkcomposefs vector ${file}: image → tree → image is byte-identical`, () => {
    const image = imageOf(file);
    const info = readImageInfo(image);
    const again = writeImage(readImage(image), { minVersion: info.formatVersion, maxVersion: info.formatVersion });
    assert.equal(Buffer.compare(again, image), 0);
  });

  test(`mkcomposefs vector ${file}: dump → image → dump reaches a fixed point after one normalization`, () => {
    // The image keeps the tree in canonical form (directory sizes and link counts recomputed,
    // xattrs in name order, whiteout directories marked opaque in v1), so one trip normalizes.
    const once = printDump(readImage(imageOf(file)));
    const twice = printDump(readImage(writeImage(parseDump(once), pinnedVersion(file))));
    assert.equal(twice, once);
  });
}

test('composefs-rs pinned digests: fs-verity digest of v0 and v1 images', () => {
  const pinned = JSON.parse(readFileSync(join(vectors, 'pinned-digests.json'), 'utf8')) as { cases: { name: string; dump: string; v0: string; v1: string }[] };
  assert.ok(pinned.cases.length >= 2);
  for (const c of pinned.cases) {
    for (const version of [0, 1] as const) {
      const image = writeImage(parseDump(c.dump), { minVersion: version, maxVersion: version });
      assert.equal(Buffer.from(composefsDigest(image)).toString('hex'), version === 0 ? c.v0 : c.v1, `${c.name} v${version}`);
    }
  }
});

test('fsck.erofs accepts every vector image', (t) => {
  const fsck = peer(t, 'fsck.erofs');
  if (!fsck) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of assets) {
    const path = join(dir, `${file}.img`);
    writeFileSync(path, imageOf(file));
    execFileSync(fsck, [path], { stdio: 'pipe' });
  }
});

test('dump.erofs reads the superblock fields the writer sets', (t) => {
  const dumpErofs = peer(t, 'dump.erofs');
  if (!dumpErofs) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'special.img');
  const image = imageOf('special.dump');
  writeFileSync(path, image);
  const out = execFileSync(dumpErofs, ['-s', path], { encoding: 'utf8' });
  const info = readImageInfo(image);
  assert.match(out, new RegExp(`Filesystem blocks:\\s+${info.blocks}\\b`));
  assert.match(out, new RegExp(`Filesystem inode count:\\s+${info.inodeCount}\\b`));
  assert.match(out, new RegExp(`Filesystem root nid:\\s+${info.rootNid}\\b`));
});

test('format version: default 0..1 picks 1 only when the tree has a whiteout', () => {
  const plain = parseDump('/ 0 40755 2 0 0 0 0.0 - - -\n/f 0 100644 1 0 0 0 0.0 - - -\n');
  const whiteout = parseDump('/ 0 40755 2 0 0 0 0.0 - - -\n/w 0 20000 1 0 0 0 0.0 - - -\n');
  assert.equal(readImageInfo(writeImage(plain)).formatVersion, 0);
  assert.equal(readImageInfo(writeImage(whiteout)).formatVersion, 1);
  assert.equal(readImageInfo(writeImage(whiteout, { maxVersion: 0 })).formatVersion, 0);
  assert.equal(readImageInfo(writeImage(plain, { minVersion: 1 })).formatVersion, 1);
  assert.throws(
    () => writeImage(plain, { minVersion: 2 }),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_IMAGE_VERSION'),
  );
});

test('the caller tree is left as it was', () => {
  const text = readFileSync(join(vectors, 'special.dump'), 'latin1');
  const tree = parseDump(text);
  writeImage(tree);
  assert.equal(printDump(tree), text);
});

test('hardlinks share one inode; the first name in traversal order becomes the primary', () => {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  const dir = addChild(root, 'd', createInode({ mode: FileType.directory | 0o700, uid: 70000 }));
  const file = addChild(dir, 'target', createInode({ mode: FileType.regular | 0o644, nlink: 3, size: 3n, content: new Uint8Array([1, 2, 3]) }));
  addHardlink(root, 'a-link', file);
  addHardlink(dir, 'b-link', file);
  const image = writeImage(root);
  const back = readImage(image);
  const primary = back.children!.get('a-link')!;
  const d = back.children!.get('d')!;
  assert.equal(primary.hardlinkTarget, null);
  assert.equal(primary.inode.nlink, 3);
  assert.deepEqual(primary.inode.content, new Uint8Array([1, 2, 3]));
  assert.equal(d.inode.uid, 70000);
  for (const name of ['b-link', 'target']) assert.equal(d.children!.get(name)!.hardlinkTarget, primary);
  // As with composefs-info dump, the primary moved to /a-link, which changes the inode order once;
  // from there the round trip is exact.
  const canonical = writeImage(back);
  assert.equal(Buffer.compare(writeImage(readImage(canonical)), canonical), 0);
});

test('a name-sorting edge: names below "." sort before the dot entries', () => {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  for (const name of ['-', '!bang', ' space', 'z', '\xff']) addChild(root, name, createInode({ mode: FileType.fifo | 0o600 }));
  const back = readImage(writeImage(root));
  assert.deepEqual([...back.children!.keys()].sort(), ['-', '!bang', ' space', 'z', '\xff'].sort());
});

test('large directory spans several blocks and reads back', () => {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  const dir = addChild(root, 'many', createInode({ mode: FileType.directory | 0o755 }));
  for (let i = 0; i < 3000; i++) addChild(dir, `file-with-a-longish-name-${i.toString().padStart(5, '0')}`, createInode({ mode: FileType.regular | 0o644 }));
  const image = writeImage(root);
  const back = readImage(image);
  assert.equal(back.children!.get('many')!.children!.size, 3000);
  assert.equal(Buffer.compare(writeImage(back), image), 0);
});

test('xxh32 matches the reference vectors', () => {
  const enc = new TextEncoder();
  assert.equal(xxh32(new Uint8Array(0), 0), 0x02cc5d05);
  assert.equal(xxh32(enc.encode('a'), 0), 0x550d7456);
  assert.equal(xxh32(enc.encode('abc'), 0), 0x32d153ff);
  assert.equal(xxh32(enc.encode('Nobody inspects the spammish repetition'), 0), 0xe2293b2f);
});

test('a file too big for one block of chunk indexes is refused with a typed error', () => {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  addChild(root, 'huge', createInode({ mode: FileType.regular | 0o644, size: 9_500_000_000_000_000n }));
  assert.throws(
    () => writeImage(root),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_IMAGE_UNWRITABLE'),
  );
});

test('the image does not depend on the order entries and xattrs were added in', () => {
  const build = (order: number[]): Uint8Array => {
    const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
    for (const i of order) {
      const xattrs = [
        { name: 'user.b', value: new Uint8Array([i]) },
        { name: 'user.a', value: new Uint8Array([1]) },
      ];
      addChild(root, `f${i}`, createInode({ mode: FileType.regular | 0o644, xattrs: i % 2 ? xattrs : xattrs.reverse() }));
    }
    return writeImage(root);
  };
  const forward = [0, 1, 2, 3, 4, 5, 6, 7];
  assert.equal(Buffer.compare(build(forward), build([...forward].reverse())), 0);
});
