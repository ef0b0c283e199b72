// `vouch composefs digest|store|build|verify`, run in-process with captured streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peer } from '../helpers/peers.ts';
import { runVouch } from './cli-helpers.ts';
import { tempDir, tmpfsDir } from './helpers.ts';
import { needsRoot } from './fixtures.ts';

const vouch = (args: string[], cwd: string): ReturnType<typeof runVouch> => runVouch(args, cwd);

test('digest prints exactly what `fsverity digest` prints, for each option set', async (t) => {
  const tool = peer(t, 'fsverity');
  if (!tool) return;
  const dir = tempDir(t);
  const files = [join(dir, 'a'), join(dir, 'b')];
  writeFileSync(files[0]!, 'x'.repeat(70000));
  writeFileSync(files[1]!, '');
  for (const options of [[], ['--hash', 'sha512', '--block-size', '1024', '--salt', 'a1b2']]) {
    const ours = await vouch(['composefs', 'digest', ...files, ...options], dir);
    const toolOptions = options.length ? ['--hash-alg=sha512', '--block-size=1024', '--salt=a1b2'] : [];
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, execFileSync(tool, ['digest', ...toolOptions, ...files], { encoding: 'utf8' }));
  }
  // Like the C tool, lines for the files before an unreadable one are printed, then the error.
  const partial = await vouch(['composefs', 'digest', files[0]!, join(dir, 'missing'), files[1]!], dir);
  assert.equal(partial.code, 1);
  assert.equal(partial.stdout, execFileSync(tool, ['digest', files[0]!], { encoding: 'utf8' }));
  assert.match(partial.stderr, /ERR_CLI_IO: .*missing/);
  const bad = await vouch(['composefs', 'digest', files[0]!, '--block-size', '1000', '--json'], dir);
  assert.equal(bad.code, 1);
  assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'ERR_COMPOSEFS_FSVERITY_PARAMS');
});

test('build, verify, tamper: verify lists every difference and exits 3; fsck and gc', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'bin/app'), 'A'.repeat(10000), { mode: 0o755 });
  writeFileSync(join(src, 'bin/lib'), 'L'.repeat(20000));
  writeFileSync(join(src, 'config'), 'small');
  const store = join(dir, 'store');
  const image = join(dir, 'root.cfs');
  const dump = join(dir, 'root.dump');
  const built = await vouch(['composefs', 'build', src, '--store', store, '--out', image, '--dump', dump, '--json'], dir);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  const { composefsDigest } = (JSON.parse(built.stdout) as { result: { composefsDigest: string } }).result;
  assert.match(composefsDigest, /^[0-9a-f]{64}$/);

  const clean = await vouch(['composefs', 'verify', image, '--store', store, '--root', src], dir);
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, new RegExp(`^composefs=${composefsDigest}\\n2 objects checked, 0 problems, 0 differences`));
  assert.equal((await vouch(['composefs', 'verify', dump, '--store', store], dir)).code, 0);

  // Tamper with one object and the tree.
  const objects = execFileSync('find', [join(store, 'objects'), '-type', 'f'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const victim = objects[0]!;
  chmodSync(victim, 0o644);
  const bytes = readFileSync(victim);
  bytes[5000]! ^= 0xff;
  writeFileSync(victim, bytes);
  writeFileSync(join(src, 'config'), 'SMALL');
  writeFileSync(join(src, 'added'), '');
  const tampered = await vouch(['composefs', 'verify', image, '--store', store, '--root', src, '--json'], dir);
  assert.equal(tampered.code, 3);
  const result = (
    JSON.parse(tampered.stdout) as { result: { verified: boolean; objectProblems: { problem: string }[]; changes: { path: string; change: string }[] } }
  ).result;
  assert.equal(result.verified, false);
  assert.deepEqual(
    result.objectProblems.map((p) => p.problem),
    ['corrupt'],
  );
  assert.deepEqual(
    result.changes.map((c) => `${c.change} ${c.path}`),
    ['modified /', 'added /added', 'modified /config'],
  );

  const fsck = await vouch(['composefs', 'store', 'fsck', '--store', store], dir);
  assert.equal(fsck.code, 3);
  assert.match(fsck.stdout, /^2 objects checked\ncorrupt /);

  const extra = await vouch(['composefs', 'store', 'add', '--store', store, join(src, 'added'), join(src, 'bin/app')], dir);
  assert.equal(extra.code, 0);
  assert.match(extra.stdout, /present .*bin\/app/);
  const gc = await vouch(['composefs', 'store', 'gc', '--store', store, image, '--json'], dir);
  assert.equal(gc.code, 0, gc.stdout);
  assert.deepEqual((JSON.parse(gc.stdout) as { result: { kept: number; removed: string[] } }).result.kept, 2);
  assert.equal((JSON.parse(gc.stdout) as { result: { removed: string[] } }).result.removed.length, 1); // the empty file's object
  rmSync(victim);
  const missing = await vouch(['composefs', 'verify', image, '--store', store, '--json'], dir);
  assert.equal(missing.code, 3);
  assert.deepEqual(
    (JSON.parse(missing.stdout) as { result: { objectProblems: { problem: string }[] } }).result.objectProblems.map((p) => p.problem),
    ['missing'],
  );
});

