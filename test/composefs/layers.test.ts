import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { peer } from '../helpers/peers.ts';
import { makeSampleTree, needsRoot } from './fixtures.ts';
import {
  ObjectStore,
  buildTreeFromDirectory,
  buildTreeFromOciLayout,
  buildTreeFromTarLayers,
  diffTrees,
  lookupPath,
  printDump,
  readTar,
  verifyObjects,
  walkTree,
  isVouchError,
  isVouchErrorWithCode,
  tempDir,
} from './helpers.ts';

/** A layer stream that delivers all its bytes in one chunk. */
function once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return ReadableStream.from([bytes]);
}

test('a tar layer made by GNU tar builds the same tree as the directory it was made from', async (t) => {
  const tar = peer(t, 'tar');
  const setfattr = peer(t, 'setfattr');
  if (!tar || !setfattr || needsRoot(t)) return;
  const dir = tempDir(t);
  const src = join(dir, 'src');
  await (await makeSampleTree(src, setfattr)).close(); // GNU tar skips sockets
  const layer = join(dir, 'layer.tar.gz');
  // pax keeps nanosecond times, long names and xattrs; --sort=name makes the archive reproducible.
  execFileSync(tar, ['--format=pax', '--xattrs', '--xattrs-include=*', '--sort=name', '-C', src, '-czf', layer, '.']);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const fromTar = await buildTreeFromTarLayers([createReadStream(layer)], { store });
  // tar records hardlinks, so the directory is read keeping them too.
  const fromDir = await buildTreeFromDirectory(src, { hardlinks: true });
  assert.deepEqual(diffTrees(fromDir.root, fromTar.root), []);
  // A tar header gives a directory no size; the directory build keeps the file system's st_size.
  for (const node of walkTree(fromDir.root)) if (node.children) node.inode.size = 0n;
  assert.equal(printDump(fromTar.root), printDump(fromDir.root));
  assert.deepEqual((await verifyObjects(fromTar.root, store)).problems, []);
});

test('whiteouts delete lower files, opaque directories hide lower contents, a layer never hides itself', async (t) => {
  const tar = peer(t, 'tar');
  if (!tar) return;
  const dir = tempDir(t);
  const l1 = join(dir, 'l1');
  const l2 = join(dir, 'l2');
  for (const d of ['etc/keep', 'opq/sub', 'gone-dir/x']) mkdirSync(join(l1, d), { recursive: true });
  writeFileSync(join(l1, 'etc/a'), 'a');
  writeFileSync(join(l1, 'etc/b'), 'b');
  writeFileSync(join(l1, 'opq/old'), 'old');
  writeFileSync(join(l1, 'opq/sub/lower'), 'lower');
  writeFileSync(join(l1, 'shared'), 'x'.repeat(100));
  execFileSync('ln', [join(l1, 'shared'), join(l1, 'etc/shared-link')]);
  for (const d of ['etc', 'opq/sub']) mkdirSync(join(l2, d), { recursive: true });
  writeFileSync(join(l2, 'opq/sub/upper'), 'upper');
  writeFileSync(join(l2, 'etc/.wh.a'), '');
  writeFileSync(join(l2, '.wh.gone-dir'), '');
  writeFileSync(join(l2, '.wh.shared'), '');
  writeFileSync(join(l2, 'opq/.wh..wh..opq'), '');
  writeFileSync(join(l2, 'opq/new'), 'new');
  writeFileSync(join(l2, 'etc/b'), 'B2');
  const layers = ['l1', 'l2'].map((l) => {
    const out = join(dir, `${l}.tar`);
    execFileSync(tar, ['--format=pax', '--sort=name', '-C', join(dir, l), '-cf', out, '.']);
    return out;
  });
  const { root } = await buildTreeFromTarLayers(layers.map((l) => createReadStream(l)));
  const names = (p: string): string[] => [...(lookupPath(root, p)?.children?.keys() ?? [])].sort();
  assert.deepEqual(names('/'), ['etc', 'opq']);
  assert.deepEqual(names('/etc'), ['b', 'keep', 'shared-link']);
  // Re-declaring opq/sub in the opaque layer does not bring back what lower layers had in it.
  assert.deepEqual(names('/opq'), ['new', 'sub']);
  assert.deepEqual(names('/opq/sub'), ['upper']);
  assert.equal(Buffer.from(lookupPath(root, '/etc/b')!.inode.content!).toString(), 'B2');
  // The deleted name's inode lives on under its other name.
  const heir = lookupPath(root, '/etc/shared-link')!;
  assert.equal(heir.hardlinkTarget, null);
  assert.equal(heir.inode.nlink, 1);
  assert.equal(heir.inode.size, 100n);
});

