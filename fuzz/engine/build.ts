// Builds a fuzz target into one ES module whose src/ code counts its own execution. TypeScript run
// by type stripping gives a fuzzer no coverage feedback, so each target is bundled by esbuild and
// every src/ module on the way is instrumented by istanbul-lib-instrument (a counter per statement,
// branch arm and function). Packages from node_modules stay external and uninstrumented: their
// paths are not ours to cover, though their exceptions still count as findings.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';
import { createInstrumenter } from 'istanbul-lib-instrument';

/** The global that instrumented modules register their counters under (istanbul's `__coverage__`). */
export const COVERAGE_VARIABLE = '__vouchFuzzCoverage';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_ROOT = join(REPO_ROOT, 'src');
/** Under node_modules so the bundle resolves its external packages from the repo's node_modules. */
export const CACHE_DIR = join(REPO_ROOT, 'node_modules/.cache/vouch-fuzz');

const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

async function instrumentModule(path: string, source: string): Promise<string> {
  // The same module is instrumented for several targets: cache by content and instrumenter settings.
  const cached = join(CACHE_DIR, 'modules', `${sha256(path + '\0' + source)}.js`);
  if (existsSync(cached)) return readFile(cached, 'utf8');
  const stripped = await transform(source, { loader: 'ts', format: 'esm', target: 'node24', sourcemap: 'external', sourcefile: path });
  const instrumenter = createInstrumenter({ coverageVariable: COVERAGE_VARIABLE, esModules: true, compact: false, produceSourceMap: true });
  const code = instrumenter.instrumentSync(stripped.code, path, JSON.parse(stripped.map) as object);
  const map = instrumenter.lastSourceMap();
  // Inline map: esbuild chains it, so stack traces of findings name src/ lines, not bundle lines.
  const withMap = map ? `${code}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n` : code;
  await writeAtomically(cached, withMap);
  return withMap;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Unique per write: two targets built at once (--jobs) may write the same cached module.
  const temporary = `${path}.${randomUUID()}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

interface BuildManifest {
  readonly inputs: Record<string, string>;
}

async function upToDate(manifestPath: string): Promise<boolean> {
  if (!existsSync(manifestPath)) return false;
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as BuildManifest;
  for (const [path, hash] of Object.entries(manifest.inputs)) {
    if (!existsSync(path) || sha256(await readFile(path)) !== hash) return false;
  }
  return true;
}

/**
 * Bundles `entry` (a module under fuzz/targets/) with the modules under `instrumented` (src/ by
 * default) counting their coverage, and returns the bundle's path. Rebuilds only when the entry, a
 * module it bundles or this build step changed.
 */
export async function buildTarget(entry: string, instrumented: string = SOURCE_ROOT): Promise<string> {
  const out = join(CACHE_DIR, 'bundles', `${basename(entry, '.ts')}-${sha256(entry + '\0' + instrumented).slice(0, 12)}.mjs`);
  const manifestPath = `${out}.json`;
  if (existsSync(out) && (await upToDate(manifestPath))) return out;
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    sourcemap: 'inline',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'istanbul',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => {
            if (relative(instrumented, args.path).startsWith('..')) return undefined;
            const source = await readFile(args.path, 'utf8');
            return { contents: await instrumentModule(args.path, source), loader: 'js', resolveDir: dirname(args.path) };
          });
        },
      },
    ],
  });
  const bundle = result.outputFiles[0];
  if (!bundle) throw new Error(`esbuild produced no output for ${entry}`);
  const inputs: Record<string, string> = {};
  for (const path of [...Object.keys(result.metafile.inputs).map((p) => resolve(REPO_ROOT, p)), fileURLToPath(import.meta.url)]) {
    inputs[path] = sha256(await readFile(path));
  }
  await writeAtomically(out, bundle.text);
  await writeAtomically(manifestPath, JSON.stringify({ inputs } satisfies BuildManifest));
  return out;
}
