// composefs: fs-verity digest throughput on a 1 GiB file next to `fsverity digest` (fsverity-utils,
// OpenSSL SHA-256) in the same run, on one thread and on two worker threads; then, next to
// composefs's own mkcomposefs (scripts/build-mkcomposefs.sh) in the same run: building a large
// real tree (/usr/share) into an empty object store and again into the filled one, and the image
// of the largest real dump (CentOS Stream 9 developer, from composefs's tests). Vouch is timed
// through the library (no start-up) and through the CLI (a fresh `vouch` process, as mkcomposefs
// is one). Wall time and CPU time (user + system, child processes included) are both given: on a
// shared machine the CPU time is the steadier figure. Page cache is warmed first, so every
// figure is work, not disk reads.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { ObjectStore, buildTreeFromDirectory, fsverityDigestFile, parseDump } from '../src/composefs/index.ts';
import { writeImage } from '../src/composefs/erofs/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, timeCommand, timeOnce } from './measure.ts';

const fileSize = 1 << 30;
const largeTree = '/usr/share';
const repoRoot = join(import.meta.dirname, '..');
const vouchCli = join(repoRoot, 'bin/vouch.js');
const largeDump = 'cs9-x86_64-developer.dump.gz';

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

    await buildBenches(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) used so far by this process and by the children it has waited for. */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  // /proc/self/stat fields 14..17: utime, stime, cutime, cstime in clock ticks (100 per second).
  const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ');
  return (own.user + own.system) / 1e6 + (Number(fields[13]) + Number(fields[14])) / 100;
}

interface Timing {
  wall: number;
  cpu: number;
}

async function measure(fn: () => unknown): Promise<Timing> {
  const cpu = cpuSeconds();
  const wall = await timeOnce(fn);
  return { wall, cpu: cpuSeconds() - cpu };
}

/** Best (least wall time) of `repeat` runs. */
async function bestOf(repeat: number, fn: () => unknown): Promise<Timing> {
  let best: Timing = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < repeat; i++) {
    const t = await measure(fn);
    if (t.wall < best.wall) best = t;
  }
  return best;
}

function execute(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.toString().trim()}`);
}

function line(label: string, t: Timing, peer?: Timing): string {
  const ratio = peer ? `  ${fmt(t.wall / peer.wall, 2)}x mkcomposefs's wall time, ${fmt(t.cpu / peer.cpu, 2)}x its CPU` : '';
  return `  ${label.padEnd(34)} ${fmt(t.wall, 2).padStart(6)} s wall ${fmt(t.cpu, 2).padStart(6)} s CPU${ratio}`;
}

/** The bin directory of the built peer, or undefined (with a note) when it is not there. */
function composefsBin(): string | undefined {
  const bin = spawnSync('bash', [join(repoRoot, 'scripts/build-mkcomposefs.sh'), '--where'], { encoding: 'utf8' }).stdout.trim();
  if (existsSync(join(bin, 'mkcomposefs'))) return bin;
  console.log('  mkcomposefs not built (scripts/build-mkcomposefs.sh, as root: make setup): Vouch figures only');
  return undefined;
}