test('an OCI image layout builds layer by layer; a tampered blob is refused', async (t) => {
  const tar = peer(t, 'tar');
  if (!tar) return;
  const dir = tempDir(t);
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (bytes: Uint8Array, mediaType: string): { mediaType: string; digest: string; size: number } => {
    const digest = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, digest), bytes);
    return { mediaType, digest: `sha256:${digest}`, size: bytes.length };
  };
  mkdirSync(join(dir, 'l1/usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'l1/usr/bin/tool'), 'binary'.repeat(50), { mode: 0o755 });
  mkdirSync(join(dir, 'l2/usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'l2/usr/bin/.wh.tool'), '');
  writeFileSync(join(dir, 'l2/usr/bin/other'), 'o');
  const layer1 = putBlob(execFileSync(tar, ['--format=pax', '-C', join(dir, 'l1'), '-czf', '-', '.']), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const layer2 = putBlob(execFileSync(tar, ['--format=pax', '-C', join(dir, 'l2'), '-cf', '-', '.']), 'application/vnd.oci.image.layer.v1.tar');
  const config = putBlob(
    Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = putBlob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer1, layer2] })),
    'application/vnd.oci.image.manifest.v1+json',
  );
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
  );

  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const built = await buildTreeFromOciLayout(layout, { store, ref: 'v1' });
  assert.equal(built.layers.length, 2);
  assert.deepEqual([...lookupPath(built.root, '/usr/bin')!.children!.keys()], ['other']);
  await assert.rejects(buildTreeFromOciLayout(layout, { ref: 'v2' }), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_OCI_INVALID'));

  const blobPath = join(blobs, layer2.digest.slice(7));
  const tampered = readFileSync(blobPath);
  tampered[600]! ^= 0x20;
  writeFileSync(blobPath, tampered);
  await assert.rejects(
    buildTreeFromOciLayout(layout, { store }),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_OCI_INVALID') || isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TAR_INVALID'),
  );
});

test('malformed tar streams: truncated, bad checksum, oversized pax, random and mutated bytes give typed errors only', async (t) => {
  const tar = peer(t, 'tar');
  if (!tar) return;
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src/d'), { recursive: true });
  writeFileSync(join(dir, 'src/d/f'), 'z'.repeat(3000));
  execFileSync('ln', ['-s', 'd/f', join(dir, 'src/l')]);
  const good = new Uint8Array(execFileSync(tar, ['--format=pax', '-C', join(dir, 'src'), '-cf', '-', '.']));
  const drain = async (bytes: Uint8Array): Promise<void> => {
    for await (const e of readTar(once(bytes))) await buffer(e.data);
  };
  await drain(good);
  await assert.rejects(drain(good.subarray(0, 1800)), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TAR_INVALID'));
  const badSum = good.slice();
  badSum[0]! ^= 1;
  await assert.rejects(drain(badSum), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TAR_INVALID'));
  const hugePax = new Uint8Array(1024);
  hugePax.set(Buffer.from('PaxHeaders/x'), 0);
  hugePax.set(Buffer.from('0000644\0'), 100);
  hugePax.set(Buffer.from('77777777777\0'), 124);
  hugePax[156] = 0x78; // 'x'
  hugePax.set(Buffer.from('ustar\x0000'), 257);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : hugePax[i]!;
  hugePax.set(Buffer.from(sum.toString(8).padStart(6, '0') + '\0 '), 148);
  await assert.rejects(drain(hugePax), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TAR_INVALID') && /exceeds/.test(e.message));
  await assert.rejects(
    buildTreeFromTarLayers([
      once(new Uint8Array(execFileSync(tar, ['--format=pax', '-C', join(dir, 'src'), '-cf', '-', '--transform=s,^./d/f$,../escape,', '.']))),
    ]),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TAR_INVALID') && /unsafe path/.test(e.message),
  );
  await fc.assert(
    fc.asyncProperty(fc.nat(good.length - 1), fc.nat(255), fc.uint8Array({ minLength: 512, maxLength: 1536 }), async (at, byte, junk) => {
      const mutated = good.slice();
      mutated[at] = byte;
      for (const input of [mutated, junk]) {
        try {
          await buildTreeFromTarLayers([once(input)]);
        } catch (e) {
          assert.ok(isVouchError(e) && e.code.startsWith('ERR_COMPOSEFS_'), String(e));
        }
      }
    }),
    { numRuns: 150 },
  );
});
