// The image reader on hostile input: truncated, oversized, random and mutated images, and
// hand-made structural attacks (loops, directory hardlinks, features composefs never writes).
// Only typed errors may come out, never a crash, a hang or a read outside the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDump, createInode, createRoot, addChild, FileType, isVouchErrorWithCode, type CfsNode } from './helpers.ts';
import { isVouchError } from '../../src/errors/index.ts';
import { inodePath, layoutImage, prepareTree, readImage, readImageInfo, serializeImage, writeImage } from '../../src/composefs/erofs/index.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');
const images = readdirSync(vectors)
  .filter((f) => f.endsWith('.dump') && !f.startsWith('should-fail-'))
  .sort()
  .map((f) => {
    const versionFile = join(vectors, `${f}.version`);
    const v = existsSync(versionFile) ? Number(readFileSync(versionFile, 'utf8')) : undefined;
    return writeImage(parseDump(readFileSync(join(vectors, f))), v === undefined ? {} : { minVersion: v, maxVersion: v });
  });

/** Reads an image and, when that works, writes the result again: both may only fail with typed errors. */
function readAndRewrite(image: Uint8Array): void {
  try {
    writeImage(readImage(image));
  } catch (e) {
    if (!isVouchError(e)) throw e;
  }
}

function expectCode(image: Uint8Array, code: string): void {
  assert.throws(
    () => readImage(image),
    (e) => isVouchErrorWithCode(e, code),
    `expected ${code}`,
  );
}

test('truncated images are rejected with typed errors', () => {
  for (const image of images) {
    for (const len of [0, 1, 31, 1024, 1100, 1151, 4095, 4096, image.length - 4096, image.length - 1]) {
      if (len < 0 || len >= image.length) continue;
      assert.throws(() => readImage(image.subarray(0, len)), isVouchError, `length ${len}`);
    }
  }
});

test('oversized images (trailing blocks the superblock does not count) are rejected', () => {
  for (const image of images) {
    const longer = new Uint8Array(image.length + 4096);
    longer.set(image);
    expectCode(longer, 'ERR_COMPOSEFS_IMAGE_INVALID');
  }
});

test('random bytes are rejected with typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 3 * 4096 }), (bytes) => {
      assert.throws(() => readImage(bytes), isVouchError);
    }),
    { numRuns: 200 },
  );
});

test('random bytes behind a valid header and superblock only give typed errors', () => {
  const head = images[0]!.subarray(0, 1152);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4096 - 1152, maxLength: 4096 - 1152 }), fc.integer({ min: 1, max: 3 }), (tail, blocks) => {
      const image = new Uint8Array(4096 * blocks);
      image.set(head);
      image.set(tail, 1152);
      new DataView(image.buffer).setUint32(1024 + 36, blocks, true);
      readAndRewrite(image);
    }),
    { numRuns: 300 },
  );
});

test('mutated real images only give typed errors (fuzz)', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: images.length - 1 }),
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
      (which, edits) => {
        const image = images[which]!.slice();
        // Most of an image is padding: aim half the edits at the metadata before the first data block.
        const metaEnd = Math.max(1152, readImageInfo(image).xattrBlkaddr * 4096 + 4096);
        for (const [i, e] of edits.entries()) image[i % 2 === 0 ? 1024 + (e.at % (metaEnd - 1024)) : e.at % image.length] = e.value;
        readAndRewrite(image);
      },
    ),
    { numRuns: 1500 },
  );
});

function tree(build: (root: CfsNode) => void): CfsNode {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  build(root);
  return root;
}

/** Writes a tree and hands its layout to `edit`, which patches the bytes. */
function patched(root: CfsNode, edit: (bytes: Uint8Array, view: DataView, layout: ReturnType<typeof layoutImage>) => void): Uint8Array {
  const layout = layoutImage(prepareTree(root));
  const bytes = serializeImage(layout);
  edit(bytes, new DataView(bytes.buffer), layout);
  return bytes;
}

