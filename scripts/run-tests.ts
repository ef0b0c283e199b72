// The whole suite: type check, then every test file under test/ with node's test runner.
import { spawnSync } from 'node:child_process';

const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('type check failed');
  process.exit(tsc.status ?? 1);
}
const args = [
  '--import',
  './test/helpers/setup.ts',
  '--test',
  '--test-concurrency=2',
  '--test-timeout=600000',
  '--test-reporter=spec',
  ...(process.argv.slice(2).length ? process.argv.slice(2) : ['test/**/*.test.ts']),
];
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
