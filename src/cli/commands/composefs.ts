import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString, stringList } from '../command.ts';
import { CliInput, onFile, readInputFile } from '../files.ts';
import { ExitCode } from '../exit-codes.ts';
import { fromHex } from '../../bytes/index.ts';
import {
  ObjectStore,
  buildTreeFromDirectory,
  buildTreeFromOciLayout,
  buildTreeFromTarLayers,
  composefsDigest,
  diffTrees,
  diffFields,
  hasHardlinks,
  digestFromPayload,
  fsverityDigestFile,
  fsverityParams,
  printDump,
  treeFromImageOrDump,
  verifyObjects,
  walkTree,
  type BuildStats,
  type DiffField,
  type CfsNode,
  type FsVerityHashName,
} from '../../composefs/index.ts';
import { readImageInfo, writeImage } from '../../composefs/erofs/index.ts';

function digestParams(ctx: CommandContext): { hash: FsVerityHashName; blockSize: number; salt: Uint8Array } {
  const hash = optionalString(ctx, 'hash') ?? 'sha256';
  const blockText = optionalString(ctx, 'block-size') ?? '4096';
  if (!/^[0-9]+$/.test(blockText)) throw new UsageError(`--block-size: not a number: ${blockText}`);
  const salt = fromHex(optionalString(ctx, 'salt') ?? '');
  return fsverityParams({ hash: hash as FsVerityHashName, blockSize: Number(blockText), salt });
}

/** A path the user gave, as seen from the command's working directory. */
export function userPath(ctx: CommandContext, path: string): string {
  return resolve(ctx.io.cwd, path);
}

async function openStore(ctx: CommandContext, create = false): Promise<ObjectStore> {
  const dir = requireString(ctx, 'store');
  return onFile(dir, () => ObjectStore.open(userPath(ctx, dir), { create }));
}

/** Reads an EROFS image or a dump file into a tree; keeps the image bytes for its digest. */
async function loadTree(ctx: CommandContext, path: string): Promise<{ root: CfsNode; kind: 'image' | 'dump'; bytes: Uint8Array }> {
  const bytes = await readInputFile(ctx, path, CliInput.image);
  return { ...treeFromImageOrDump(bytes), bytes };
}

/** Digests of every object a tree references (what gc must keep). */
function referencedDigests(root: CfsNode): Set<string> {
  const keep = new Set<string>();
  for (const node of walkTree(root)) {
    const { fsverityDigest, payload } = node.inode;
    if (fsverityDigest) keep.add(Buffer.from(fsverityDigest).toString('hex'));
    const named = payload ? digestFromPayload(payload) : undefined;
    if (named) keep.add(named);
  }
  return keep;
}

/** The tree of `vouch composefs build`'s one source (DIR, --oci or --tar), its files added to `store`. */
function buildFromSource(ctx: CommandContext, store: ObjectStore, oci: string | undefined, tars: string[]): Promise<{ root: CfsNode; stats: BuildStats }> {
  if (oci !== undefined) {
    const ref = optionalString(ctx, 'ref');
    return onFile(oci, () => buildTreeFromOciLayout(userPath(ctx, oci), ref === undefined ? { store } : { store, ref }));
  }
  if (tars.length > 0)
    return onFile(tars.join(' '), () =>
      buildTreeFromTarLayers(
        tars.map((t) => createReadStream(userPath(ctx, t))),
        { store },
      ),
    );
  const dir = ctx.positionals[0]!;
  return onFile(dir, () =>
    buildTreeFromDirectory(userPath(ctx, dir), {
      store,
      skipXattrs: ctx.values['skip-xattrs'] === true,
      userXattrsOnly: ctx.values['user-xattrs'] === true,
      skipDevices: ctx.values['skip-devices'] === true,
      useEpoch: ctx.values['use-epoch'] === true,
      hardlinks: ctx.values.hardlinks === true,
    }),
  );
}

