// `vouch composefs mkimage` and `vouch composefs dump`: composefs EROFS images from a dump file
// or a directory tree, and back to the dump format.
import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString } from '../command.ts';
import { CliInput, onFile, readInputFile } from '../files.ts';
import { userPath } from './composefs.ts';
import { ObjectStore, buildTreeFromDirectory, composefsDigest, parseDump, printDump, type CfsNode } from '../../composefs/index.ts';
import { readImage, readImageInfo, writeImage } from '../../composefs/erofs/index.ts';

function versionOption(ctx: CommandContext, name: string): number | undefined {
  const text = optionalString(ctx, name);
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`--${name}: not a version number: ${text}`);
  return Number(text);
}

/** The source's tree; `store` is the store a directory's files went into (leased until released). */
async function loadSource(ctx: CommandContext, source: string): Promise<{ root: CfsNode; kind: 'dump' | 'directory'; store?: ObjectStore }> {
  const info = await onFile(source, () => stat(userPath(ctx, source)));
  if (info.isDirectory()) {
    const storePath = optionalString(ctx, 'store');
    const store = storePath === undefined ? undefined : await onFile(storePath, () => ObjectStore.open(userPath(ctx, storePath), { create: true }));
    ctx.log(`walking ${source}${store ? `, copying contents into ${storePath}` : ''}`);
    try {
      const { root } = await onFile(source, () => buildTreeFromDirectory(userPath(ctx, source), { store, hardlinks: ctx.values.hardlinks === true }));
      return store ? { root, kind: 'directory', store } : { root, kind: 'directory' };
    } catch (e) {
      await store?.release();
      throw e;
    }
  }
  if (optionalString(ctx, 'store') !== undefined || ctx.values.hardlinks === true) throw new UsageError('--store and --hardlinks apply to a DIR source only');
  return { root: parseDump(await readInputFile(ctx, source, CliInput.image)), kind: 'dump' };
}

/** Writes next to the target, then renames: a reader never sees half an image. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

export const handlers = {
  'composefs mkimage': {
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('name exactly one source: a dump file or a directory');
      const source = ctx.positionals[0]!;
      const out = requireString(ctx, 'out');
      const range = { minVersion: versionOption(ctx, 'min-version'), maxVersion: versionOption(ctx, 'max-version') };
      const { root, kind, store } = await loadSource(ctx, source);
      let image: Uint8Array;
      try {
        image = writeImage(root, range);
        await onFile(out, () => writeAtomically(userPath(ctx, out), image));
      } finally {
        // gc may run once the image that references the new objects is in place.
        await store?.release();
      }
      const info = readImageInfo(image);
      const digest = Buffer.from(composefsDigest(image)).toString('hex');
      return {
        result: { image: out, source, sourceKind: kind, digest, formatVersion: info.formatVersion, bytes: image.length, inodes: Number(info.inodeCount) },
        text: `${digest} ${out}`,
      };
    },
  },
  'composefs dump': {
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('name exactly one IMAGE');
      const path = ctx.positionals[0]!;
      const image = await readInputFile(ctx, path, CliInput.image);
      const root = readImage(image);
      const info = readImageInfo(image);
      const digest = Buffer.from(composefsDigest(image)).toString('hex');
      const dump = printDump(root);
      if (!ctx.json) ctx.io.stderr.write(`${path}: composefs format ${info.formatVersion}, fs-verity digest ${digest}\n`);
      return { result: { image: path, digest, formatVersion: info.formatVersion, dump }, text: dump };
    },
  },
} satisfies Record<string, CommandHandler>;
