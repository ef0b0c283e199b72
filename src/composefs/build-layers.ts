/**
 * Builds a composefs tree from container image layers: tar changesets applied in order, with
 * OCI whiteouts (image-spec layer.md "Whiteouts"): `.wh.NAME` deletes NAME from lower layers,
 * `.wh..wh..opq` makes its directory opaque (hides everything lower layers put there). Entries of
 * the same layer are never hidden by that layer's own whiteouts. Regular file data streams into
 * the object store; small files are inlined.
 */
import { ComposefsError } from './errors.ts';
import { FsVerityHasher } from './fsverity/index.ts';
import { payloadForDigest, type ObjectStore } from './store.ts';
import { readTar, TarType, type TarEntry } from './tar.ts';
import { computeLinkCounts, defaultInlineMax, type BuildStats } from './build-dir.ts';
import {
  type ByteString,
  type CfsInode,
  type CfsNode,
  FileType,
  addChild,
  addHardlink,
  createInode,
  createRoot,
  setXattr,
  validateTree,
  walkTree,
  nodePath,
} from './tree.ts';

export interface LayerBuildOptions {
  /** Where file contents go; it stays leased against gc until the caller, having written the image, calls `release()`. */
  readonly store?: ObjectStore;
  readonly inlineMax?: number;
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
/** aufs bookkeeping names (`.wh..wh.plnk`, `.wh..wh.aufs`) that OCI reserves; they carry no files. */
const aufsMetaPrefix = '.wh..wh.';

const tarFileType: Record<TarType, number> = {
  [TarType.regular]: FileType.regular,
  [TarType.contiguous]: FileType.regular,
  [TarType.hardlink]: FileType.regular,
  [TarType.symlink]: FileType.symlink,
  [TarType.charDevice]: FileType.charDevice,
  [TarType.blockDevice]: FileType.blockDevice,
  [TarType.directory]: FileType.directory,
  [TarType.fifo]: FileType.fifo,
};

/** Linux new_encode_dev / glibc makedev: how st_rdev packs major and minor. */
export function makeDev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

function bad(message: string): never {
  throw new ComposefsError('ERR_COMPOSEFS_TAR_INVALID', message);
}

/** Splits a member path into components; rejects `..` (meaningless in a changeset, a classic escape). */
export function tarPathComponents(path: ByteString): ByteString[] {
  const parts: ByteString[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') bad(`unsafe path ${JSON.stringify(path)}: contains ..`);
    if (part.includes('\0')) bad(`path ${JSON.stringify(path)} contains NUL`);
    parts.push(part);
  }
  return parts;
}

/** A tree under construction across layers. */
export class LayerTreeBuilder {
  readonly root: CfsNode;
  readonly stats: BuildStats = { files: 0, directories: 1, inlined: 0, externalBytes: 0, objectsAdded: 0, digestsReused: 0, hardlinks: 0 };
  private readonly options: LayerBuildOptions;
  /** Hardlink names of each target, so removing a target can hand its inode to a surviving name. */
  private readonly links = new Map<CfsNode, Set<CfsNode>>();
  /** Nodes the current layer created: its own whiteouts must not hide them. */
  private addedThisLayer = new Set<CfsNode>();

  constructor(options: LayerBuildOptions = {}) {
    this.options = options;
    this.root = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  }

  private lookup(parts: readonly ByteString[]): CfsNode | undefined {
    let node: CfsNode | undefined = this.root;
    for (const p of parts) {
      node = node.children?.get(p);
      if (!node) return undefined;
    }
    return node;
  }

  /** The parent directory of `parts`, creating missing directories (0755, root-owned) as runtimes do. */
  private ensureParent(parts: readonly ByteString[]): CfsNode {
    let node = this.root;
    for (const p of parts.slice(0, -1)) {
      let next = node.children!.get(p);
      if (!next) {
        next = addChild(node, p, createInode({ mode: FileType.directory | 0o755 }));
        this.addedThisLayer.add(next);
        this.stats.directories++;
      } else if (!next.children) {
        bad(`${nodePath(next)} is not a directory but the layer puts ${JSON.stringify(parts.join('/'))} inside it`);
      }
      node = next;
    }
    return node;
  }

  /** Detaches a node and its subtree; a hardlink target still named elsewhere passes its inode on. */
  private remove(node: CfsNode): void {
    const doomed = new Set<CfsNode>(walkTree(node));
    node.parent!.children!.delete(node.name);
    for (const n of doomed) {
      if (n.hardlinkTarget) this.links.get(n.hardlinkTarget)?.delete(n);
    }
    for (const n of doomed) {
      const survivors = [...(this.links.get(n) ?? [])].filter((l) => !doomed.has(l));
      this.links.delete(n);
      const [heir, ...others] = survivors;
      if (!heir) continue;
      heir.parent!.children!.delete(heir.name);
      const promoted = addChild(heir.parent!, heir.name, n.inode);
      const set = new Set<CfsNode>();
      for (const o of others) {
        o.parent!.children!.delete(o.name);
        set.add(addHardlink(o.parent!, o.name, promoted));
      }
      if (set.size > 0) this.links.set(promoted, set);
    }
  }