export const handlers = {
  'composefs digest': {
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name at least one FILE');
      const params = digestParams(ctx);
      const workers = Number(optionalString(ctx, 'workers') ?? '1');
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError('--workers: an integer 1..64');
      const files: { file: string; algorithm: string; digest: string }[] = [];
      for (const file of ctx.positionals) {
        const digest = Buffer.from(await onFile(file, () => fsverityDigestFile(userPath(ctx, file), params, { workers }))).toString('hex');
        files.push({ file, algorithm: params.hash, digest });
        // Each line as soon as it is known, as `fsverity digest` does: a later unreadable file stops the run but keeps these.
        if (!ctx.json) ctx.io.stdout.write(`${params.hash}:${digest} ${file}\n`);
      }
      return { result: { files }, text: '' };
    },
  },
  'composefs store add': {
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name at least one FILE');
      const store = await openStore(ctx, true);
      const objects = [];
      try {
        for (const file of ctx.positionals) objects.push({ file, ...(await onFile(file, () => store.addFile(userPath(ctx, file)))) });
        await store.sync();
      } finally {
        await store.release();
      }
      return { result: { objects }, text: objects.map((o) => `${o.payload} ${o.added ? 'added' : 'present'} ${o.file}`).join('\n') };
    },
  },
  'composefs store fsck': {
    async run(ctx) {
      const report = await (await openStore(ctx)).fsck();
      const bad = report.corrupt.length + report.strays.length + report.staleTemp.length;
      const lines = [
        `${report.checked} objects checked`,
        ...report.corrupt.map((c) => `corrupt ${c.payload} (content digest ${c.actual})`),
        ...report.strays.map((p) => `stray ${p}`),
        ...report.staleTemp.map((p) => `stale-temp ${p}`),
      ];
      return { result: report, text: lines.join('\n'), exitCode: bad > 0 ? ExitCode.notVerified : ExitCode.ok };
    },
  },
  'composefs store gc': {
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name every image or dump whose objects must stay (none would delete everything)');
      const store = await openStore(ctx);
      const keep = new Set<string>();
      for (const file of ctx.positionals) for (const d of referencedDigests((await loadTree(ctx, file)).root)) keep.add(d);
      const report = await store.gc(keep);
      return {
        result: report,
        text: `kept ${report.kept}, removed ${report.removed.length} objects (${report.removedBytes} bytes), ${report.staleTempRemoved.length} stale temp files`,
      };
    },
  },
  'composefs build': {
    async run(ctx) {
      const store = await openStore(ctx, true);
      const oci = optionalString(ctx, 'oci');
      const tars = stringList(ctx, 'tar');
      const sources = [ctx.positionals.length > 0, oci !== undefined, tars.length > 0].filter(Boolean).length;
      if (sources !== 1 || ctx.positionals.length > 1) throw new UsageError('give exactly one source: a DIR, --oci LAYOUT, or --tar LAYER...');
      const dumpPath = optionalString(ctx, 'dump');
      const out = optionalString(ctx, 'out');
      let built: { root: CfsNode; stats: BuildStats };
      let composefs: string | undefined;
      // The dump goes to --dump, or to stdout when neither --dump nor --out is given.
      const printsDump = dumpPath === undefined && out === undefined;
      let dumpText = '';
      // The store stays leased (gc refuses) until the image that references the new objects is written.
      try {
        built = await buildFromSource(ctx, store, oci, tars);
        if (dumpPath !== undefined || printsDump) dumpText = printDump(built.root);
        if (dumpPath !== undefined) await onFile(dumpPath, () => writeFile(userPath(ctx, dumpPath), dumpText, 'latin1'));
        if (out !== undefined) {
          const image = writeImage(built.root);
          await onFile(out, () => writeFile(userPath(ctx, out), image));
          composefs = Buffer.from(composefsDigest(image)).toString('hex');
        }
      } finally {
        await store.release();
      }
      const result = { stats: built.stats, dump: dumpPath ?? null, image: out ?? null, composefsDigest: composefs ?? null };
      const { files, inlined, objectsAdded, digestsReused, directories, hardlinks } = built.stats;
      const summary = `${files} files (${inlined} inline, ${objectsAdded} new objects, ${digestsReused} unchanged since the last build), ${directories} directories, ${hardlinks} hardlinks`;
      const text = printsDump ? dumpText : [summary, ...(composefs ? [`composefs=${composefs}`] : [])].join('\n');
      return { result, text };
    },
  },
  'composefs verify': {
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('name exactly one IMAGE or dump');
      const file = ctx.positionals[0]!;
      const store = await openStore(ctx);
      const loaded = await loadTree(ctx, file);
      const objects = await verifyObjects(loaded.root, store);
      const rootDir = optionalString(ctx, 'root');
      const ignore = stringList(ctx, 'ignore');
      const unknown = ignore.filter((f) => !(diffFields as readonly string[]).includes(f));
      if (unknown.length > 0) throw new UsageError(`--ignore: unknown field ${unknown.join(', ')} (fields: ${diffFields.join(', ')})`);
      // The tree is read the way the image was built: with hardlinks only if the image has any;
      // without xattrs when they are not compared; and past composefs' limits, which make a difference, not an error.
      const readRoot = (dir: string): Promise<{ root: CfsNode }> =>
        buildTreeFromDirectory(dir, { hardlinks: hasHardlinks(loaded.root), skipXattrs: ignore.includes('xattrs'), enforceLimits: false });
      const whiteoutOpaqueMarks = loaded.kind === 'image' && readImageInfo(loaded.bytes).formatVersion >= 1;
      const changes =
        rootDir === undefined
          ? []
          : diffTrees(loaded.root, (await onFile(rootDir, () => readRoot(userPath(ctx, rootDir)))).root, {
              ignore: ignore as DiffField[],
              whiteoutOpaqueMarks,
            });
      const composefs = loaded.kind === 'image' ? Buffer.from(composefsDigest(loaded.bytes)).toString('hex') : null;
      const ok = objects.problems.length === 0 && changes.length === 0;
      const lines = [
        ...(composefs ? [`composefs=${composefs}`] : []),
        `${objects.checked} objects checked, ${objects.problems.length} problems${rootDir === undefined ? '' : `, ${changes.length} differences from ${rootDir}`}`,
        ...objects.problems.map(
          (p) =>
            `object ${p.problem} ${p.payload} ${p.path}${p.actual ? ` (content digest ${p.actual}, expected ${p.expected})` : ''}${p.reason ? ` (${p.reason})` : ''}`,
        ),
        ...changes.map((c) => `${c.change} ${c.path}${c.fields ? ` (${c.fields.join(', ')})` : ''}`),
        ok ? 'verified' : 'NOT verified',
      ];
      return {
        result: { verified: ok, composefsDigest: composefs, objectsChecked: objects.checked, objectProblems: objects.problems, changes },
        text: lines.join('\n'),
        exitCode: ok ? ExitCode.ok : ExitCode.notVerified,
      };
    },
  },
} satisfies Record<string, CommandHandler>;