async function buildBenches(dir: string): Promise<void> {
  const bin = composefsBin();
  const mkcomposefs = bin && join(bin, 'mkcomposefs');
  // Warm the page cache (and count the tree) with a digest-only pass that writes nothing.
  const { stats } = await buildTreeFromDirectory(largeTree, { skipXattrs: true });
  console.log(
    `${largeTree}: ${stats.files} files, ${stats.directories} directories, ${fmt(stats.externalBytes / (1 << 20), 0)} MiB in external files (${load()})`,
  );
  const library = async (store: string, out: string): Promise<void> => {
    const s = await ObjectStore.open(store, { create: true });
    const built = await buildTreeFromDirectory(largeTree, { store: s });
    await writeFile(out, writeImage(built.root));
    await s.release();
  };
  const cli = (store: string, out: string): void => execute(process.execPath, [vouchCli, 'composefs', 'build', largeTree, '--store', store, '--out', out]);
  const peer = (store: string, out: string): void => execute(mkcomposefs!, [`--digest-store=${store}`, largeTree, out]);
  const stores = { peer: join(dir, 'store-peer'), library: join(dir, 'store-library'), cli: join(dir, 'store-cli') };
  const first = {
    peer: mkcomposefs ? await measure(() => peer(join(stores.peer, 'objects'), join(dir, 'peer.cfs'))) : undefined,
    library: await measure(() => library(stores.library, join(dir, 'library.cfs'))),
    cli: await measure(() => cli(stores.cli, join(dir, 'cli.cfs'))),
  };
  // The first build's cache keeps only files whose ctime is over a minute old; a tree installed
  // long ago is all of them. Rebuilds: best of two.
  const again = {
    peer: mkcomposefs ? await bestOf(2, () => peer(join(stores.peer, 'objects'), join(dir, 'peer.cfs'))) : undefined,
    library: await bestOf(2, () => library(stores.library, join(dir, 'library.cfs'))),
    cli: await bestOf(2, () => cli(stores.cli, join(dir, 'cli.cfs'))),
  };
  if (mkcomposefs) {
    const same = ['library.cfs', 'cli.cfs'].every((f) => readFileSync(join(dir, f)).equals(readFileSync(join(dir, 'peer.cfs'))));
    console.log(`  images byte-identical to mkcomposefs's: ${same ? 'yes' : 'NO'}`);
  }
  console.log('first build into an empty store (copy + hash + fsync per object, then the image):');
  if (first.peer) console.log(line('mkcomposefs --digest-store', first.peer));
  console.log(line('vouch, library', first.library, first.peer));
  console.log(line('vouch composefs build (CLI)', first.cli, first.peer));
  console.log('rebuild into the filled store (best of 2):');
  if (again.peer) console.log(line('mkcomposefs --digest-store', again.peer));
  console.log(line('vouch, library', again.library, again.peer));
  console.log(line('vouch composefs build (CLI)', again.cli, again.peer));

  // The largest real dump: composefs's own test asset when the peer's build kept it.
  const asset = bin && join(bin, '..', 'assets', largeDump);
  const dumpPath = join(dir, 'large.dump');
  if (asset && existsSync(asset)) {
    await writeFile(dumpPath, gunzipSync(await readFile(asset)));
    console.log(`image of a dump: ${largeDump} (composefs tests/assets), best of 3 unless said:`);
  } else {
    const { printDump } = await import('../src/composefs/index.ts');
    await writeFile(dumpPath, printDump((await buildTreeFromDirectory(largeTree)).root), 'latin1');
    console.log(`image of a dump: the dump of ${largeTree} (composefs's cs9 dumps are not here), best of 3 unless said:`);
  }
  const imagePeer = mkcomposefs ? await bestOf(3, () => execute(mkcomposefs, ['--from-file', dumpPath, join(dir, 'dump-peer.cfs')])) : undefined;
  const libraryImage = async (): Promise<void> => writeFile(join(dir, 'dump-library.cfs'), writeImage(parseDump(await readFile(dumpPath))));
  // The first call pays for compiling the parser and writer, as a one-shot process would.
  const imageLibraryFirst = await measure(libraryImage);
  const imageLibrary = await bestOf(3, libraryImage);
  const imageCli = await bestOf(3, () => execute(process.execPath, [vouchCli, 'composefs', 'mkimage', dumpPath, '--out', join(dir, 'dump-cli.cfs')]));
  if (imagePeer) console.log(line('mkcomposefs --from-file', imagePeer));
  console.log(line('vouch, library, first call', imageLibraryFirst, imagePeer));
  console.log(line('vouch, library, best of 3 more', imageLibrary, imagePeer));
  console.log(line('vouch composefs mkimage (CLI)', imageCli, imagePeer));
  const startup = await bestOf(3, () => execute(process.execPath, [vouchCli, '--help']));
  console.log(line('vouch --help (CLI start-up alone)', startup));
}

function load(): string {
  return `${cpus().length} CPUs, load average ${fmt(loadavg()[0]!, 1)}`;
}
