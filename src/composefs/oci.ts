/**
 * OCI image layouts (image-spec image-layout.md): `oci-layout`, `index.json`, blobs by digest.
 * Picks a manifest (by `org.opencontainers.image.ref.name`, else the only one, else the one for
 * linux/amd64 in a nested index), then streams each layer blob through a SHA-256 check against
 * its descriptor and the right decompressor into the layer builder. A blob whose bytes do not
 * hash to its digest is never applied past the point it is detected: the build fails.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { ComposefsError } from './errors.ts';
import { LayerTreeBuilder, type LayerBuildOptions } from './build-layers.ts';
import type { BuildStats } from './build-dir.ts';
import type { CfsNode } from './tree.ts';

export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
  readonly platform?: { architecture?: string; os?: string };
}

/** index.json and manifests are small; a bigger one is not a manifest. */
const maxManifestBytes = 4 << 20;
const refAnnotation = 'org.opencontainers.image.ref.name';

const layerCompression: Record<string, 'none' | 'gzip' | 'zstd'> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
};

const manifestTypes = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);
const indexTypes = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new ComposefsError('ERR_COMPOSEFS_OCI_INVALID', message, details);
}

function blobPath(layout: string, digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) bad(`unsupported or malformed digest ${JSON.stringify(digest)} (sha256:<64 hex> expected)`);
  return join(layout, 'blobs', 'sha256', m[1]!);
}

function asDescriptor(value: unknown, where: string): OciDescriptor {
  const d = value as Partial<OciDescriptor> | null;
  if (!d || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    bad(`${where}: not a descriptor {mediaType, digest, size}`);
  }
  return d as OciDescriptor;
}

/** Reads a small JSON blob and checks it against its descriptor's digest and size. */
async function readJsonBlob(layout: string, d: OciDescriptor): Promise<unknown> {
  if (d.size > maxManifestBytes) bad(`${d.digest}: ${d.size}-byte manifest exceeds ${maxManifestBytes}`);
  const path = blobPath(layout, d.digest);
  const unreadable = (e: unknown): never => bad(`blob ${d.digest} unreadable: ${(e as Error).message}`);
  // Size first: a blob far larger than its descriptor says is refused before it is read into memory.
  const onDisk = (await stat(path).catch(unreadable)).size;
  if (onDisk !== d.size) bad(`blob ${d.digest} has ${onDisk} bytes, descriptor says ${d.size}`);
  const bytes = await readFile(path).catch(unreadable);
  if (bytes.length !== d.size) bad(`blob ${d.digest} has ${bytes.length} bytes, descriptor says ${d.size}`);
  const actual = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  if (actual !== d.digest) bad(`blob ${d.digest} content hashes to ${actual}`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return bad(`blob ${d.digest} is not JSON`);
  }
}

/** The layer descriptors of the chosen image manifest, lowest layer first. */
export async function readOciLayers(layout: string, ref?: string): Promise<OciDescriptor[]> {
  const markerText = await readFile(join(layout, 'oci-layout'), 'utf8').catch(() => bad(`${layout} is not an OCI image layout (no oci-layout file)`));
  const marker = JSON.parse(markerText) as { imageLayoutVersion?: string };
  if (marker.imageLayoutVersion !== '1.0.0') bad(`unsupported imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)}`);
  const indexText = await readFile(join(layout, 'index.json'), 'utf8').catch(() => bad(`${layout}/index.json missing`));
  let candidates = ((JSON.parse(indexText) as { manifests?: unknown[] }).manifests ?? []).map((m, i) => asDescriptor(m, `index.json manifests[${i}]`));
  if (ref !== undefined) candidates = candidates.filter((d) => d.annotations?.[refAnnotation] === ref);
  if (candidates.length !== 1)
    bad(
      ref !== undefined
        ? `no single manifest named ${JSON.stringify(ref)} in index.json (found ${candidates.length})`
        : `index.json lists ${candidates.length} manifests: name one with --ref`,
    );
  let chosen = candidates[0]!;
  for (let depth = 0; indexTypes.has(chosen.mediaType); depth++) {
    if (depth > 4) bad('image indexes nested too deep');
    const nested = ((await readJsonBlob(layout, chosen)) as { manifests?: unknown[] }).manifests ?? [];
    const list = nested.map((m, i) => asDescriptor(m, `${chosen.digest} manifests[${i}]`));
    chosen = list.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64') ?? list[0] ?? bad(`index ${chosen.digest} lists no manifests`);
  }
  if (!manifestTypes.has(chosen.mediaType)) bad(`unsupported manifest media type ${chosen.mediaType}`);
  const manifest = (await readJsonBlob(layout, chosen)) as { layers?: unknown[] };
  if (!Array.isArray(manifest.layers)) bad(`manifest ${chosen.digest} has no layers`);
  return manifest.layers.map((l, i) => asDescriptor(l, `manifest layers[${i}]`));
}

