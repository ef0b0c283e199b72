// The store with 100,000 enrolled nodes, on each dialect (each in a process of its own, so RSS is
// that dialect's): bulk inserts, point reads, durable single-row commits, RSS, each next to the
// database's own tools doing the same in the same run (bench/store-worker.ts).
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt } from './measure.ts';

const WORKER = fileURLToPath(new URL('./store-worker.ts', import.meta.url));

type Figures = Record<string, number | string>;

function measure(dialect: string): Figures | undefined {
  const r = spawnSync(process.execPath, ['--expose-gc', WORKER, dialect], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    console.log(`  ${dialect}: not measured (${r.stderr.trim().split('\n').pop() ?? 'failed'})`);
    return undefined;
  }
  return JSON.parse(r.stdout) as Figures;
}

const n = (f: Figures, k: string, digits = 1): string => (typeof f[k] === 'number' ? fmt(f[k], digits) : '–');

export function run(): Promise<void> {
  // Wall-clock figures include waiting for the other processes of a shared machine: say how busy it was.
  console.log(`  (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores at the start)`);
  const sqlite = measure('sqlite');
  if (sqlite) {
    console.log('  embedded store (node:sqlite, WAL, synchronous=FULL), 100,000 nodes with EK certificates:');
    console.log(
      `    bulk insert (1,000 per transaction): ${n(sqlite, 'insertsPerSecond', 0)} nodes/s wall, ${n(sqlite, 'insertsPerCpuSecond', 0)} per CPU second — raw node:sqlite ${n(sqlite, 'rawInsertsPerSecond', 0)}/s wall, ${n(sqlite, 'rawInsertsPerCpuSecond', 0)} per CPU second; sqlite3 shell ${n(sqlite, 'shellInsertsPerSecond', 0)}/s wall`,
    );
    console.log(
      `    point read by name: ${n(sqlite, 'readMicros')} µs wall, ${n(sqlite, 'readCpuMicros')} µs CPU (${n(sqlite, 'readsPerSecond', 0)}/s) — raw node:sqlite ${n(sqlite, 'rawReadMicros')} µs wall, ${n(sqlite, 'rawReadCpuMicros')} µs CPU`,
    );
    console.log(
      `    durable commit (one audit entry): p50 ${n(sqlite, 'commitP50Ms', 2)} ms, p99 ${n(sqlite, 'commitP99Ms', 2)} ms — raw node:sqlite insert p50 ${n(sqlite, 'rawCommitP50Ms', 2)} ms, p99 ${n(sqlite, 'rawCommitP99Ms', 2)} ms`,
    );
    console.log(
      `    server-like process (fresh, after the reads and commits) RSS: ${n(sqlite, 'rssMb', 0)} MB, V8 heap in use ${n(sqlite, 'heapUsedMb', 0)} MB`,
    );
  }
  const pg = measure('postgres');
  if (pg) {
    console.log('  PostgreSQL (Unix socket, fsync on), 100,000 nodes with EK certificates:');
    console.log(`    bulk insert (1,000 per transaction): ${n(pg, 'insertsPerSecond', 0)} nodes/s — psql ${n(pg, 'psqlInsertsPerSecond', 0)}/s`);
    console.log(
      `    point read by name: ${n(pg, 'readMicros')} µs (${n(pg, 'readsPerSecond', 0)}/s) — pgbench ${n(pg, 'pgbenchReadMicros')} µs (${n(pg, 'pgbenchReadsPerSecond', 0)}/s)`,
    );
    console.log(
      `    durable commit (one audit entry): p50 ${n(pg, 'commitP50Ms', 2)} ms, p99 ${n(pg, 'commitP99Ms', 2)} ms — pgbench insert mean ${n(pg, 'pgbenchCommitMeanMs', 2)} ms`,
    );
    console.log(
      `    server-like process (fresh, after the reads and commits) RSS: ${n(pg, 'rssMb', 0)} MB, V8 heap in use ${n(pg, 'heapUsedMb', 0)} MB; PostgreSQL server processes: ${n(pg, 'serverRssMb', 0)} MB`,
    );
  }
  console.log(`  (load average ${loadavg()[0]!.toFixed(1)} at the end)`);
  return Promise.resolve();
}
