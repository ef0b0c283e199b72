// Differential property: random composefs trees → EROFS image → reader gives back the same tree
// (in the canonical form an image keeps), the image is stable under a second round trip, and
// fsck.erofs accepts random images too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { walkTree, nodePath, FileType } from './helpers.ts';
import { buildTree, canonical, isWhiteout, treeArb } from './arbitraries.ts';
import { readImage, readImageInfo, writeImage } from '../../src/composefs/erofs/index.ts';
import { asRoot, peer } from '../helpers/peers.ts';

test('random trees: the reader recovers the tree the writer was given', () => {
  fc.assert(
    fc.property(treeArb, (spec) => {
      const tree = buildTree(spec);
      const image = writeImage(tree, { minVersion: spec.version, maxVersion: spec.version });
      assert.equal(readImageInfo(image).formatVersion, spec.version);
      const back = readImage(image);
      assert.deepEqual(canonical(back, false), canonical(tree, spec.version >= 1));
      // The canonical tree is a fixed point: its image never changes again.
      const canonicalImage = writeImage(back, { minVersion: spec.version, maxVersion: spec.version });
      assert.equal(Buffer.compare(writeImage(readImage(canonicalImage), { minVersion: spec.version, maxVersion: spec.version }), canonicalImage), 0);
    }),
    { numRuns: 300 },
  );
});

test('random trees: fsck.erofs accepts every image', (t) => {
  const fsck = peer(t, 'fsck.erofs');
  if (!fsck) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-prop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const samples = fc.sample(treeArb, { numRuns: 25, seed: 4242 });
  samples.forEach((spec, n) => {
    const path = join(dir, `${n}.img`);
    writeFileSync(path, writeImage(buildTree(spec), { minVersion: spec.version, maxVersion: spec.version }));
    execFileSync(fsck, [path], { stdio: 'pipe' });
  });
});

test('random trees: what fsck.erofs --extract writes out is the tree (erofs-utils as a second reader)', (t) => {
  const fsck = peer(t, 'fsck.erofs');
  if (!fsck) return;
  // Extraction recreates device nodes and ownership, which needs root.
  if (!asRoot(t, 'extracting devices and ownership')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-extract-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  fc.sample(treeArb, { numRuns: 8, seed: 2024 }).forEach((spec, n) => {
    const tree = buildTree(spec, true);
    const image = join(dir, `${n}.img`);
    const out = join(dir, `${n}`);
    writeFileSync(image, writeImage(tree, { minVersion: spec.version, maxVersion: spec.version }));
    execFileSync(fsck, [`--extract=${out}`, '--preserve', image], { stdio: 'pipe' });
    for (const node of walkTree(tree)) {
      const path = Buffer.concat([Buffer.from(out), Buffer.from(nodePath(node), 'latin1')]);
      const where = `tree ${n} ${JSON.stringify(nodePath(node))}`;
      const st = lstatSync(path, { bigint: true });
      const i = node.inode;
      const type = i.mode & FileType.mask;
      // A whiteout is stored as an escaped empty regular file, so that is what comes out.
      const expectedType = isWhiteout(i) ? FileType.regular : type;
      assert.equal(Number(st.mode) & FileType.mask, expectedType, where);
      // Set-id bits are left out: the chown that follows the chmod during extraction clears them.
      if (type !== FileType.symlink) assert.equal(Number(st.mode) & 0o1777, i.mode & 0o1777, where);
      assert.equal(st.uid, BigInt(i.uid), where);
      assert.equal(st.gid, BigInt(i.gid), where);
      if (type === FileType.symlink) assert.equal(readlinkSync(path, { encoding: 'buffer' }).toString('latin1'), i.payload, where);
      if (type === FileType.charDevice || type === FileType.blockDevice) {
        if (!isWhiteout(i)) assert.equal(st.rdev, BigInt(i.rdev), where);
      }
      // External files are all holes (their data is in the object store); erofs-utils 1.5
      // extracts those as empty files, so only inline content is compared.
      if (type === FileType.regular && i.content !== null) assert.deepEqual(new Uint8Array(readFileSync(path)), i.content, where);
      // Host file systems clamp times outside 1970..2038; the image holds the full 64-bit value.
      const hostTime = i.mtimeSec >= 0n && i.mtimeSec < 2n ** 31n;
      if (hostTime && type !== FileType.directory && type !== FileType.symlink) assert.equal(st.mtimeNs / 1_000_000_000n, i.mtimeSec, where);
    }
  });
});