/** Streams a blob, failing if its bytes do not match the descriptor's size and SHA-256. */
async function* verifiedBlob(layout: string, d: OciDescriptor): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(blobPath(layout, d.digest)) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > d.size) bad(`layer ${d.digest} is longer than its descriptor's ${d.size} bytes`);
    hash.update(chunk);
    yield chunk;
  }
  const actual = 'sha256:' + hash.digest('hex');
  if (size !== d.size || actual !== d.digest) bad(`layer blob ${d.digest} does not match its descriptor (got ${actual}, ${size} bytes)`);
}

/** Decompresses by magic number: gzip (1f 8b), zstd (28 b5 2f fd), else plain tar. */
export function decompressed(source: AsyncIterable<Uint8Array>, compression: 'none' | 'gzip' | 'zstd' | 'auto' = 'auto'): AsyncIterable<Uint8Array> {
  return (async function* () {
    const iterator = source[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return;
    let kind = compression;
    if (kind === 'auto') {
      const b = first.value;
      kind = b[0] === 0x1f && b[1] === 0x8b ? 'gzip' : b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd ? 'zstd' : 'none';
    }
    const rest = (async function* () {
      yield first.value;
      for (let n = await iterator.next(); !n.done; n = await iterator.next()) yield n.value;
    })();
    if (kind === 'none') {
      yield* rest;
      return;
    }
    const inflater: Transform = kind === 'gzip' ? createGunzip() : createZstdDecompress();
    const out = pipeline(Readable.from(rest), inflater, () => undefined);
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    } catch (e) {
      // zlib's errors say the compressed layer is corrupt or cut short; the source's own (a read error, a digest mismatch) pass as they are.
      if (!isZlibError(e)) throw e;
      throw new ComposefsError('ERR_COMPOSEFS_TAR_INVALID', `${kind} layer: ${e.message}`, { compression: kind, zlibCode: e.code }, { cause: e });
    }
  })();
}

/** An error of Node's zlib (codes Z_* for gzip, ZSTD_* for zstd), as opposed to one of the layer's source. */
function isZlibError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | undefined)?.code;
  return e instanceof Error && typeof code === 'string' && /^(Z|ZSTD)_/.test(code);
}

/** Builds the tree of an OCI image: every layer applied in order. */
export async function buildTreeFromOciLayout(
  layout: string,
  options: LayerBuildOptions & { ref?: string } = {},
): Promise<{ root: CfsNode; stats: BuildStats; layers: OciDescriptor[] }> {
  const layers = await readOciLayers(layout, options.ref);
  const builder = new LayerTreeBuilder(options);
  for (const layer of layers) {
    const compression = layerCompression[layer.mediaType];
    if (!compression) bad(`unsupported layer media type ${layer.mediaType}`);
    await builder.applyLayer(decompressed(verifiedBlob(layout, layer), compression));
  }
  return { root: await builder.finish(), stats: builder.stats, layers };
}

/** Builds the tree of tar layer streams given in order (lowest first), each possibly compressed. */
export async function buildTreeFromTarLayers(
  layers: readonly AsyncIterable<Uint8Array>[],
  options: LayerBuildOptions = {},
): Promise<{ root: CfsNode; stats: BuildStats }> {
  const builder = new LayerTreeBuilder(options);
  for (const layer of layers) await builder.applyLayer(decompressed(layer));
  return { root: await builder.finish(), stats: builder.stats };
}
