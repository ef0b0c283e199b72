/**
 * Verification of a composefs tree (read from an image or a dump): every object it references
 * must be in the store with exactly the fs-verity digest the tree pins (a tampered object is
 * found by recomputing, never by trusting its name), and, given a file tree (a mounted image or
 * an unpacked root), every file must match in type, metadata, xattrs and content.
 */
import { escapeDumpPath } from './dump.ts';
import { OVERLAY_OPAQUE, OVERLAY_USERXATTR_OPAQUE } from './erofs/format.ts';
import { fsverityDigest } from './fsverity/index.ts';
import { digestFromPayload, type ObjectStore } from './store.ts';
import { type CfsInode, type CfsNode, type CfsXattr, FileType, fileTypeOf, nodePath, walkTree } from './tree.ts';

export interface ObjectProblem {
  /** Escaped path of (one of) the files that reference the object. */
  readonly path: string;
  readonly payload: string;
  /**
   * missing: no object file; corrupt: its content has another digest; digest-mismatch: the tree
   * pins a digest other than the one its object name claims; unreadable: the object could not
   * be read to the end (permissions, I/O error, or it changed while being hashed).
   */
  readonly problem: 'missing' | 'corrupt' | 'digest-mismatch' | 'unreadable';
  /** Digest the tree pins. */
  readonly expected: string;
  /** Digest of the object's content, when it could be read. */
  readonly actual?: string;
  /** Why an unreadable object could not be read. */
  readonly reason?: string;
}

export interface TreeChange {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'modified';
  /** For `modified`: which of `diffFields` differ. */
  readonly fields?: DiffField[];
}

/** What diffTrees compares for a path present on both sides. */
export const diffFields = ['type', 'mode', 'uid', 'gid', 'rdev', 'size', 'mtime', 'nlink', 'target', 'content', 'xattrs'] as const;
export type DiffField = (typeof diffFields)[number];

export interface DiffOptions {
  /** Fields not to compare, e.g. mtime for a tree copied without preserving times. */
  readonly ignore?: readonly DiffField[];
  /**
   * The expected tree was read from a format-1 image, whose writer marks every directory holding
   * a whiteout opaque (trusted.overlay.opaque=x and user.overlay.opaque=x, replacing any value the
   * source had) and so stores marks no source tree has: such an actual directory is compared with
   * those marks set as the writer sets them. Anywhere else an opaque mark stays a difference.
   */
  readonly whiteoutOpaqueMarks?: boolean;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The digest a regular file's content must have: the pinned one, else the one its object name claims. */
function pinnedDigest(inode: CfsInode): string | undefined {
  if (inode.fsverityDigest) return hex(inode.fsverityDigest);
  return inode.payload ? digestFromPayload(inode.payload) : undefined;
}

/**
 * Checks every external regular file's object: present, and its recomputed fs-verity digest
 * equal to the digest the tree pins (and to the one its name claims).
 */
export async function verifyObjects(
  root: CfsNode,
  store: ObjectStore,
  options: { concurrency?: number } = {},
): Promise<{ checked: number; problems: ObjectProblem[] }> {
  const byPayload = new Map<string, { path: string; inode: CfsInode }>();
  for (const node of walkTree(root)) {
    const inode = node.inode;
    if (fileTypeOf(inode.mode) !== FileType.regular || inode.content !== null || inode.payload === null || node.hardlinkTarget) continue;
    if (!byPayload.has(inode.payload)) byPayload.set(inode.payload, { path: escapeDumpPath(nodePath(node)), inode });
  }
  const problems: ObjectProblem[] = [];
  const work = [...byPayload.entries()];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < work.length) {
      const [payload, { path, inode }] = work[next++]!;
      const expected = pinnedDigest(inode) ?? '';
      const named = digestFromPayload(payload);
      if (named !== undefined && named !== expected) {
        problems.push({ path, payload, problem: 'digest-mismatch', expected });
        continue;
      }
      const digestName = named ?? expected;
      try {
        if (!/^[0-9a-f]{64}$/.test(digestName) || !(await store.has(digestName))) {
          problems.push({ path, payload, problem: 'missing', expected });
          continue;
        }
        const { actual } = await store.verifyObject(digestName);
        if (actual !== expected) problems.push({ path, payload, problem: 'corrupt', expected, actual });
      } catch (e) {
        // One bad object must not hide the report on all the others.
        problems.push({ path, payload, problem: 'unreadable', expected, reason: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, work.length) }, lane));
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { checked: work.length, problems };
}

