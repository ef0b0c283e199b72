// readFileUpTo: the one reader behind every CLI input. The cap holds while reading (devices, FIFOs),
// a regular file over it fails before any read, and failures keep their errno and path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileTooLargeError, readFileUpTo } from '../../src/io/index.ts';
import { fifoWriter, unreadablePath, withDir } from './helpers.ts';

function assertTooLarge(error: unknown, maxBytes: number, size?: number): true {
  assert.ok(error instanceof FileTooLargeError, String(error));
  assert.equal(error.maxBytes, maxBytes);
  assert.equal(error.size, size);
  return true;
}

test('a regular file is read into one buffer sized from fstat: no copy', async () => {
  await withDir(async (dir) => {
    const content = new Uint8Array(100_000).map((_, i) => i % 251);
    await writeFile(join(dir, 'f'), content);
    const read = await readFileUpTo(join(dir, 'f'), 1 << 20);
    assert.deepEqual(read, content);
    assert.equal(read.buffer.byteLength, content.length + 1);
  });
});

test('a file exactly at the cap is read; one byte over is FileTooLargeError with its size', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'f'), new Uint8Array(4096));
    assert.equal((await readFileUpTo(join(dir, 'f'), 4096)).length, 4096);
    await assert.rejects(readFileUpTo(join(dir, 'f'), 4095), (e) => assertTooLarge(e, 4095, 4096));
  });
});

test('procfs files that report size 0 are read to the end', async () => {
  const status = Buffer.from(await readFileUpTo('/proc/self/status', 1 << 20)).toString('utf8');
  assert.match(status, /^Name:/);
  assert.match(status, /\nPid:/);
});

test('a sparse 3 GiB file fails from fstat alone, without reading', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'sparse');
    await writeFile(file, '');
    await truncate(file, 3 * 1024 ** 3);
    await assert.rejects(readFileUpTo(file, 2 ** 31 - 1), (e) => assertTooLarge(e, 2 ** 31 - 1, 3 * 1024 ** 3));
  });
});

test('/dev/zero stops at the cap', async () => {
  await assert.rejects(readFileUpTo('/dev/zero', 1 << 20), (e) => assertTooLarge(e, 1 << 20));
});

test('a FIFO fed forever stops at the cap; a FIFO fed a little is read to its end', async () => {
  await withDir(async (dir) => {
    const endless = fifoWriter(join(dir, 'endless'), 'cat /dev/zero');
    try {
      await assert.rejects(readFileUpTo(join(dir, 'endless'), 1 << 20), (e) => assertTooLarge(e, 1 << 20));
    } finally {
      await endless.stop();
    }
    const short = fifoWriter(join(dir, 'short'), 'printf vouch');
    try {
      assert.equal(Buffer.from(await readFileUpTo(join(dir, 'short'), 1 << 20)).toString(), 'vouch');
    } finally {
      await short.stop();
    }
  });
});

test('a directory, a missing file and an unreadable file keep their errno and path', async () => {
  await withDir(async (dir) => {
    const failure = (errno: string, path: string) => (e: unknown) => {
      assert.equal((e as NodeJS.ErrnoException).code, errno);
      assert.equal((e as NodeJS.ErrnoException).path, path);
      return true;
    };
    await assert.rejects(readFileUpTo(dir, 1024), failure('EISDIR', dir));
    await assert.rejects(readFileUpTo(join(dir, 'absent'), 1024), failure('ENOENT', join(dir, 'absent')));
    const unreadable = await unreadablePath(dir);
    assert.ok(existsSync(unreadable), `${unreadable} is missing: this test needs Linux procfs`);
    await assert.rejects(readFileUpTo(unreadable, 1024), failure('EACCES', unreadable));
  });
});
