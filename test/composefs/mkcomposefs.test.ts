// Differential tests against composefs's own tools (test/composefs/peer.ts): for the same dump or
// the same directory, `mkcomposefs` and Vouch write byte-identical images and store the same
// objects; `composefs-info dump` and Vouch's reader print the same dump of every image; a dump
// either both accept or both refuse (except where Vouch refuses on purpose, listed in the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lchownSync,
  existsSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ObjectStore, buildTreeFromDirectory, parseDump, printDump, tempDir, tmpfsDir } from './helpers.ts';
import { readImage, writeImage } from '../../src/composefs/erofs/index.ts';
import { buildTree, treeArb } from './arbitraries.ts';
import { composefsTools, runTool, type ComposefsTools } from './peer.ts';
import { peer } from '../helpers/peers.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');
const isRoot = process.getuid?.() === 0;

function versionArgs(version: number | undefined): string[] {
  return version === undefined ? [] : [`--min-version=${version}`, `--max-version=${version}`];
}

/** mkcomposefs' image of a dump (stdin to stdout). */
function theirImage(tools: ComposefsTools, dump: Uint8Array, version?: number): Promise<Buffer> {
  return runTool(tools.mkcomposefs, ['--from-file', ...versionArgs(version), '-', '-'], dump);
}

/** xattr names that are a whole EROFS name prefix: stored with an empty suffix. */
const prefixOnlyNames = new Set(['user.', 'trusted.', 'security.', 'system.posix_acl_access', 'system.posix_acl_default']);

/**
 * composefs-info's dump of an image and Vouch's must be the same text, but for two known
 * composefs-info reader bugs (lcfs_build_node_from_image, lcfs_build_node_erofs_xattr), neither of
 * which touches the image or a mount of it:
 * - skipping a redirect's leading '/' it does `value_size++` where `--` was meant, so a PAYLOAD
 *   runs on into the (at most two) image bytes after it, up to a NUL: theirs starts with Vouch's;
 * - its inline-xattr loop stops one entry early when the last entry is a bare 4-byte header (a
 *   prefix-only name with an empty value, e.g. `user.=`): theirs lacks that xattr.
 */
async function assertSameDump(tools: ComposefsTools, dir: string, image: Uint8Array, what: string): Promise<void> {
  const path = join(dir, 'image.cfs');
  writeFileSync(path, image);
  const theirs = (await runTool(tools.composefsInfo, ['dump', path])).toString('latin1').split('\n');
  const ours = printDump(readImage(image)).split('\n');
  assert.equal(ours.length, theirs.length, `${what}: composefs-info dump has ${theirs.length} lines, Vouch's ${ours.length}`);
  const payload = 8;
  const fixed = 11;
  ours.forEach((line, i) => {
    if (line === theirs[i]) return;
    const a = line.split(' ');
    const b = theirs[i]!.split(' ');
    const overRead = b[payload]!.startsWith(a[payload]!) && b[payload]!.length - a[payload]!.length <= 8; // two bytes, each up to \xHH
    const dropped = a.slice(fixed).filter((x) => !b.slice(fixed).includes(x));
    const explained =
      a.slice(0, fixed).every((field, f) => field === b[f] || (f === payload && overRead)) &&
      b.slice(fixed).every((x) => a.slice(fixed).includes(x)) &&
      dropped.every((x) => x.endsWith('=') && prefixOnlyNames.has(x.slice(0, -1)));
    assert.ok(explained, `${what}: composefs-info dump line ${i + 1}\n  Vouch: ${line}\n  theirs: ${theirs[i]}`);
  });
}

function assertSameBytes(ours: Uint8Array, theirs: Uint8Array, what: string): void {
  if (Buffer.compare(ours, theirs) === 0) return;
  let at = 0;
  while (at < ours.length && ours[at] === theirs[at]) at++;
  assert.fail(`${what}: images differ first at byte ${at} (Vouch ${ours.length} bytes, mkcomposefs ${theirs.length})`);
}

test('dump vectors: mkcomposefs and Vouch write the same image, composefs-info and Vouch read it the same', async (t) => {
  const tools = composefsTools(t);
  if (!tools) return;
  const dir = tempDir(t);
  const files = readdirSync(vectors).filter((f) => f.endsWith('.dump') && !f.startsWith('should-fail-'));
  assert.ok(files.length >= 10);
  for (const file of files.sort()) {
    const dump = readFileSync(join(vectors, file));
    const versionFile = join(vectors, `${file}.version`);
    const version = existsSync(versionFile) ? Number(readFileSync(versionFile, 'utf8')) : undefined;
    const ours = writeImage(parseDump(dump), version === undefined ? {} : { minVersion: version, maxVersion: version });
    assertSameBytes(ours, await theirImage(tools, dump, version), file);
    await assertSameDump(tools, dir, ours, file);
  }
});

