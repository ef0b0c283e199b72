// `make executable`: the `vouch` command as one file that runs on a machine without Node.js (a node's
// initramfs). It is Node's single-executable application: the pinned Node 24 binary
// (node_modules/node) with the CLI injected as one CommonJS bundle.
//
//   node scripts/build-executable.ts [OUT_DIR]     (default build/; writes OUT_DIR/vouch)
//
// Choices, measured on this project's machine with `make bench` (bench/startup.bench.ts):
// - the bundle's entry is src/cli/executable.ts, whose command table is the standalone one; the
//   build refuses any server-side module in the bundle (see SERVER_ONLY);
// - "useCodeCache": V8's code for the bundle is made at build time, a few milliseconds less per start;
//   "useSnapshot" was slower here (a start-up snapshot of the whole heap is ~9 MB to deserialize,
//   more than the bundle costs to compile) and would freeze module state taken at build time;
// - the Node binary is stripped of its debug symbols first (126 MB → 108 MB, same code);
// - "execArgvExtension": "none": otherwise the executable takes Node options from NODE_OPTIONS, and
//   NODE_OPTIONS=--require=evil.js runs evil.js inside every `vouch` on the machine.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The Node binary the executable is made from: the one package.json pins, never the system's. */
const nodeBinary = realpathSync(join(repoRoot, 'node_modules/node/bin/node'));

/** Node's fixed marker for where a single-executable blob goes (nodejs.org/api/single-executable-applications.html). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Bundle inputs that belong to the server side only: native addons (pkcs11js), the database and
 * HTTP server stacks, and the server's own folders. A command that needs them is not standalone.
 */
const SERVER_ONLY = [/^node_modules\/(pkcs11js|pg|pg-[^/]+|fastify|@fastify\/[^/]+|kysely|prom-client)\//, /^src\/(server|store|web)\//, /\.node$/];

export interface BuiltExecutable {
  /** Path of the executable. */
  readonly executable: string;
  /** Its size in bytes. */
  readonly size: number;
  /** Size of the JavaScript bundle inside it. */
  readonly bundleSize: number;
  /** The bundle's source files and packages, relative to the repository. */
  readonly bundleInputs: readonly string[];
}

function run(command: string, args: readonly string[], what: string): void {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${what}: ${command}: ${r.error.message}${command === 'strip' ? ' (install binutils)' : ''}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

/** Builds OUT_DIR/vouch; the previous one stays in place until the new one is complete. */
export async function buildExecutable(outDir: string): Promise<BuiltExecutable> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const bundle = join(out, 'vouch.cjs');
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ['src/cli/executable.ts'],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    metafile: true,
    logLevel: 'error',
  });
  const bundleInputs = Object.keys(result.metafile.inputs).sort();
  const serverSide = bundleInputs.filter((input) => SERVER_ONLY.some((pattern) => pattern.test(input)));
  if (serverSide.length > 0) {
    throw new Error(
      `the executable's bundle would hold server-side modules: ${serverSide.join(', ')}; a command needing them belongs in a table of its own (src/cli/commands/index.ts), not in standalone.ts`,
    );
  }

  const blob = join(out, 'vouch.blob');
  const seaConfig = join(out, 'sea-config.json');
  await writeFile(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, execArgvExtension: 'none' }),
  );
  run(nodeBinary, ['--experimental-sea-config', seaConfig], 'making the single-executable blob');

  const partial = join(out, 'vouch.partial');
  await rm(partial, { force: true });
  run('strip', ['-o', partial, nodeBinary], 'stripping the Node binary');
  run(nodeBinary, [join(repoRoot, 'node_modules/postject/dist/cli.js'), partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], 'injecting the blob');
  const executable = join(out, 'vouch');
  await rename(partial, executable);
  await rm(blob);
  await rm(seaConfig);
  return {
    executable,
    size: (await stat(executable)).size,
    bundleSize: (await readFile(bundle)).length,
    bundleInputs: bundleInputs.map((input) => relative(repoRoot, resolve(repoRoot, input))),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildExecutable(process.argv[2] ?? join(repoRoot, 'build'));
  console.log(
    `${built.executable}: ${(built.size / 2 ** 20).toFixed(1)} MiB (bundle ${(built.bundleSize / 2 ** 10).toFixed(0)} KiB, ${built.bundleInputs.length} modules)`,
  );
}
