// Start-up: wall time of whole `vouch` processes, median of repeated runs, next to bare Node and to
// tpm2_eventlog doing the same job (parse and replay a real 24 KB log) in the same run. Three ways to
// run vouch: bin/vouch.js on the TypeScript sources (with Node's compile cache warm, and without it),
// the single executable (scripts/build-executable.ts: its size, build time and start-up), and that
// executable's JavaScript bundle under the pinned Node, which isolates what the bundle saves.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExecutable } from '../scripts/build-executable.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, timeOnce } from './measure.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** A real 24 KB crypto-agile TCG log: a GCE vTPM boot of COS 85, 46 events in sha1, sha256 and sha384 banks. */
const realLog = join(repoRoot, 'test/vectors/eventlogs/cos-85-amd-sev.bin');
const rounds = 15;

interface Case {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The figure this one is put next to (a label of another case). */
  readonly versus?: string;
}

/** Wall time of one run in milliseconds, or undefined when the command fails. */
function wallMs(c: Case): number | undefined {
  const start = process.hrtime.bigint();
  const r = spawnSync(c.command, c.args, { cwd: repoRoot, env: c.env ?? process.env, stdio: 'ignore' });
  return r.error || r.status !== 0 ? undefined : Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Median wall time of each case. The cases take turns, one run each per round, so a change in the
 * machine's load during the measurement weighs on every figure alike; one untimed run first warms
 * the page cache and Node's compile cache.
 */
function medians(cases: readonly Case[]): Map<string, number | undefined> {
  const times = new Map<string, number[] | undefined>(cases.map((c) => [c.label, wallMs(c) === undefined ? undefined : []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const list = times.get(c.label);
      if (!list) continue;
      const ms = wallMs(c);
      if (ms === undefined) times.set(c.label, undefined);
      else list.push(ms);
    }
  }
  return new Map([...times].map(([label, list]) => [label, list?.sort((a, b) => a - b)[Math.floor(list.length / 2)]]));
}

export async function run(): Promise<void> {
  const node = join(repoRoot, 'node_modules/.bin/node');
  const bin = join(repoRoot, 'bin/vouch.js');
  const replay = ['eventlog', 'replay', realLog];
  const noCompileCache = { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' };
  const bare = 'node -e 0 (bare Node 24 start)';
  const peer = 'tpm2_eventlog LOG';
  const cases: Case[] = [
    { label: bare, command: node, args: ['-e', '0'] },
    { label: 'bin/vouch.js --help', command: node, args: [bin, '--help'], versus: bare },
    { label: 'bin/vouch.js --help, no compile cache', command: node, args: [bin, '--help'], env: noCompileCache, versus: bare },
    { label: 'bin/vouch.js eventlog replay LOG', command: node, args: [bin, ...replay], versus: peer },
    { label: 'bin/vouch.js eventlog replay LOG, no compile cache', command: node, args: [bin, ...replay], env: noCompileCache, versus: peer },
  ];
  const tool = findTool('tpm2_eventlog');
  if (tool) cases.push({ label: peer, command: tool, args: [realLog] });
  else console.log('tpm2_eventlog: not installed (scripts/install-deps.sh installs tpm2-tools)');

  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-executable-'));
  try {
    if (findTool('strip')) {
      let built: Awaited<ReturnType<typeof buildExecutable>> | undefined;
      const buildSeconds = await timeOnce(async () => (built = await buildExecutable(dir)));
      const { executable, size, bundleSize } = built!;
      console.log(`single executable: ${fmt(size / 2 ** 20)} MiB (bundle ${fmt(bundleSize / 2 ** 10, 0)} KiB), built in ${fmt(buildSeconds)} s`);
      const bundle = join(dir, 'vouch.cjs');
      cases.push(
        { label: 'executable --help', command: executable, args: ['--help'], env: {}, versus: bare },
        { label: 'executable eventlog replay LOG', command: executable, args: replay, env: {}, versus: peer },
        { label: 'its bundle under Node: --help', command: node, args: [bundle, '--help'], versus: bare },
        { label: 'its bundle under Node: eventlog replay LOG', command: node, args: [bundle, ...replay], versus: peer },
      );
    } else console.log('single executable: strip is missing (scripts/install-deps.sh installs binutils)');

    console.log(`median wall time of ${rounds} runs each, the commands taking turns; LOG: cos-85-amd-sev.bin (24 KB)`);
    const figures = medians(cases);
    for (const c of cases) {
      const ms = figures.get(c.label);
      const versus = c.versus === undefined ? undefined : figures.get(c.versus);
      const ratio = ms !== undefined && versus !== undefined ? ` (${fmt(ms / versus, 2)}x ${c.versus === bare ? 'bare Node' : 'tpm2_eventlog'})` : '';
      console.log(`${c.label.padEnd(52)} ${ms === undefined ? 'failed' : `${fmt(ms)} ms`}${ratio}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
