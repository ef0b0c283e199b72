// Random composefs trees for the property and differential tests: every kind of inode, odd
// names, xattrs, hardlinks, extreme sizes and times, and whiteouts (which raise the format to 1).
import fc from 'fast-check';
import { addChild, addHardlink, createInode, createRoot, walkTree, nodePath, FileType, type CfsNode, type CfsInode, type CfsXattr } from './helpers.ts';

const kinds = ['dir', 'inline', 'external', 'empty', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket', 'whiteout', 'hardlink'] as const;
type Kind = (typeof kinds)[number];

// Names that the image format itself gives meaning to (whiteout markers, opaque) are left out:
// composefs cannot tell them apart from its own on the way back, exactly like the C reader.
const xattrNames = [
  'user.foo',
  'user.a',
  'security.selinux',
  'security.ima',
  'trusted.overlay.redirect',
  'trusted.overlay.metacopy',
  'trusted.other',
  'system.posix_acl_access',
  'system.posix_acl_default',
  'system.posix_acl_accessX',
  'lustre.x',
  'plainname',
  'user.',
];

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

const nameArb = fc
  .oneof(
    fc.constantFrom('a', 'b', 'file', '-', ' x', '00', '0a', 'ff', '\xe9t\xe9'),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map(latin1),
    fc.uint8Array({ minLength: 200, maxLength: 255 }).map(latin1),
  )
  .filter((n) => n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0'));

const xattrArb: fc.Arbitrary<CfsXattr> = fc.record({
  name: fc.constantFrom(...xattrNames),
  value: fc.oneof(fc.constantFrom(new Uint8Array(0), new Uint8Array([0x78])), fc.uint8Array({ maxLength: 64 })),
});

const opArb = fc.record({
  kind: fc.constantFrom<Kind>(...kinds),
  parent: fc.nat(),
  target: fc.nat(),
  name: nameArb,
  perm: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.constantFrom(0, 1000), fc.nat({ max: 0xffffffff })),
  gid: fc.oneof(fc.constantFrom(0, 1000), fc.nat({ max: 0xffffffff })),
  nlink: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 0x1ffff })),
  mtimeSec: fc.oneof(fc.constantFrom(0n, 1633950376n), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })),
  mtimeNsec: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 })),
  rdev: fc.integer({ min: 1, max: 0xffffffff }),
  content: fc.uint8Array({ minLength: 1, maxLength: 5000 }),
  externalSize: fc.bigInt({ min: 1n, max: 2n ** 45n }),
  payload: fc.option(
    fc
      .uint8Array({ minLength: 1, maxLength: 120 })
      .map(latin1)
      .filter((s) => !s.includes('\0')),
    { nil: null },
  ),
  digest: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
  symlinkTarget: fc
    .oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ minLength: 3000, maxLength: 4095 }))
    .map(latin1)
    .filter((s) => !s.includes('\0')),
  xattrs: fc.uniqueArray(xattrArb, { maxLength: 4, selector: (x) => x.name }),
});

export const treeArb = fc.record({
  root: fc.record({
    perm: fc.integer({ min: 0, max: 0o7777 }),
    mtimeSec: fc.constantFrom(0n, 1633950376n),
    xattrs: fc.uniqueArray(xattrArb, { maxLength: 3, selector: (x) => x.name }),
  }),
  ops: fc.array(opArb, { maxLength: 40 }),
  version: fc.constantFrom(0, 1),
});