  /**
   * An opaque directory shows only this layer's entries: everything lower layers put below it
   * goes, including the lower contents of subdirectories this layer re-declared.
   */
  private hideLower(dir: CfsNode): void {
    for (const child of [...(dir.children?.values() ?? [])]) {
      if (!this.addedThisLayer.has(child)) this.remove(child);
      else if (child.children) this.hideLower(child);
    }
  }

  private async readContent(entry: TarEntry, inode: CfsInode): Promise<void> {
    const inlineMax = this.options.inlineMax ?? defaultInlineMax;
    if (entry.size === 0) return;
    if (entry.size <= inlineMax) {
      const chunks: Uint8Array[] = [];
      for await (const c of entry.data) chunks.push(c);
      inode.content = new Uint8Array(Buffer.concat(chunks));
      this.stats.inlined++;
      return;
    }
    let digest: string;
    if (this.options.store) {
      const writer = await this.options.store.createWriter();
      try {
        for await (const c of entry.data) await writer.write(c);
      } catch (e) {
        await writer.abort();
        throw e;
      }
      const stored = await writer.finish();
      if (stored.added) this.stats.objectsAdded++;
      digest = stored.digest;
    } else {
      const hasher = new FsVerityHasher();
      for await (const c of entry.data) hasher.update(c);
      digest = Buffer.from(hasher.digest()).toString('hex');
    }
    inode.fsverityDigest = new Uint8Array(Buffer.from(digest, 'hex'));
    inode.payload = payloadForDigest(digest);
    this.stats.externalBytes += entry.size;
  }

  private async applyEntry(entry: TarEntry): Promise<void> {
    const parts = tarPathComponents(entry.path);
    const base = parts[parts.length - 1];
    if (base !== undefined && base.startsWith(whiteoutPrefix)) {
      const dir = this.lookup(parts.slice(0, -1));
      if (base === opaqueMarker) {
        if (dir) this.hideLower(dir);
      } else if (!base.startsWith(aufsMetaPrefix)) {
        const victim = dir?.children?.get(base.slice(whiteoutPrefix.length));
        if (victim && !this.addedThisLayer.has(victim)) this.remove(victim);
      }
      return;
    }
    const type = tarFileType[entry.type];
    const inode = createInode({
      mode: type | entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      rdev: type === FileType.charDevice || type === FileType.blockDevice ? makeDev(entry.devMajor, entry.devMinor) : 0,
      size: type === FileType.regular ? BigInt(entry.size) : 0n,
      mtimeSec: entry.mtimeSec,
      mtimeNsec: entry.mtimeNsec,
    });
    for (const x of entry.xattrs) setXattr(inode, x.name, x.value);

    if (parts.length === 0) {
      // "./" is the root directory itself: it carries the root's metadata.
      if (type !== FileType.directory) bad('the archive root is not a directory');
      Object.assign(this.root.inode, { ...inode, nlink: this.root.inode.nlink });
      return;
    }
    const parent = this.ensureParent(parts);
    const existing = parent.children!.get(base!);
    if (existing && existing.children && type === FileType.directory && entry.type !== TarType.hardlink) {
      // A directory over a directory merges: new metadata, children kept.
      Object.assign(existing.inode, { ...inode, nlink: existing.inode.nlink });
      this.addedThisLayer.add(existing);
      return;
    }
    if (entry.type === TarType.hardlink) {
      const target = this.lookup(tarPathComponents(entry.linkname));
      if (!target) bad(`hardlink ${JSON.stringify(entry.path)} to missing ${JSON.stringify(entry.linkname)}`);
      if (target.children) bad(`hardlink ${JSON.stringify(entry.path)} to directory ${JSON.stringify(entry.linkname)}`);
      if (target === existing) return; // a link onto itself changes nothing
      if (existing) this.remove(existing);
      const real = target.hardlinkTarget ?? target;
      const link = addHardlink(parent, base!, real);
      if (!this.links.has(real)) this.links.set(real, new Set());
      this.links.get(real)!.add(link);
      this.addedThisLayer.add(link);
      this.stats.hardlinks++;
      return;
    }
    if (existing) this.remove(existing);
    if (type === FileType.symlink) {
      if (entry.linkname === '') bad(`symlink ${JSON.stringify(entry.path)} without a target`);
      inode.payload = entry.linkname;
      inode.size = BigInt(entry.linkname.length);
    }
    if (type === FileType.regular) {
      await this.readContent(entry, inode);
      this.stats.files++;
    }
    if (type === FileType.directory) this.stats.directories++;
    this.addedThisLayer.add(addChild(parent, base!, inode));
  }

  /** Applies one uncompressed tar layer stream. */
  async applyLayer(stream: AsyncIterable<Uint8Array>): Promise<void> {
    this.addedThisLayer = new Set();
    for await (const entry of readTar(stream)) await this.applyEntry(entry);
  }

  /** The finished tree: link counts computed, every inode validated, stored objects durable. */
  async finish(): Promise<CfsNode> {
    await this.options.store?.sync();
    computeLinkCounts(this.root);
    validateTree(this.root);
    return this.root;
  }
}