test('dump vectors that must fail: both refuse', async (t) => {
  const tools = composefsTools(t);
  if (!tools) return;
  const files = readdirSync(vectors).filter((f) => f.startsWith('should-fail-') && f.endsWith('.dump'));
  assert.ok(files.length >= 10);
  for (const file of files.sort()) {
    const dump = readFileSync(join(vectors, file));
    await assert.rejects(theirImage(tools, dump), `mkcomposefs takes ${file}`);
    assert.throws(() => writeImage(parseDump(dump)), `Vouch takes ${file}`);
  }
});

test('random trees: mkcomposefs --from-file on Vouch dump gives Vouch image, both readers agree', async (t) => {
  const tools = composefsTools(t);
  if (!tools) return;
  const dir = tempDir(t);
  for (const [n, spec] of fc.sample(treeArb, { numRuns: 50, seed: 7 }).entries()) {
    const tree = buildTree(spec);
    const ours = writeImage(tree, { minVersion: spec.version, maxVersion: spec.version });
    const theirs = await theirImage(tools, Buffer.from(printDump(tree), 'latin1'), spec.version);
    assertSameBytes(ours, theirs, `tree ${n}`);
    await assertSameDump(tools, dir, ours, `tree ${n}`);
  }
});

/** What one random directory tree holds; ids stay below 2^31 and devices need root. */
const entryArb = fc.record({
  kind: fc.constantFrom('dir', 'file', 'file', 'file', 'symlink', 'fifo', 'hardlink', 'chardev', 'whiteout'),
  parent: fc.nat(),
  name: fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((n) => n !== '.' && n !== '..'),
  size: fc.oneof(fc.constantFrom(0, 1, 64, 65, 4096, 4097), fc.nat({ max: 200_000 })),
  fill: fc.nat({ max: 3 }),
  perm: fc.integer({ min: 0, max: 0o7777 }),
  owner: fc.nat({ max: 70_000 }),
  mtime: fc.oneof(fc.constantFrom(0, 1_700_000_000.5), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
  xattr: fc.option(fc.tuple(fc.constantFrom('user.a', 'user.long-name', 'trusted.overlay.opaque', 'trusted.x'), fc.stringMatching(/^[a-z0-9]{0,20}$/))),
});

/** Writes the entries under `src` with the real file-system calls (entries needing root only as root). */
function makeTree(src: string, entries: (typeof entryArb extends fc.Arbitrary<infer T> ? T : never)[], setfattr: string): void {
  mkdirSync(src);
  const dirs = [src];
  const files: string[] = [];
  for (const e of entries) {
    const parent = dirs[e.parent % dirs.length]!;
    const path = join(parent, e.name);
    if (lstatSync(path, { throwIfNoEntry: false })) continue;
    const privileged = e.kind === 'chardev' || e.kind === 'whiteout' || e.xattr?.[0].startsWith('trusted.') === true;
    if (privileged && !isRoot) continue;
    switch (e.kind) {
      case 'dir':
        mkdirSync(path);
        dirs.push(path);
        break;
      case 'file':
        // A few fills only, so equal contents share one object.
        writeFileSync(path, new Uint8Array(e.size).fill(e.fill * 85));
        files.push(path);
        break;
      case 'symlink':
        symlinkSync(e.name.repeat(3), path);
        break;
      case 'fifo':
        execFileSync('mkfifo', [path]);
        break;
      case 'hardlink':
        if (files.length === 0) continue;
        linkSync(files[e.parent % files.length]!, path);
        break;
      case 'chardev':
        execFileSync('mknod', [path, 'c', '1', String(e.owner % 256)]);
        break;
      case 'whiteout':
        execFileSync('mknod', [path, 'c', '0', '0']);
        break;
    }
    if (e.kind === 'hardlink') continue;
    // user.* xattrs exist only on regular files and directories.
    const xattrAllowed = e.kind === 'file' || e.kind === 'dir' || e.xattr?.[0].startsWith('trusted.') === true;
    if (e.xattr && xattrAllowed) execFileSync(setfattr, ['-h', '-n', e.xattr[0], '-v', e.xattr[1] === '' ? '""' : e.xattr[1], path]);
    if (e.kind !== 'symlink') chmodSync(path, e.perm | (e.kind === 'dir' ? 0o700 : 0));
    if (isRoot) lchownSync(path, e.owner, e.owner + 1);
    lutimesSync(path, e.mtime, e.mtime);
  }
  // Directories last, so adding entries did not move their times.
  for (const d of dirs.reverse()) utimesSync(d, 1_600_000_000, 1_600_000_000);
}

/** Object paths below `objects` (mkcomposefs' --digest-store is that directory; it makes it only for a first object). */
function listObjects(objects: string): string[] {
  if (!existsSync(objects)) return [];
  return readdirSync(objects)
    .filter((f) => /^[0-9a-f]{2}$/.test(f))
    .flatMap((fan) => readdirSync(join(objects, fan)).map((f) => `${fan}/${f}`))
    .sort();
}

test('random directories: mkcomposefs --digest-store and vouch build write the same image and the same objects', async (t) => {
  const tools = composefsTools(t);
  const setfattr = peer(t, 'setfattr');
  if (!tools || !setfattr) return;
  const dir = tempDir(t);
  const samples = fc.sample(fc.array(entryArb, { minLength: 1, maxLength: 30 }), { numRuns: 12, seed: 11 });
  for (const [n, entries] of samples.entries()) {
    const src = join(dir, `src${n}`);
    makeTree(src, entries, setfattr);
    const theirStore = join(dir, `theirs${n}`);
    const theirPath = join(dir, `theirs${n}.cfs`);
    await runTool(tools.mkcomposefs, [`--digest-store=${theirStore}`, src, theirPath]);
    const store = await ObjectStore.open(join(dir, `ours${n}`), { create: true });
    const { root } = await buildTreeFromDirectory(src, { store });
    await store.release();
    const ours = writeImage(root);
    assertSameBytes(ours, readFileSync(theirPath), `directory ${n}`);
    assert.deepEqual(listObjects(store.objectsDir), listObjects(theirStore), `directory ${n}: objects`);
    await assertSameDump(tools, dir, ours, `directory ${n}`);
  }
});

test('a directory on tmpfs with mtimes beyond 2^53 s and 2^63 - 1: the same image', async (t) => {
  const tools = composefsTools(t);
  const dir = tmpfsDir(t);
  if (!tools || !dir) return;
  const src = join(dir, 'src');
  mkdirSync(src);
  const stamps = ['9007199254740993.5', '-9007199254740995.25', '9223372036854775807', '-9223372036854775808', '1700000000'];
  stamps.forEach((stamp, i) => {
    writeFileSync(join(src, `f${i}`), 'x'.repeat(i * 40));
    execFileSync('touch', ['-d', `@${stamp}`, join(src, `f${i}`)]);
  });
  execFileSync('touch', ['-d', '@9007199254740999', src]);
  const theirPath = join(dir, 'theirs.cfs');
  await runTool(tools.mkcomposefs, ['--skip-xattrs', src, theirPath]);
  const ours = writeImage((await buildTreeFromDirectory(src, { skipXattrs: true })).root);
  assertSameBytes(ours, readFileSync(theirPath), 'far mtimes');
  await assertSameDump(tools, dir, ours, 'far mtimes');
});

test('dumps Vouch refuses on purpose, though mkcomposefs takes them', async (t) => {
  const tools = composefsTools(t);
  if (!tools) return;
  const root = '/ 0 40755 2 0 0 0 0.0 - - -\n';
  const cases = [
    // strtoull then time_t: the file would carry a time 292 billion years before the epoch.
    { dump: `${root}/f 0 100644 1 0 0 0 9223372036854775808.0 - - -\n`, reason: /MTIME seconds: .* outside/ },
    // digest_to_raw writes nothing for an empty string: the metacopy xattr pins stack bytes.
    { dump: `${root}/f 5000 100644 1 0 0 0 0.0 ab/cdef - \n`, reason: /DIGEST is empty for an external file/ },
    // digest_to_raw's result is not checked: a short or non-hex digest pins a partly filled buffer.
    { dump: `${root}/f 5000 100644 1 0 0 0 0.0 ab/cdef - abcd\n`, reason: /DIGEST: expected 64 hex digits/ },
  ];
  for (const c of cases) {
    await theirImage(tools, Buffer.from(c.dump));
    assert.throws(() => parseDump(c.dump), c.reason);
  }
});

test('real image dumps from composefs tests/assets: the image is the one whose sha256 composefs pins', (t) => {
  const tools = composefsTools(t);
  if (!tools) return;
  // scripts/build-mkcomposefs.sh keeps them beside the tools; the cs9 developer and f36 dumps,
  // larger, are left to bench/composefs.bench.ts.
  const assets = join(tools.mkcomposefs, '..', '..', 'assets');
  for (const file of ['config-with-hard-link.dump.gz', 'cs9-x86_64-minimal.dump.gz']) {
    const image = writeImage(parseDump(gunzipSync(readFileSync(join(assets, file)))));
    const pinned = readFileSync(join(assets, `${file}.sha256`), 'utf8').trim();
    assert.equal(createHash('sha256').update(image).digest('hex'), pinned, file);
  }
});
