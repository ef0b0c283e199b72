// The Linux kernel as the reader: mount Vouch's images with the in-kernel EROFS driver and
// compare what it shows (types, modes, owners, times, links, sizes, inline data, holes, symlink
// targets, directory listings, xattrs through the name filter and the shared table) with what
// the writer laid out. Needs root and a kernel with EROFS; skipped with a reason otherwise.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDump, createInode, createRoot, addChild, addHardlink, FileType, type CfsNode } from './helpers.ts';
import { layoutImage, prepareTree, serializeImage, type FormatVersionRange } from '../../src/composefs/erofs/index.ts';
import { asRoot, peer, unavailable } from '../helpers/peers.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');

/** Mounts `image` read-only on a fresh directory, runs `inspect`, always unmounts. */
function withMount(t: TestContext, dir: string, image: string, inspect: (mountpoint: string) => void): boolean {
  const mountpoint = mkdtempSync(join(dir, 'mnt-'));
  const mounted = spawnSync('mount', ['-t', 'erofs', '-o', 'loop,ro', image, mountpoint], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    unavailable(
      t,
      `cannot mount EROFS here (${(mounted.stderr || mounted.error?.message || '').trim()})`,
      'needs root with loop devices and the erofs module, not an unprivileged container',
    );
    return false;
  }
  try {
    inspect(mountpoint);
  } finally {
    execFileSync('umount', [mountpoint]);
  }
  return true;
}

/** `getfattr -d` of every path: path → (name → hex value). Paths come back octal-escaped. */
function kernelXattrs(getfattr: string, mountpoint: string): Map<string, Map<string, string>> {
  const out = spawnSync(getfattr, ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', mountpoint], { maxBuffer: 1 << 28 });
  const all = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of out.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = line.slice(8).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
      all.set(path.slice(mountpoint.length) || '/', (current = new Map<string, string>()));
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      current.set(line.slice(0, eq), line.slice(eq + 3));
    }
  }
  return all;
}

function compareWithKernel(getfattr: string, mountpoint: string, root: CfsNode, range: FormatVersionRange, label: string): void {
  const layout = layoutImage(prepareTree(root, range));
  const xattrs = kernelXattrs(getfattr, mountpoint);
  const inoOf = new Map<unknown, bigint>();
  const rootLayout = layout.inodes[0]!;
  const stack = [{ path: '', inode: rootLayout.inode }];
  while (stack.length > 0) {
    const { path, inode } = stack.pop()!;
    const where = `${label} ${JSON.stringify(path || '/')}`;
    const full = Buffer.concat([Buffer.from(mountpoint), Buffer.from(path, 'latin1')]);
    const st = lstatSync(full, { bigint: true });
    const type = inode.mode & FileType.mask;
    assert.equal(Number(st.mode), inode.mode & 0xffff, `${where} mode`);
    assert.equal(st.uid, BigInt(inode.uid), `${where} uid`);
    assert.equal(st.gid, BigInt(inode.gid), `${where} gid`);
    assert.equal(st.nlink, BigInt(inode.nlink), `${where} nlink`);
    // Compact inodes are only chosen when their mtime equals the build time, so this holds for both.
    assert.equal(st.mtimeNs, inode.mtimeSec * 1_000_000_000n + BigInt(inode.mtimeNsec), `${where} mtime`);
    const ino = inoOf.get(inode);
    if (ino === undefined) inoOf.set(inode, st.ino);
    else assert.equal(st.ino, ino, `${where} is a hardlink of an earlier name`);
    if (type === FileType.charDevice || type === FileType.blockDevice) assert.equal(st.rdev, BigInt(inode.rdev), `${where} rdev`);
    if (type === FileType.symlink) assert.equal(readlinkSync(full, { encoding: 'buffer' }).toString('latin1'), inode.payload, `${where} target`);
    if (type === FileType.regular) {
      assert.equal(st.size, inode.size, `${where} size`);
      if (inode.content !== null) assert.deepEqual(new Uint8Array(readFileSync(full)), inode.content, `${where} content`);
      // An external file reads as a hole through its chunk map of null addresses.
      else if (inode.size > 0n && inode.size <= 1n << 20n)
        assert.ok(
          readFileSync(full).every((b) => b === 0),
          `${where} reads as zeros`,
        );
    }
    // Linux shows user.* only on regular files and directories; nameless-prefix and ACL values
    // (which the kernel parses) are outside this comparison.
    const visible = (name: string): boolean =>
      name.startsWith('trusted.') || name.startsWith('security.') || (name.startsWith('user.') && (type === FileType.regular || type === FileType.directory));
    const expected = new Map(inode.xattrs.filter((x) => visible(x.name)).map((x) => [x.name, Buffer.from(x.value).toString('hex')]));
    const seen = new Map([...(xattrs.get(path || '/') ?? new Map<string, string>())].filter(([name]) => visible(name)));
    assert.deepEqual(seen, expected, `${where} xattrs`);
    if (inode.entries !== null) {
      const names = readdirSync(full, { encoding: 'buffer' })
        .map((b) => b.toString('latin1'))
        .sort();
      const listed = inode.entries.filter((e) => e.name !== '.' && e.name !== '..');
      assert.deepEqual(names, listed.map((e) => e.name).sort(), `${where} entries`);
      for (const e of listed) stack.push({ path: `${path}/${e.name}`, inode: e.inode });
    }
  }
}

