import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { peer } from '../helpers/peers.ts';
import {
  FsVerityHasher,
  fsverityDigest,
  fsverityDigestFile,
  fsverityParams,
  composefsDigest,
  composefsKernelArgument,
  type FsVerityHashName,
} from '../../src/composefs/fsverity/index.ts';
import { isVouchErrorWithCode } from './helpers.ts';

interface Case {
  alg: FsVerityHashName;
  block: number;
  size: number;
  salt: string;
  digest: string;
}
const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '../vectors/fsverity.json'), 'utf8')) as {
  cases: Case[];
  text_cases: { alg: FsVerityHashName; block: number; text: string; digest: string }[];
};

/** fsverity-utils test_compute_digest.c input: byte i is (i%11 + i%439 + i%1103) & 0xff. */
function generated(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i % 11) + (i % 439) + (i % 1103);
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

for (const c of vectors.cases) {
  test(`fsverity.json ${c.alg} block ${c.block} size ${c.size} salt ${JSON.stringify(c.salt)}`, () => {
    // The salts in the vectors are the byte strings as written (fsverity-utils passes them raw).
    const params = { hash: c.alg, blockSize: c.block, salt: new Uint8Array(Buffer.from(c.salt, 'latin1')) };
    const data = generated(c.size);
    assert.equal(hex(fsverityDigest(data, params)), c.digest);
    // Streaming in odd chunk sizes gives the same digest.
    const h = new FsVerityHasher(params);
    for (let o = 0; o < data.length; o += 7919) h.update(data.subarray(o, o + 7919));
    assert.equal(hex(h.digest()), c.digest);
  });
}

for (const c of vectors.text_cases) {
  test(`fsverity.json text ${JSON.stringify(c.text)} ${c.alg}`, () => {
    assert.equal(hex(fsverityDigest(Buffer.from(c.text), { hash: c.alg, blockSize: c.block })), c.digest);
  });
}

test('block hashes folded from ranges equal the streamed digest', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40000 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom(512, 1024, 4096), (size, cut, bs) => {
      const data = generated(size);
      const whole = fsverityDigest(data, { blockSize: bs });
      const h = new FsVerityHasher({ blockSize: bs });
      const split = Math.min(Math.floor(size / bs), cut) * bs;
      h.update(data.subarray(0, split));
      h.updateBlockHashes(h.blockHasher.hashDataBlocks(data.subarray(split)), size - split);
      assert.deepEqual(h.digest(), whole);
    }),
    { numRuns: 60 },
  );
});

test('bad parameters are typed errors', () => {
  for (const p of [{ blockSize: 1000 }, { blockSize: 256 }, { blockSize: 131072 }, { salt: new Uint8Array(33) }, { hash: 'md5' as FsVerityHashName }]) {
    assert.throws(
      () => fsverityParams(p),
      (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_FSVERITY_PARAMS'),
    );
  }
});

test('a file that yields more bytes than its size said is a typed error, not a digest of neither version', async () => {
  // /dev/zero stats as 0 bytes and never ends: the same as a file growing while it is read.
  await assert.rejects(fsverityDigestFile('/dev/zero'), (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_FILE_CHANGED'));
});

test('matches `fsverity digest` on files of many sizes, 1 and 2 workers', async (t) => {
  const tool = peer(t, 'fsverity');
  if (!tool) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-fsverity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // 0, 1, block−1, block, block+1; 129 blocks = 2 levels; 128*128+1 blocks = 3 levels.
  const sizes = [0, 1, 4095, 4096, 4097, 129 * 4096 + 5, (128 * 128 + 1) * 4096 + 17];
  const settings: { args: string[]; params: { hash: FsVerityHashName; blockSize: number; salt: Uint8Array } }[] = [
    { args: [], params: { hash: 'sha256', blockSize: 4096, salt: new Uint8Array(0) } },
    { args: ['--hash-alg=sha512', '--block-size=1024', '--salt=00ff10'], params: { hash: 'sha512', blockSize: 1024, salt: new Uint8Array([0, 0xff, 0x10]) } },
  ];
  for (const size of sizes) {
    const file = join(dir, `f${size}`);
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4093) data[i] = (i * 2654435761) >>> 24;
    writeFileSync(file, data);
    for (const s of settings) {
      const expected: string | undefined = execFileSync(tool, ['digest', ...s.args, file], { encoding: 'utf8' })
        .split(' ')[0]!
        .split(':')[1];
      assert.equal(hex(await fsverityDigestFile(file, s.params)), expected, `size ${size} ${s.args.join(' ')}`);
      if (size > 1 << 20) assert.equal(hex(await fsverityDigestFile(file, s.params, { workers: 2, parallelThreshold: 0 })), expected, `size ${size} workers`);
    }
  }
});

test('composefsDigest is the sha256/4096 fs-verity digest of the image bytes', () => {
  const image = generated(10000);
  assert.deepEqual(composefsDigest(image), fsverityDigest(image, { hash: 'sha256', blockSize: 4096 }));
  assert.equal(composefsKernelArgument(composefsDigest(image)), `composefs=${hex(composefsDigest(image))}`);
});