test('a tree with hardlinks verifies clean against its image built either way (mkcomposefs default or --hardlinks)', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a'), 'x'.repeat(1000));
  linkSync(join(src, 'a'), join(src, 'b'));
  const store = join(dir, 'store');
  for (const options of [[], ['--hardlinks']]) {
    const image = join(dir, `root${options.length}.cfs`);
    const built = await vouch(['composefs', 'build', src, '--store', store, '--out', image, ...options], dir);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    assert.match(built.stdout, options.length ? /, 1 hardlinks/ : /, 0 hardlinks/);
    const verified = await vouch(['composefs', 'verify', image, '--store', store, '--root', src], dir);
    assert.equal(verified.code, 0, `${options.join(' ')}: ${verified.stdout}`);
  }
});

test('verify of a file that is neither an image nor a dump says so, with a typed error', async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk');
  writeFileSync(junk, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  mkdirSync(join(dir, 'store/objects'), { recursive: true });
  const result = await vouch(['composefs', 'verify', junk, '--store', join(dir, 'store'), '--json'], dir);
  assert.equal(result.code, 1);
  const error = (JSON.parse(result.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'ERR_COMPOSEFS_DUMP_PARSE');
  assert.match(error.message, /^not a composefs image \(no header magic\) nor a dump: line 1: /);
});

test("relative paths are taken from the command's working directory", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/file'), 'y'.repeat(5000));
  const built = await vouch(['composefs', 'build', 'src', '--store', 'store', '--out', 'root.cfs', '--dump', 'root.dump'], dir);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  assert.match(readFileSync(join(dir, 'root.dump'), 'latin1'), /^\/file 5000 100644 /m);
  const verified = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', 'src'], dir);
  assert.equal(verified.code, 0, verified.stdout);
  const digest = await vouch(['composefs', 'digest', 'src/file'], dir);
  assert.match(digest.stdout, /^sha256:[0-9a-f]{64} src\/file\n$/);
  const image = await vouch(['composefs', 'mkimage', 'root.dump', '--out', 'again.cfs'], dir);
  assert.equal(image.code, 0, image.stderr);
  assert.deepEqual(readFileSync(join(dir, 'again.cfs')), readFileSync(join(dir, 'root.cfs')));
});

test('verify --ignore names only fields it compares (a typo is a usage error, not a silent no-op)', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src'));
  const built = await vouch(['composefs', 'build', 'src', '--store', 'store', '--out', 'root.cfs'], dir);
  assert.equal(built.code, 0, built.stderr);
  const typo = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', 'src', '--ignore', 'mtimes'], dir);
  assert.equal(typo.code, 1, typo.stderr);
  assert.match(typo.stderr, /--ignore: unknown field mtimes \(fields: type, mode, /);
  assert.equal((await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', 'src', '--ignore', 'mtime'], dir)).code, 0);
});

test('a tree holding whiteouts verifies clean against its format-1 image, whose opaque marks are the writer’s own', async (t) => {
  const setfattr = peer(t, 'setfattr');
  if (!setfattr || needsRoot(t)) return;
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'layer/sub'), { recursive: true });
  mkdirSync(join(src, 'plain'));
  execFileSync('mknod', [join(src, 'layer/gone'), 'c', '0', '0']);
  execFileSync('mknod', [join(src, 'layer/sub/gone-too'), 'c', '0', '0']);
  writeFileSync(join(src, 'layer/kept'), 'k'.repeat(100));
  const built = await vouch(['composefs', 'build', src, '--store', 'store', '--out', 'root.cfs'], dir);
  assert.equal(built.code, 0, built.stderr);
  const verified = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', src], dir);
  assert.equal(verified.code, 0, verified.stdout);
  // An opaque mark where the image has none is still a difference.
  execFileSync(setfattr, ['-n', 'trusted.overlay.opaque', '-v', 'x', join(src, 'plain')]);
  const marked = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', src], dir);
  assert.equal(marked.code, 3, marked.stdout);
  assert.match(marked.stdout, /^modified \/plain \(xattrs\)$/m);
});

test('verify --root reads a tree with more xattrs than composefs holds: a difference, or nothing with --ignore xattrs', async (t) => {
  const setfattr = peer(t, 'setfattr');
  const dir = tmpfsDir(t);
  if (!setfattr || !dir) return;
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'big'), 'b'.repeat(1000));
  for (const name of ['user.one', 'user.two']) execFileSync(setfattr, ['-n', name, '-v', `0x${'ab'.repeat(20_000)}`, join(src, 'big')]);
  const built = await vouch(['composefs', 'build', src, '--store', 'store', '--out', 'root.cfs', '--skip-xattrs'], dir);
  assert.equal(built.code, 0, built.stderr);
  const ignoring = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', src, '--ignore', 'xattrs'], dir);
  assert.equal(ignoring.code, 0, ignoring.stdout + ignoring.stderr);
  const comparing = await vouch(['composefs', 'verify', 'root.cfs', '--store', 'store', '--root', src], dir);
  assert.equal(comparing.code, 3, comparing.stdout + comparing.stderr);
  assert.match(comparing.stdout, /^modified \/big \(xattrs\)$/m);
});
