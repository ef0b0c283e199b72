// Issue 7 §1.3: every command reads its inputs through one capped reader. /dev/zero, FIFOs and
// sparse files over 2 GiB end in ERR_CLI_INPUT_TOO_LARGE naming the limit (once: reading forever,
// or ERR_CLI_INTERNAL); directories, missing and unreadable files in ERR_CLI_IO with path and errno.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventLogLimits } from '../../src/eventlog/index.ts';
import { runVouch } from '../helpers/cli.ts';
import { fifoWriter, unreadablePath, withDir } from './helpers.ts';

interface JsonError {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

async function vouchError(args: readonly string[]): Promise<JsonError> {
  const run = await runVouch([...args, '--json']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const { result, error } = JSON.parse(run.stdout) as { result: unknown; error: JsonError | null };
  assert.equal(result, null);
  assert.ok(error);
  return error;
}

test('issue 7: vouch eventlog show /dev/zero stops at the event log limit', async () => {
  const error = await vouchError(['eventlog', 'show', '/dev/zero']);
  assert.equal(error.code, 'ERR_CLI_INPUT_TOO_LARGE');
  assert.equal(
    error.message,
    `/dev/zero: more than ${EventLogLimits.maxLogBytes} bytes; an event log is read only up to ${EventLogLimits.maxLogBytes} bytes (no option raises this)`,
  );
  assert.deepEqual(error.details, { path: '/dev/zero', maxBytes: EventLogLimits.maxLogBytes });
});

test('issue 7: a FIFO with an endless writer stops at the limit', async () => {
  await withDir(async (dir) => {
    const fifo = join(dir, 'log.fifo');
    const writer = fifoWriter(fifo, 'cat /dev/zero');
    try {
      const error = await vouchError(['eventlog', 'replay', fifo]);
      assert.equal(error.code, 'ERR_CLI_INPUT_TOO_LARGE');
    } finally {
      await writer.stop();
    }
  });
});

test('issue 7: a sparse file over 2 GiB fails at once for every kind of input, naming its size', async () => {
  await withDir(async (dir) => {
    const big = join(dir, 'big');
    await writeFile(big, '');
    await truncate(big, 2 ** 31 + 4096);
    for (const args of [
      ['eventlog', 'show', big],
      ['pe', 'hash', big],
      ['secureboot', 'db', 'show', big],
      ['composefs', 'dump', big],
    ]) {
      const error = await vouchError(args);
      assert.equal(error.code, 'ERR_CLI_INPUT_TOO_LARGE', args.join(' '));
      assert.equal(error.details?.size, 2 ** 31 + 4096);
      assert.match(error.message, /^\/.*\/big: 2147487744 bytes; an? (event log|image|document) is read only up to \d+ bytes/);
    }
  });
});

test('a directory, a missing file and an unreadable file are ERR_CLI_IO with path and errno', async () => {
  await withDir(async (dir) => {
    await mkdir(join(dir, 'sub'));
    const cases: [string, string][] = [
      [join(dir, 'sub'), 'EISDIR'],
      [join(dir, 'absent.bin'), 'ENOENT'],
      [await unreadablePath(dir), 'EACCES'],
    ];
    for (const [path, errno] of cases) {
      for (const args of [
        ['eventlog', 'show', path],
        ['pe', 'show', path],
        ['secureboot', 'db', 'show', path],
      ]) {
        const error = await vouchError(args);
        assert.equal(error.code, 'ERR_CLI_IO', `${args.join(' ')}: ${error.message}`);
        assert.deepEqual(error.details, { path, errno }, args.join(' '));
      }
    }
  });
});