/** What a regular file's content hashes to, however it is stored (inline or external). */
function contentDigest(inode: CfsInode): string | undefined {
  if (fileTypeOf(inode.mode) !== FileType.regular || inode.size === 0n) return undefined;
  if (inode.content) return hex(fsverityDigest(inode.content));
  return pinnedDigest(inode);
}

function xattrKey(xattrs: readonly CfsXattr[]): string {
  return xattrs
    .map((x) => `${x.name}=${hex(x.value)}`)
    .sort()
    .join('\n');
}

/** An overlay whiteout: a character device 0:0. */
function isWhiteout(node: CfsNode): boolean {
  return fileTypeOf(node.inode.mode) === FileType.charDevice && node.inode.rdev === 0;
}

const opaqueMark = new Uint8Array([0x78]); // 'x'

/** A directory's xattrs as the format-1 writer stores them: opaque marks set when it holds a whiteout. */
function withWhiteoutMarks(node: CfsNode): readonly CfsXattr[] {
  if (!node.children || ![...node.children.values()].some((c) => !c.hardlinkTarget && isWhiteout(c))) return node.inode.xattrs;
  const marks = [OVERLAY_OPAQUE, OVERLAY_USERXATTR_OPAQUE];
  return [...node.inode.xattrs.filter((x) => !marks.includes(x.name)), ...marks.map((name) => ({ name, value: opaqueMark }))];
}

function differingFields(a: CfsInode, b: CfsInode, bXattrs: readonly CfsXattr[], ignore: ReadonlySet<DiffField>): DiffField[] {
  const type = fileTypeOf(a.mode);
  const checks: [DiffField, boolean][] = [
    ['type', type === fileTypeOf(b.mode)],
    ['mode', (a.mode & 0o7777) === (b.mode & 0o7777)],
    ['uid', a.uid === b.uid],
    ['gid', a.gid === b.gid],
    ['rdev', a.rdev === b.rdev],
    // Directory sizes are file-system artefacts; composefs does not keep them.
    ['size', type === FileType.directory || a.size === b.size],
    ['mtime', a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec],
    ['nlink', a.nlink === b.nlink],
    ['target', type !== FileType.symlink || a.payload === b.payload],
    ['content', contentDigest(a) === contentDigest(b)],
    ['xattrs', xattrKey(a.xattrs) === xattrKey(bXattrs)],
  ];
  return checks.filter(([name, same]) => !same && !ignore.has(name)).map(([name]) => name);
}

/**
 * True when some file of the tree has more than one name. A directory read to compare with such
 * a tree must keep hardlinks (`BuildOptions.hardlinks`); mkcomposefs' images never have any.
 */
export function hasHardlinks(root: CfsNode): boolean {
  for (const node of walkTree(root)) if (node.hardlinkTarget || (!node.children && node.inode.nlink > 1)) return true;
  return false;
}

/** Lists every path added, removed or modified going from `expected` to `actual`, in dump order. */
export function diffTrees(expected: CfsNode, actual: CfsNode, options: DiffOptions = {}): TreeChange[] {
  const ignore = new Set<DiffField>(options.ignore ?? []);
  const changes: TreeChange[] = [];
  const visit = (e: CfsNode | undefined, a: CfsNode | undefined, path: string): void => {
    if (!a) {
      changes.push({ path: escapeDumpPath(path), change: 'removed' });
      return;
    }
    if (!e) {
      changes.push({ path: escapeDumpPath(path), change: 'added' });
      return;
    }
    const fields = differingFields(e.inode, a.inode, options.whiteoutOpaqueMarks ? withWhiteoutMarks(a) : a.inode.xattrs, ignore);
    if (fields.length > 0) changes.push({ path: escapeDumpPath(path), change: 'modified', fields });
    if (!e.children && !a.children) return;
    const names = new Set([...(e.children?.keys() ?? []), ...(a.children?.keys() ?? [])]);
    for (const name of [...names].sort()) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      // Below a directory that became a file (or back) everything counts as added or removed.
      visit(e.children?.get(name), a.children?.get(name), child);
    }
  };
  visit(expected, actual, '/');
  return changes;
}
