// A source tree with every kind of entry composefs represents, made with the real tools.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, truncateSync, writeFileSync, utimesSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { asRoot } from '../helpers/peers.ts';

/** Device nodes (mknod) and trusted.* xattrs need root: true (and the test skipped, or failed under CI) without it. */
export function needsRoot(t: TestContext): boolean {
  return !asRoot(t, 'the sample tree (mknod, trusted.* xattrs)');
}

/**
 * Fills `dir` (xattrs only when setfattr is present). A Unix socket exists only while its server
 * listens (Node unlinks it on close), so the caller closes the returned handle when done.
 */
export async function makeSampleTree(dir: string, setfattr: string | undefined): Promise<{ close(): Promise<void> }> {
  mkdirSync(join(dir, 'etc/deep/er'), { recursive: true });
  writeFileSync(join(dir, 'etc/small'), 'hello\n');
  writeFileSync(join(dir, 'etc/empty'), '');
  writeFileSync(join(dir, 'etc/inline-max'), 'x'.repeat(64));
  writeFileSync(join(dir, 'etc/just-over'), 'y'.repeat(65));
  writeFileSync(
    join(dir, 'etc/deep/er/big'),
    new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff),
  );
  linkSync(join(dir, 'etc/deep/er/big'), join(dir, 'big-hardlink'));
  symlinkSync('etc/small', join(dir, 'link'));
  symlinkSync('-', join(dir, 'dash-link'));
  writeFileSync(Buffer.from(join(dir, 'name\xffwith\nbytes'), 'latin1'), 'odd name');
  writeFileSync(join(dir, 'n'.repeat(150)), 'long name');
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  execFileSync('mknod', [join(dir, 'null-dev'), 'c', '1', '3']);
  execFileSync('mknod', [join(dir, 'block-dev'), 'b', '7', '300']);
  writeFileSync(join(dir, 'sparse'), '');
  truncateSync(join(dir, 'sparse'), 40 << 20);
  const socketPath = join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  if (setfattr) {
    execFileSync(setfattr, ['-n', 'user.note', '-v', 'a=b c', join(dir, 'etc/small')]);
    execFileSync(setfattr, ['-n', 'user.empty', '-v', '', join(dir, 'etc')]);
    execFileSync(setfattr, ['-n', 'trusted.overlay.opaque', '-v', 'y', join(dir, 'etc/deep')]);
    execFileSync(setfattr, ['-n', 'user.bin', '-v', '0x00ff3d0a', join(dir, 'etc/deep/er/big')]);
  }
  utimesSync(join(dir, 'etc/small'), 1_700_000_000.5, 1_600_000_000.25);
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
