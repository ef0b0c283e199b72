// The whole suite, as `npm test`, `make test` and .ci/run run it: formatting, lint, type check,
// then every test file under test/ with node's test runner. It stops at the first step that fails
// and says which one, and how to see or fix it.
//
// The tools run on this Node (the project's pinned one), not through npx or their `#!/usr/bin/env
// node` lines. Prettier and ESLint keep caches in node_modules/.cache, keyed by file content, so a
// rerun checks only what changed. ESLint's cache does not know that a change in one file can
// change the types another file's lint saw: a fresh clone (as CI has) lints everything; locally,
// `rm -rf node_modules/.cache/eslint` forces that too.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string): string => realpathSync(`${root}node_modules/.bin/${name}`);

interface Step {
  readonly name: string;
  readonly args: readonly string[];
  /** What to do when the step fails. */
  readonly hint: string;
}

const testFiles = process.argv.slice(2);
const steps: Step[] = [
  {
    name: 'prettier --check .',
    args: [
      bin('prettier'),
      '--check',
      '--log-level',
      'warn',
      '--cache',
      '--cache-strategy',
      'content',
      '--cache-location',
      'node_modules/.cache/prettier/cache',
      '.',
    ],
    hint: 'the files listed above are not formatted: npx prettier --write <file>',
  },
  {
    name: 'eslint .',
    args: [bin('eslint'), '--cache', '--cache-strategy', 'content', '--cache-location', 'node_modules/.cache/eslint/', '.'],
    hint: 'fix the problems listed above (eslint.config.js says why each rule is on)',
  },
  {
    name: 'tsc -p tsconfig.json',
    // Incremental: tsc tracks which files each file's types depend on, so its saved state is never stale.
    args: [bin('tsc'), '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'node_modules/.cache/tsc/tsbuildinfo'],
    hint: 'fix the type errors listed above',
  },
  {
    name: 'tsc -p src/web/client/tsconfig.json',
    // The dashboard's browser modules, typed against the DOM rather than Node.
    args: [bin('tsc'), '-p', 'src/web/client/tsconfig.json', '--incremental', '--tsBuildInfoFile', 'node_modules/.cache/tsc/web-client.tsbuildinfo'],
    hint: 'fix the type errors listed above',
  },
  {
    name: 'node --test',
    args: [
      '--import',
      './test/helpers/setup.ts',
      '--test',
      '--test-concurrency=2',
      '--test-timeout=600000',
      '--test-reporter=spec',
      ...(testFiles.length ? testFiles : ['test/**/*.test.ts']),
    ],
    hint: 'see the failing tests listed above',
  },
];

for (const step of steps) {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, step.args, { cwd: root, stdio: 'inherit' });
  const seconds = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
  if (run.status !== 0) {
    const how = run.error ? run.error.message : run.signal ? `killed by ${run.signal}` : `exit ${String(run.status)}`;
    console.error(`\nrun-tests: FAILED at ${step.name} (${how}, ${seconds} s): ${step.hint}`);
    process.exit(run.status ?? 1);
  }
  console.error(`run-tests: ${step.name} passed (${seconds} s)`);
}