function requireMountable(t: TestContext): string | undefined {
  if (!asRoot(t, 'mounting EROFS images')) return undefined;
  if (!existsSync('/proc/filesystems') || !readFileSync('/proc/filesystems', 'utf8').includes('erofs')) {
    unavailable(t, 'this kernel has no EROFS driver', 'load it (modprobe erofs) or boot a kernel built with CONFIG_EROFS_FS');
    return undefined;
  }
  return peer(t, 'getfattr');
}

test('the kernel reads every vector image as the writer laid it out', (t) => {
  const getfattr = requireMountable(t);
  if (!getfattr) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-kernel-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of readdirSync(vectors)
    .filter((f) => f.endsWith('.dump') && !f.startsWith('should-fail-'))
    .sort()) {
    const versionFile = join(vectors, `${file}.version`);
    const v = existsSync(versionFile) ? Number(readFileSync(versionFile, 'utf8')) : undefined;
    const range = v === undefined ? {} : { minVersion: v, maxVersion: v };
    const tree = parseDump(readFileSync(join(vectors, file)));
    const image = join(dir, `${file}.img`);
    writeFileSync(image, serializeImage(layoutImage(prepareTree(tree, range))));
    if (!withMount(t, dir, image, (mnt) => compareWithKernel(getfattr, mnt, tree, range, file))) return;
  }
});

