import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { peer } from '../helpers/peers.ts';
import { ObjectStore, fsverityDigest, hex, isVouchErrorWithCode, tempDir } from './helpers.ts';

const node = process.execPath;
const storeModule = new URL('../../src/composefs/store.ts', import.meta.url).href;

test('objects are named objects/XX/<rest> by fs-verity digest, deduplicated, matching `fsverity digest`', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const data = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
  const first = await store.addBytes(data);
  assert.equal(first.digest, hex(fsverityDigest(data)));
  assert.equal(first.payload, `${first.digest.slice(0, 2)}/${first.digest.slice(2)}`);
  assert.equal(first.added, true);
  writeFileSync(join(dir, 'f'), data);
  const second = await store.addFile(join(dir, 'f'));
  assert.deepEqual({ ...second, added: false }, { ...first, added: false });
  assert.equal(second.added, false);
  await store.sync();
  assert.deepEqual(readFileSync(store.objectPath(first.digest)), Buffer.from(data));
  const tool = peer(t, 'fsverity');
  if (tool) assert.match(execFileSync(tool, ['digest', store.objectPath(first.digest)], { encoding: 'utf8' }), new RegExp(`^sha256:${first.digest} `));
});

test('concurrent writers of the same and different content leave whole objects and no temp files', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'store');
  await ObjectStore.open(root, { create: true });
  // Separate processes, as two builds sharing a store would be.
  const script = `import { ObjectStore } from ${JSON.stringify(storeModule)};
    const s = await ObjectStore.open(process.argv[1]);
    const seed = Number(process.argv[2]);
    await Promise.all([0, 1, 2, 3].map((i) => s.addBytes(new Uint8Array(70000 + (i % 2)).fill(i % 2 ? seed : 7))));
    await s.sync();`;
  const runs = [1, 2, 3].map(
    (seed) =>
      new Promise<number>((resolve, reject) => {
        const child = spawn(node, ['--input-type=module', '-e', script, root, String(seed)], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? -1));
      }),
  );
  assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
  const store = await ObjectStore.open(root);
  const report = await store.fsck();
  assert.deepEqual(report, { checked: 4, corrupt: [], strays: [], staleTemp: [] });
});

test("fsck finds a tampered object, strays and dead writers' temp files; gc keeps only what is referenced", async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  const a = await store.addBytes(new Uint8Array(5000).fill(1));
  const b = await store.addBytes(new Uint8Array(5000).fill(2));
  await store.sync();
  const path = store.objectPath(a.digest);
  chmodSync(path, 0o644);
  const bytes = readFileSync(path);
  bytes[4321]! ^= 1;
  writeFileSync(path, bytes);
  mkdirSync(join(store.objectsDir, 'zz'));
  writeFileSync(join(store.objectsDir, 'ab'), ''); // a file where a fan-out directory belongs
  const deadPid = spawnSync(node, ['-e', '0']).pid;
  writeFileSync(join(store.objectsDir, `.tmp-${deadPid}-0000`), 'partial');
  writeFileSync(join(store.objectsDir, `.tmp-${process.pid}-1111`), 'in flight');
  const report = await store.fsck();
  assert.equal(report.checked, 2);
  assert.deepEqual(
    report.corrupt.map((c) => c.payload),
    [a.payload],
  );
  assert.deepEqual(report.strays.sort(), ['ab', 'zz']);
  assert.deepEqual(report.staleTemp, [`.tmp-${deadPid}-0000`]);
  await store.release(); // this writer is done: gc may run
  const gc = await store.gc(new Set([b.digest]));
  assert.deepEqual(gc.removed, [a.digest]);
  assert.equal(gc.kept, 1);
  assert.deepEqual(gc.staleTempRemoved, [`.tmp-${deadPid}-0000`]);
  assert.ok(existsSync(store.objectPath(b.digest)));
  assert.ok(!existsSync(path));
  assert.ok(existsSync(join(store.objectsDir, `.tmp-${process.pid}-1111`)), 'a live writer keeps its temp file');
});

