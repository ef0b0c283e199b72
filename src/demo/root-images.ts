// The composefs root images of the demo: small generated trees whose files are pinned by
// fs-verity digests. The image's own fs-verity digest goes on the kernel command line
// (`composefs=<digest>`), so PCR 12 commits to every file of the root file system.
// Pure: trees and EROFS bytes are computed in memory; publishing objects to a store is the caller's.
import { toHex, utf8 } from '../bytes/index.ts';
import {
  addChild,
  byteStringFromBytes,
  composefsDigest,
  computeLinkCounts,
  createInode,
  createRoot,
  fsverityDigest,
  payloadForDigest,
  type CfsNode,
} from '../composefs/index.ts';
import { writeImage } from '../composefs/erofs/index.ts';
import { releaseContent } from './seeded-random.ts';

/** 2026-01-01T00:00:00Z: fixed mtimes keep images reproducible (as mkcomposefs --use-epoch does with 0). */
const IMAGE_MTIME = 1_767_225_600n;
/** composefs inlines files up to 64 bytes (LCFS_RECOMMENDED_INLINE_CONTENT_MAX); larger ones live in the object store. */
const INLINE_MAX = 64;

const Mode = { directory: 0o040755, executable: 0o100755, file: 0o100644, symlink: 0o120777 } as const;

export interface RootFile {
  readonly path: string;
  readonly kind: 'file' | 'executable' | 'symlink';
  /** File content, or the symlink target. */
  readonly content: Uint8Array;
}

export interface RootImage {
  /** The release name (`v1`, `v2`) or what the image is (`v1+debug-shell`). */
  readonly name: string;
  readonly tree: CfsNode;
  /** Contents of the files kept outside the image, by fs-verity digest (hex): what a store must hold. */
  readonly objects: ReadonlyMap<string, Uint8Array>;
  /** The composefs EROFS image, byte-identical to what mkcomposefs writes for the tree. */
  readonly image: Uint8Array;
  /** fs-verity digest of the image (hex): the `composefs=` value on the kernel command line. */
  readonly digest: string;
}

function generatedBinary(path: string, release: string, size: number): Uint8Array {
  const bytes = releaseContent(`${path}@${release}`, size);
  bytes.set([0x7f, 0x45, 0x4c, 0x46]); // an ELF magic, so `file` on the store objects looks right
  return bytes;
}

/** The files of one release of the demo node OS. */
export function releaseFiles(release: string, versionId: number): RootFile[] {
  const osRelease = `NAME="Vouch Node"\nID=vouch-node\nVERSION_ID=${versionId}\nPRETTY_NAME="Vouch Node ${versionId}"\n`;
  return [
    { path: '/usr/lib/os-release', kind: 'file', content: utf8(osRelease) },
    { path: '/etc/os-release', kind: 'symlink', content: utf8('../usr/lib/os-release') },
    { path: '/etc/hostname', kind: 'file', content: utf8('vouch-node\n') },
    { path: '/usr/bin/kubelet', kind: 'executable', content: generatedBinary('/usr/bin/kubelet', release, 48 * 1024) },
    { path: '/usr/bin/containerd', kind: 'executable', content: generatedBinary('/usr/bin/containerd', release, 32 * 1024) },
    { path: '/usr/bin/vouch-agent', kind: 'executable', content: generatedBinary('/usr/bin/vouch-agent', release, 16 * 1024) },
  ];
}

/** A file an attacker adds to a release: the image then has a digest no reference knows. */
export function debugShellFile(): RootFile {
  return { path: '/usr/local/bin/debug-shell', kind: 'executable', content: generatedBinary('/usr/local/bin/debug-shell', 'unreleased', 8 * 1024) };
}

function directoryFor(root: CfsNode, path: string): CfsNode {
  let dir = root;
  for (const name of path.split('/').filter(Boolean).slice(0, -1)) {
    dir = dir.children!.get(name) ?? addChild(dir, name, createInode({ mode: Mode.directory, mtimeSec: IMAGE_MTIME }));
  }
  return dir;
}

/** Builds the tree, its EROFS image and digest for a list of files. */
export function buildRootImage(name: string, files: readonly RootFile[]): RootImage {
  const root = createRoot(createInode({ mode: Mode.directory, mtimeSec: IMAGE_MTIME }));
  const objects = new Map<string, Uint8Array>();
  for (const file of files) {
    const base = { mode: Mode[file.kind], size: BigInt(file.content.length), mtimeSec: IMAGE_MTIME };
    let inode;
    if (file.kind === 'symlink') {
      inode = createInode({ ...base, payload: byteStringFromBytes(file.content) });
    } else if (file.content.length <= INLINE_MAX) {
      inode = createInode({ ...base, content: file.content });
    } else {
      const digest = fsverityDigest(file.content);
      const hex = toHex(digest);
      objects.set(hex, file.content);
      inode = createInode({ ...base, payload: payloadForDigest(hex), fsverityDigest: digest });
    }
    addChild(directoryFor(root, file.path), file.path.split('/').pop()!, inode);
  }
  computeLinkCounts(root);
  const image = writeImage(root);
  return { name, tree: root, objects, image, digest: toHex(composefsDigest(image)) };
}
