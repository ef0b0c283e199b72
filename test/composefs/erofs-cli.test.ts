// `vouch composefs mkimage` and `vouch composefs dump`, run in-process with captured streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peer } from '../helpers/peers.ts';
import { runVouch } from './cli-helpers.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');

const vouch = (args: string[], cwd: string): ReturnType<typeof runVouch> => runVouch(args, cwd, 'latin1');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('mkimage from a dump writes the mkcomposefs bytes and prints the fs-verity digest; dump reads it back', async (t) => {
  const dir = tempDir(t);
  const image = join(dir, 'special.img');
  const made = await vouch(['composefs', 'mkimage', join(vectors, 'special.dump'), '--out', image, '--min-version', '0', '--max-version', '0', '--json'], dir);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const bytes = readFileSync(image);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), readFileSync(join(vectors, 'special.dump.sha256'), 'utf8').trim());
  const result = (JSON.parse(made.stdout) as { result: { digest: string; formatVersion: number } }).result;
  assert.match(result.digest, /^[0-9a-f]{64}$/);
  assert.equal(result.formatVersion, 0);

  const dumped = await vouch(['composefs', 'dump', image], dir);
  assert.equal(dumped.code, 0, dumped.stderr);
  assert.match(dumped.stderr, new RegExp(`fs-verity digest ${result.digest}`));
  // image → dump → image is the identity
  writeFileSync(join(dir, 'again.dump'), Buffer.from(dumped.stdout, 'latin1'));
  const again = await vouch(
    ['composefs', 'mkimage', join(dir, 'again.dump'), '--out', join(dir, 'again.img'), '--min-version', '0', '--max-version', '0'],
    dir,
  );
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readFileSync(join(dir, 'again.img')), bytes);
  assert.equal(again.stdout, `${result.digest} ${join(dir, 'again.img')}\n`);
});

test('mkimage from a directory copies contents into the store; fsck.erofs accepts the image', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc', 'hostname'), 'node-1\n');
  writeFileSync(join(src, 'big'), Buffer.alloc(100_000, 7));
  symlinkSync('etc/hostname', join(src, 'link'));
  const image = join(dir, 'tree.img');
  const made = await vouch(['composefs', 'mkimage', src, '--out', image, '--store', join(dir, 'store'), '--json'], dir);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const dumped = await vouch(['composefs', 'dump', image], dir);
  assert.equal(dumped.code, 0, dumped.stderr);
  assert.match(dumped.stdout, /^\/etc\/hostname 7 100644 1 /m);
  assert.match(dumped.stdout, /^\/link 12 120777 1 .* etc\/hostname - -$/m);
  // The 100 kB file lives in the store under its fs-verity digest, which the image pins.
  const big = dumped.stdout.split('\n').find((l) => l.startsWith('/big '))!;
  const [payload, , digest] = big.split(' ').slice(8, 11);
  assert.equal(payload, `${digest!.slice(0, 2)}/${digest!.slice(2)}`);
  assert.equal(readFileSync(join(dir, 'store', 'objects', payload)).length, 100_000);
  const fsck = peer(t, 'fsck.erofs');
  if (fsck) execFileSync(fsck, [image], { stdio: 'pipe' });
});

test('errors: a non-image, a missing source and a bad version give one typed line and exit 1', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'not-an-image'), 'hello');
  const notImage = await vouch(['composefs', 'dump', join(dir, 'not-an-image')], dir);
  assert.equal(notImage.code, 1);
  assert.match(notImage.stderr, /^vouch: ERR_COMPOSEFS_IMAGE_INVALID: /);
  const missing = await vouch(['composefs', 'mkimage', join(dir, 'nope'), '--out', join(dir, 'x.img')], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vouch: ERR_CLI_IO: /);
  const badVersion = await vouch(['composefs', 'mkimage', join(vectors, 'special.dump'), '--out', join(dir, 'x.img'), '--max-version', '2'], dir);
  assert.equal(badVersion.code, 1);
  assert.match(badVersion.stderr, /^vouch: ERR_COMPOSEFS_IMAGE_VERSION: /);
  const noOut = await vouch(['composefs', 'mkimage', join(vectors, 'special.dump')], dir);
  assert.equal(noOut.code, 1);
  assert.match(noOut.stderr, /ERR_CLI_USAGE/);
});