test('gc and writers exclude each other: gc refuses while a writer holds the store, a writer refuses while gc runs; dead holders are ignored', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'store');
  const writer = await ObjectStore.open(root, { create: true });
  const kept = await writer.addBytes(new Uint8Array(5000).fill(7));
  await writer.sync();
  // The writer has not written an image referencing its object yet: gc must not run.
  const collector = await ObjectStore.open(root);
  await assert.rejects(
    collector.gc(new Set()),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_STORE_BUSY') && /build or add \(pid \d+\)/.test((e as Error).message),
  );
  assert.ok(existsSync(writer.objectPath(kept.digest)));
  assert.ok(!existsSync(join(root, 'gc.lock')), 'a refused gc leaves no lock behind');
  await writer.release();

  // A live gc's lock (this process stands in for it) makes writers refuse before any lookup.
  writeFileSync(join(root, 'gc.lock'), String(process.pid));
  await assert.rejects(writer.addBytes(new Uint8Array(10)), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_STORE_BUSY'));
  await assert.rejects(collector.gc(new Set()), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_STORE_BUSY') && /another gc/.test((e as Error).message));
  assert.deepEqual(readdirSync(join(root, 'writers')), [], 'a refused writer leaves no lease behind');

  // Lock and leases of dead processes are debris: taken over and removed.
  const deadPid = spawnSync(node, ['-e', '0']).pid;
  writeFileSync(join(root, 'gc.lock'), String(deadPid));
  writeFileSync(join(root, 'writers', `${deadPid}-0000`), '');
  const report = await collector.gc(new Set([kept.digest]));
  assert.equal(report.kept, 1);
  assert.deepEqual(readdirSync(root).sort(), ['objects', 'writers']);
  assert.deepEqual(readdirSync(join(root, 'writers')), []);
  // After gc the writer takes a new lease and adds again.
  assert.equal((await writer.addBytes(new Uint8Array(6000).fill(8))).added, true);
  await writer.release();
});

test('objects are in the store only once synced: a writer that stops before leaves none under a name', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'store');
  await ObjectStore.open(root, { create: true });
  const script = `import { ObjectStore } from ${JSON.stringify(storeModule)};
    const s = await ObjectStore.open(process.argv[1]);
    await s.addBytes(new Uint8Array(9000).fill(3));
    process.exit(0);`;
  assert.equal(spawnSync(node, ['--input-type=module', '-e', script, root], { stdio: 'inherit' }).status, 0);
  const store = await ObjectStore.open(root);
  const report = await store.fsck();
  assert.equal(report.checked, 0);
  assert.equal(report.staleTemp.length, 1);
  // In this process: visible to its own lookups at once, in the store after sync, and a release
  // before sync drops what was never synced.
  const added = await store.addBytes(new Uint8Array(9000).fill(4));
  assert.equal(await store.has(added.digest), true);
  assert.equal(existsSync(store.objectPath(added.digest)), false);
  // Read back through the store before sync (as the demo publishes, then checks), and after.
  assert.deepEqual(await store.verifyObject(added.digest), { ok: true, actual: added.digest });
  await store.sync();
  assert.equal(existsSync(store.objectPath(added.digest)), true);
  assert.deepEqual(await store.verifyObject(added.digest), { ok: true, actual: added.digest });
  const dropped = await store.addBytes(new Uint8Array(9000).fill(5));
  await store.release();
  assert.equal(await store.has(dropped.digest), false);
  assert.equal((await store.fsck()).staleTemp.length, 1); // only the dead writer's
});

test('opening a directory that is not a store is a typed error', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(ObjectStore.open(dir), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_STORE_INVALID'));
});

test('only regular files become objects: a FIFO or a device is refused at once, never read', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open(join(dir, 'store'), { create: true });
  t.after(() => store.release());
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  for (const path of [fifo, '/dev/zero']) {
    await assert.rejects(store.addFile(path), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_SOURCE_UNSUPPORTED'), path);
  }
});
