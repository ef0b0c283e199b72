// composefs: fs-verity digest throughput on a 1 GiB file next to `fsverity digest` (fsverity-utils,
// OpenSSL SHA-256) in the same run, on one thread and on two worker threads; then building a
// large real tree (/usr/share) into an object store, and its EROFS image.
// Page cache is warmed first, so every figure is hashing, not disk.
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { ObjectStore, buildTreeFromDirectory, composefsDigest, fsverityDigestFile } from '../src/composefs/index.ts';
import { writeImage } from '../src/composefs/erofs/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, timeCommand, timeOnce } from './measure.ts';

const fileSize = 1 << 30;
const largeTree = '/usr/share';

async function writeTestFile(path: string): Promise<void> {
  const chunk = randomBytes(1 << 20);
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < fileSize; written += chunk.length) await fh.write(chunk);
  } finally {
    await fh.close();
  }
}

async function warm(path: string): Promise<void> {
  await finished(createReadStream(path, { highWaterMark: 1 << 20 }).resume());
}

async function best(repeat: number, fn: () => Promise<unknown>): Promise<number> {
  let t = Infinity;
  for (let i = 0; i < repeat; i++) t = Math.min(t, await timeOnce(fn));
  return t;
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-composefs-'));
  try {
    const file = join(dir, 'one-gib');
    await writeTestFile(file);
    await warm(file);
    const mib = fileSize / (1 << 20);
    const tool = findTool('fsverity');
    const peer = tool ? timeCommand(tool, ['digest', file], 3) : undefined;
    const oneThread = await best(3, () => fsverityDigestFile(file));
    const twoWorkers = await best(3, () => fsverityDigestFile(file, {}, { workers: 2 }));
    console.log(`fs-verity sha256/4096 over 1 GiB (best of 3, warm cache; ${cpus().length} CPUs, load average ${fmt(loadavg()[0]!, 1)}):`);
    if (peer) console.log(`  fsverity digest (C, 1 core)   ${fmt(peer, 2)} s  ${fmt(mib / peer, 0)} MiB/s`);
    else console.log('  fsverity digest: not installed (apt-get install fsverity)');
    console.log(
      `  vouch, 1 thread                ${fmt(oneThread, 2)} s  ${fmt(mib / oneThread, 0)} MiB/s${peer ? `  ${fmt(peer / oneThread, 2)}x the C tool` : ''}`,
    );
    console.log(
      `  vouch, 2 worker threads        ${fmt(twoWorkers, 2)} s  ${fmt(mib / twoWorkers, 0)} MiB/s${peer ? `  ${fmt(peer / twoWorkers, 2)}x the C tool` : ''}`,
    );
    await rm(file);

    // A digest-only pass first: it reads the tree from disk (cold cache) and writes nothing.
    const digestOnlyTime = await timeOnce(() => buildTreeFromDirectory(largeTree, { skipXattrs: true }));
    const store = await ObjectStore.open(join(dir, 'store'), { create: true });
    let built: Awaited<ReturnType<typeof buildTreeFromDirectory>> | undefined;
    const buildTime = await timeOnce(async () => {
      built = await buildTreeFromDirectory(largeTree, { store, skipXattrs: true });
    });
    const { stats, root } = built!;
    const rebuildTime = await timeOnce(() => buildTreeFromDirectory(largeTree, { store, skipXattrs: true }));
    let image: Uint8Array = new Uint8Array(0);
    const imageTime = await timeOnce(() => {
      image = writeImage(root);
    });
    const digestTime = await timeOnce(() => composefsDigest(image));
    const entries = stats.files + stats.directories;
    console.log(
      `tree build from ${largeTree}: ${stats.files} files, ${stats.directories} directories, ${fmt(stats.externalBytes / (1 << 20), 0)} MiB in ${stats.objectsAdded} objects`,
    );
    console.log(`  digest only (cold cache, no store) ${fmt(digestOnlyTime, 2)} s  (${fmt(entries / digestOnlyTime, 0)} entries/s)`);
    console.log(`  first build into an empty store  ${fmt(buildTime, 2)} s  (${fmt(entries / buildTime, 0)} entries/s, copy + hash + fsync per object)`);
    console.log(`  rebuild (all objects present)    ${fmt(rebuildTime, 2)} s  (${fmt(entries / rebuildTime, 0)} entries/s)`);
    console.log(
      `  EROFS image ${fmt(image.length / (1 << 20), 1)} MiB written in ${fmt(imageTime, 2)} s; its composefs digest in ${fmt(digestTime * 1000, 0)} ms`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