export type TreeSpec = typeof treeArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * `extractable` keeps a tree real files can hold: external files small (an extraction writes
 * their holes out) and no uid/gid 0xffffffff (chown's "leave unchanged").
 */
export function buildTree(spec: TreeSpec, extractable = false): CfsNode {
  const root = createRoot(createInode({ mode: FileType.directory | spec.root.perm, mtimeSec: spec.root.mtimeSec, xattrs: spec.root.xattrs }));
  const dirs: CfsNode[] = [root];
  const files: CfsNode[] = [];
  for (const op of spec.ops) {
    const parent = dirs[op.parent % dirs.length]!;
    if (parent.children!.has(op.name)) continue;
    if (op.kind === 'hardlink') {
      if (files.length > 0) addHardlink(parent, op.name, files[op.target % files.length]!);
      continue;
    }
    const id = (n: number): number => (extractable ? n % 0x7fffffff : n);
    const common = { uid: id(op.uid), gid: id(op.gid), nlink: op.nlink, mtimeSec: op.mtimeSec, mtimeNsec: op.mtimeNsec, xattrs: op.xattrs };
    let inode: CfsInode;
    switch (op.kind) {
      case 'dir':
        inode = createInode({ ...common, mode: FileType.directory | op.perm });
        break;
      case 'inline':
        inode = createInode({ ...common, mode: FileType.regular | op.perm, size: BigInt(op.content.length), content: op.content });
        break;
      case 'external':
        inode = createInode({
          ...common,
          mode: FileType.regular | op.perm,
          size: extractable ? 1n + (op.externalSize % 65536n) : op.externalSize,
          payload: op.payload,
          fsverityDigest: op.digest,
        });
        break;
      case 'empty':
        inode = createInode({ ...common, mode: FileType.regular | op.perm });
        break;
      case 'symlink':
        inode = createInode({ ...common, mode: FileType.symlink | 0o777, size: BigInt(op.symlinkTarget.length), payload: op.symlinkTarget });
        break;
      case 'chardev':
        inode = createInode({ ...common, mode: FileType.charDevice | op.perm, rdev: op.rdev });
        break;
      case 'blockdev':
        inode = createInode({ ...common, mode: FileType.blockDevice | op.perm, rdev: op.rdev });
        break;
      case 'fifo':
        inode = createInode({ ...common, mode: FileType.fifo | op.perm });
        break;
      case 'socket':
        inode = createInode({ ...common, mode: FileType.socket | op.perm });
        break;
      case 'whiteout':
        inode = createInode({ ...common, mode: FileType.charDevice | op.perm, rdev: 0 });
        break;
    }
    const node = addChild(parent, op.name, inode);
    (op.kind === 'dir' ? dirs : files).push(node);
  }
  return root;
}

export const isWhiteout = (i: CfsInode): boolean => (i.mode & FileType.mask) === FileType.charDevice && i.rdev === 0;
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

/**
 * The tree as an image keeps it: parents before children in byte order, hardlinks named by the
 * first path that reaches the inode, directory link counts 2 + subdirectories, directory sizes
 * dropped, xattrs in name order; `opaqueMarks` adds what format 1 writes on a directory holding a
 * whiteout (read back as ordinary xattrs, as the C reader does).
 */
export function canonical(root: CfsNode, opaqueMarks: boolean): unknown[] {
  const firstPath = new Map<CfsInode, string>();
  const out: unknown[] = [];
  for (const node of walkTree(root)) {
    const path = nodePath(node);
    const seen = firstPath.get(node.inode);
    if (seen !== undefined) {
      out.push({ path, linkTo: seen });
      continue;
    }
    firstPath.set(node.inode, path);
    const i = node.inode;
    const type = i.mode & FileType.mask;
    const kids = node.children ? [...node.children.values()] : [];
    const xattrs = new Map(i.xattrs.map((x) => [x.name, hex(x.value)]));
    if (opaqueMarks && kids.some((k) => k.hardlinkTarget === null && isWhiteout(k.inode))) {
      xattrs.set('trusted.overlay.opaque', '78').set('user.overlay.opaque', '78');
    }
    const external = type === FileType.regular && i.size > 0n && i.content === null;
    out.push({
      path,
      mode: i.mode,
      nlink: type === FileType.directory ? 2 + kids.filter((k) => k.hardlinkTarget === null && k.children !== null).length : i.nlink,
      uid: i.uid,
      gid: i.gid,
      rdev: type === FileType.charDevice || type === FileType.blockDevice ? i.rdev : 0,
      size: type === FileType.directory || isWhiteout(i) ? null : i.size,
      mtime: `${i.mtimeSec}.${i.mtimeNsec}`,
      payload: type === FileType.symlink || external ? i.payload || null : null,
      content: hex(i.content && i.content.length > 0 ? i.content : null),
      digest: external ? hex(i.fsverityDigest) : null,
      xattrs: [...xattrs].map(([name, value]) => ({ name, value })).sort(byName),
    });
  }
  return out;
}