/** Where the dirent for `name` in directory `dir` sits: in a directory block or the inline tail. */
function direntOffset(layout: ReturnType<typeof layoutImage>, dir: string, name: string): number {
  const l = layout.inodes.find((x) => inodePath(x.inode) === dir)!;
  const index = l.inode.entries!.findIndex((e) => e.name === name);
  const chunks = l.direntChunks!;
  const c = chunks.findIndex((chunk) => index >= chunk.first && index < chunk.first + chunk.count);
  const inline = c === chunks.length - 1 && l.tailSize > 0;
  const base = inline ? l.offset + (l.compact ? 32 : 64) + l.xattrSize : (l.blkaddr + c) * 4096;
  return base + (index - chunks[c]!.first) * 12;
}

test('a directory entry pointing back at an ancestor (a loop) is rejected', () => {
  const root = tree((r) =>
    addChild(addChild(r, 'a', createInode({ mode: FileType.directory | 0o755 })), 'x', createInode({ mode: FileType.directory | 0o755 })),
  );
  const image = patched(root, (_b, view, layout) => {
    view.setBigUint64(direntOffset(layout, '/a', 'x'), BigInt(layout.inodes[0]!.nid), true);
  });
  expectCode(image, 'ERR_COMPOSEFS_IMAGE_INVALID');
});

test('two entries naming one directory (a directory hardlink) are rejected', () => {
  const root = tree((r) => {
    addChild(r, 'a', createInode({ mode: FileType.directory | 0o755 }));
    addChild(r, 'b', createInode({ mode: FileType.directory | 0o755 }));
  });
  const image = patched(root, (_b, view, layout) => {
    const a = layout.inodes.find((x) => inodePath(x.inode) === '/a')!;
    view.setBigUint64(direntOffset(layout, '/', 'b'), BigInt(a.nid), true);
  });
  expectCode(image, 'ERR_COMPOSEFS_IMAGE_INVALID');
});

test('entries out of byte order are rejected (EROFS lookups binary-search them)', () => {
  const root = tree((r) => {
    addChild(r, 'aa', createInode({ mode: FileType.fifo | 0o644 }));
    addChild(r, 'ab', createInode({ mode: FileType.fifo | 0o644 }));
  });
  const image = patched(root, (bytes, _v, layout) => {
    const at = Buffer.from(bytes.buffer).indexOf('aaab', direntOffset(layout, '/', 'aa'), 'latin1');
    bytes.set(Buffer.from('abaa', 'latin1'), at);
  });
  expectCode(image, 'ERR_COMPOSEFS_IMAGE_INVALID');
});

test('a dirent file type that disagrees with the inode is rejected', () => {
  const root = tree((r) => addChild(r, 'f', createInode({ mode: FileType.fifo | 0o644 })));
  const image = patched(root, (bytes, _v, layout) => {
    bytes[direntOffset(layout, '/', 'f') + 10] = 1;
  });
  expectCode(image, 'ERR_COMPOSEFS_IMAGE_INVALID');
});

test('features composefs never writes are reported as unsupported', () => {
  const base = writeImage(tree((r) => addChild(r, 'f', createInode({ mode: FileType.regular | 0o644, size: 3n, content: new Uint8Array([1, 2, 3]) }))));
  const cases: [string, (v: DataView) => void][] = [
    ['block size', (v) => v.setUint8(1024 + 12, 9)],
    ['incompat features', (v) => v.setUint32(1024 + 80, 1, true)],
    ['header version', (v) => v.setUint32(4, 2, true)],
    ['format version', (v) => v.setUint32(12, 7, true)],
  ];
  for (const [what, edit] of cases) {
    const image = base.slice();
    edit(new DataView(image.buffer));
    expectCode(image, 'ERR_COMPOSEFS_IMAGE_UNSUPPORTED');
    assert.ok(what);
  }
  const bad = base.slice();
  new DataView(bad.buffer).setUint32(0, 0x12345678, true);
  expectCode(bad, 'ERR_COMPOSEFS_IMAGE_INVALID');
});

test('a compressed data layout is reported as unsupported', () => {
  const root = tree((r) => addChild(r, 'f', createInode({ mode: FileType.regular | 0o644, size: 3n, content: new Uint8Array([1, 2, 3]) })));
  const image = patched(root, (_b, view, layout) => {
    const l = layout.inodes.find((x) => inodePath(x.inode) === '/f')!;
    view.setUint16(l.offset, (1 << 1) | (l.compact ? 0 : 1), true);
  });
  expectCode(image, 'ERR_COMPOSEFS_IMAGE_UNSUPPORTED');
});