test('the kernel reads random trees as the writer laid them out', (t) => {
  const getfattr = requireMountable(t);
  if (!getfattr) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-kernel-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const xattrArb = fc.record({
    name: fc.constantFrom('user.a', 'user.b', 'trusted.x', 'trusted.overlay.redirect', 'security.ima'),
    value: fc.oneof(fc.constantFrom(new Uint8Array([1])), fc.uint8Array({ maxLength: 40 })),
  });
  const nodeArb = fc.record({
    kind: fc.constantFrom('dir', 'inline', 'external', 'symlink', 'chardev', 'fifo', 'whiteout', 'hardlink'),
    parent: fc.nat(),
    name: fc.oneof(
      fc.constantFrom('a', 'b', '00', 'ff', '-'),
      fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1')),
    ),
    perm: fc.integer({ min: 0, max: 0o777 }),
    id: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x7ffffffe })),
    mtime: fc.oneof(fc.constant(1_600_000_000n), fc.bigInt({ min: 0n, max: 2n ** 34n })),
    nsec: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 })),
    content: fc.uint8Array({ minLength: 1, maxLength: 5000 }),
    size: fc.bigInt({ min: 1n, max: 1n << 20n }),
    xattrs: fc.uniqueArray(xattrArb, { maxLength: 3, selector: (x) => x.name }),
  });
  const specs = fc.sample(fc.array(nodeArb, { maxLength: 60 }), { numRuns: 10, seed: 77 });
  specs.forEach((nodes, n) => {
    const root = createRoot(createInode({ mode: FileType.directory | 0o755, mtimeSec: 1_600_000_000n }));
    const dirs = [root];
    const files: CfsNode[] = [];
    for (const s of nodes) {
      const parent = dirs[s.parent % dirs.length]!;
      if (s.name.includes('/') || s.name.includes('\0') || s.name === '.' || s.name === '..' || parent.children!.has(s.name)) continue;
      if (s.kind === 'hardlink') {
        if (files.length > 0) addHardlink(parent, s.name, files[s.parent % files.length]!);
        continue;
      }
      const common = { uid: s.id, gid: s.id, mtimeSec: s.mtime, mtimeNsec: s.nsec, xattrs: s.xattrs };
      const inode =
        s.kind === 'dir'
          ? createInode({ ...common, mode: FileType.directory | s.perm })
          : s.kind === 'inline'
            ? createInode({ ...common, mode: FileType.regular | s.perm, size: BigInt(s.content.length), content: s.content })
            : s.kind === 'external'
              ? createInode({ ...common, mode: FileType.regular | s.perm, size: s.size, payload: 'ab/cdef', fsverityDigest: new Uint8Array(32).fill(n) })
              : s.kind === 'symlink'
                ? createInode({ ...common, mode: FileType.symlink | 0o777, payload: s.name, size: BigInt(s.name.length) })
                : s.kind === 'chardev'
                  ? createInode({ ...common, mode: FileType.charDevice | s.perm, rdev: 0x801 })
                  : s.kind === 'fifo'
                    ? createInode({ ...common, mode: FileType.fifo | s.perm })
                    : createInode({ ...common, mode: FileType.charDevice | s.perm, rdev: 0 });
      const node = addChild(parent, s.name, inode);
      (s.kind === 'dir' ? dirs : files).push(node);
    }
    for (const version of [0, 1]) {
      const range = { minVersion: version, maxVersion: version };
      const image = join(dir, `${n}-v${version}.img`);
      writeFileSync(image, serializeImage(layoutImage(prepareTree(root, range))));
      if (!withMount(t, dir, image, (mnt) => compareWithKernel(getfattr, mnt, root, range, `tree ${n} v${version}`))) return;
    }
  });
});

test('mounted as mount.composefs does (EROFS + overlayfs over the object store), files read their objects', (t) => {
  const getfattr = requireMountable(t);
  if (!getfattr) return;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-erofs-overlay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'store');
  const root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  const usr = addChild(root, 'usr', createInode({ mode: FileType.directory | 0o755 }));
  const objects = new Map<string, Uint8Array>();
  for (let i = 0; i < 40; i++) {
    const content = new Uint8Array(1 + ((i * 7919) % 70_000)).map((_, j) => (i * 31 + j) & 0xff);
    const hex = createHash('sha256').update(content).digest('hex');
    mkdirSync(join(store, hex.slice(0, 2)), { recursive: true });
    writeFileSync(join(store, hex.slice(0, 2), hex.slice(2)), content);
    const name = `lib${i}.so`;
    objects.set(name, content);
    addChild(usr, name, createInode({ mode: FileType.regular | 0o644, size: BigInt(content.length), payload: `${hex.slice(0, 2)}/${hex.slice(2)}` }));
  }
  addChild(root, 'motd', createInode({ mode: FileType.regular | 0o644, size: 6n, content: new TextEncoder().encode('hello\n') }));
  const image = join(dir, 'image.cfs');
  writeFileSync(image, serializeImage(layoutImage(prepareTree(root))));
  withMount(t, dir, image, (lower) => {
    const merged = mkdtempSync(join(dir, 'merged-'));
    // The options libcomposefs' lcfs-mount.c passes; '::' makes the store a data-only layer.
    const mounted = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,metacopy=on,redirect_dir=on,lowerdir=${lower}::${store}`, merged], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      unavailable(t, `overlayfs data-only lower layers unavailable (${mounted.stderr.trim()})`, 'they need Linux 6.5 or later');
      return;
    }
    try {
      // The "00".."ff" whiteouts hide the store's fan-out directories: only the tree shows.
      assert.deepEqual(readdirSync(merged).sort(), ['motd', 'usr']);
      assert.equal(readFileSync(join(merged, 'motd'), 'utf8'), 'hello\n');
      for (const [name, content] of objects) assert.deepEqual(new Uint8Array(readFileSync(join(merged, 'usr', name))), content, name);
    } finally {
      execFileSync('umount', [merged]);
    }
  });
});
