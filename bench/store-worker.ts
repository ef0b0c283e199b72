// One dialect's store benchmark, in a process of its own:
//   node bench/store-worker.ts sqlite|postgres
// prints one JSON object. It loads the nodes, then measures reads, commits and RSS in a fresh
// process of its own on the loaded store (argv[3]: the store's location), as a server would run. Vouch's figures go through the whole store (Kysely, the repositories,
// their checks); each is next to the same work done by the database's own tool in the same run:
// the sqlite3 shell or raw node:sqlite statements, and pgbench/psql over the same Unix socket.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { sql } from 'kysely';
import { openStore, type NewNode, type Store, type StoreLocation } from '../src/store/index.ts';
import { findPostgresBin, startPostgres } from '../test/helpers/postgres.ts';

const NODES = Number(process.env.VOUCH_BENCH_NODES ?? 100_000);
const BATCH = 1000;
const READS = 20_000;
const COMMITS = { sqlite: 1000, postgres: 500 } as const;
/** Row sizes of a real enrollment: RSA-2048 EK TPM2B_PUBLIC, a DER EK certificate, an ECC P-256 AK. */
const EK_PUBLIC = 314;
const EK_CERT = 1200;
const AK_PUBLIC = 88;

const dialect = process.argv[2] as 'sqlite' | 'postgres';

function nodeName(i: number): string {
  return `bench-${String(i).padStart(6, '0')}`;
}

function node(i: number): NewNode {
  return {
    name: nodeName(i),
    status: 'enrolled',
    ekPublic: randomBytes(EK_PUBLIC),
    ekName: randomBytes(34),
    ekKind: 'rsa',
    ekCertificate: randomBytes(EK_CERT),
    tpmManufacturer: 'IFX',
    akPublic: randomBytes(AK_PUBLIC),
    akName: randomBytes(34),
  };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** This process's CPU seconds (user + system) since `start`: on a shared machine, what the work itself cost. */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** RSS once garbage is collected (the runner passes --expose-gc): what the process needs, not what V8 has yet to free. */
function rssAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Bulk-loads the nodes: 1,000 per transaction, each through the repository. */
async function load(store: Store): Promise<Record<string, number>> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let b = 0; b < NODES; b += BATCH) {
    await store.transaction(async (tx) => {
      for (let i = b; i < b + BATCH; i++) await tx.nodes.create(node(i));
    });
  }
  return { insertsPerSecond: NODES / seconds(start), insertsPerCpuSecond: NODES / cpuSeconds(cpu) };
}

/** Point reads and durable commits on a loaded store, and the RSS of the process doing them: a server's steady state. */
async function steady(store: Store): Promise<Record<string, number>> {
  const names = Array.from({ length: READS }, () => nodeName(Math.floor(Math.random() * NODES)));
  for (const n of names.slice(0, 1000)) await store.nodes.getByName(n);
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (const n of names) if (!(await store.nodes.getByName(n))) throw new Error(`missing ${n}`);
  const readSeconds = seconds(start);
  const readCpuSeconds = cpuSeconds(cpu);

  const latencies: number[] = [];
  for (let i = 0; i < COMMITS[dialect]; i++) {
    const t = process.hrtime.bigint();
    await store.audit.append({ actor: 'bench', action: 'bench.commit', subject: nodeName(i), details: { i } });
    latencies.push(seconds(t) * 1000);
  }
  latencies.sort((a, b) => a - b);
  return {
    readsPerSecond: READS / readSeconds,
    readMicros: (readSeconds / READS) * 1e6,
    readCpuMicros: (readCpuSeconds / READS) * 1e6,
    commitP50Ms: percentile(latencies, 50),
    commitP99Ms: percentile(latencies, 99),
    rssMb: rssAfterGc(),
    heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

/** Runs `steady` in a fresh process on the loaded store, so that the RSS is not the bulk load's leftovers. */
function steadyInFreshProcess(location: StoreLocation): Record<string, number> {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), dialect, JSON.stringify(location)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`steady-state run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** The same three measurements with node:sqlite statements and no query layer, and the sqlite3 shell's bulk insert. */
function sqlitePeer(schemaSql: string, dir: string): Record<string, number> {
  const file = join(dir, 'peer.db');
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; ${schemaSql}`);
  const insert = db.prepare('insert into nodes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  let start = process.hrtime.bigint();
  let cpu = process.cpuUsage();
  for (let b = 0; b < NODES; b += BATCH) {
    db.exec('begin');
    for (let i = b; i < b + BATCH; i++) {
      const n = node(i);
      insert.run(
        crypto.randomUUID(),
        n.name,
        n.status,
        n.ekPublic,
        n.ekName,
        n.ekKind,
        n.ekCertificate!,
        n.tpmManufacturer!,
        n.akPublic,
        n.akName,
        1,
        1,
        null,
        null,
        null,
      );
    }
    db.exec('commit');
  }
  const insertsPerSecond = NODES / seconds(start);
  const insertsPerCpuSecond = NODES / cpuSeconds(cpu);
  const read = db.prepare('select * from nodes where name = ?');
  const names = Array.from({ length: READS }, () => nodeName(Math.floor(Math.random() * NODES)));
  start = process.hrtime.bigint();
  cpu = process.cpuUsage();
  for (const n of names) read.get(n);
  const readSeconds = seconds(start);
  const readCpuSeconds = cpuSeconds(cpu);
  const commit = db.prepare('insert into audit_log values (?, 1, ?, ?, ?, ?, ?, ?)');
  const latencies: number[] = [];
  for (let i = 0; i < COMMITS.sqlite; i++) {
    const t = process.hrtime.bigint();
    commit.run(i + 1, 'bench', 'bench.commit', nodeName(i), '{}', randomBytes(32), randomBytes(32));
    latencies.push(seconds(t) * 1000);
  }
  db.close();
  latencies.sort((a, b) => a - b);

  // The sqlite3 shell inserting the same rows (random blobs of the same sizes), 1000 per transaction.
  const shellFile = join(dir, 'shell.db');
  const script = [`PRAGMA journal_mode = WAL;`, `PRAGMA synchronous = FULL;`, schemaSql];
  for (let b = 0; b < NODES; b += BATCH) {
    script.push('begin;');
    for (let i = b; i < b + BATCH; i++) {
      script.push(
        `insert into nodes values (lower(hex(randomblob(16))), '${nodeName(i)}', 'enrolled', randomblob(${EK_PUBLIC}), randomblob(34), 'rsa', randomblob(${EK_CERT}), 'IFX', randomblob(${AK_PUBLIC}), randomblob(34), 1, 1, null, null, null);`,
      );
    }
    script.push('commit;');
  }
  writeFileSync(join(dir, 'insert.sql'), script.join('\n'));
  start = process.hrtime.bigint();
  const shell = spawnSync('sqlite3', [shellFile, `.read ${join(dir, 'insert.sql')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const shellSeconds = seconds(start);
  return {
    rawInsertsPerSecond: insertsPerSecond,
    rawInsertsPerCpuSecond: insertsPerCpuSecond,
    rawReadsPerSecond: READS / readSeconds,
    rawReadMicros: (readSeconds / READS) * 1e6,
    rawReadCpuMicros: (readCpuSeconds / READS) * 1e6,
    rawCommitP50Ms: percentile(latencies, 50),
    rawCommitP99Ms: percentile(latencies, 99),
    ...(shell.status === 0 ? { shellInsertsPerSecond: NODES / shellSeconds } : {}),
  };
}

function pgbench(bin: string, socketDir: string, database: string, script: string, args: readonly string[]): { tps: number; latencyMs: number } {
  const file = join(socketDir, `${Math.random().toString(36).slice(2)}.pgbench`);
  writeFileSync(file, script);
  const r = spawnSync(join(bin, 'pgbench'), ['-h', socketDir, '-U', 'vouch', '-n', '-f', file, ...args, database], { encoding: 'utf8' });
  const tps = /tps = ([\d.]+)/.exec(r.stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(r.stdout)?.[1];
  if (!tps || !latency) throw new Error(`pgbench failed: ${r.stderr}`);
  return { tps: Number(tps), latencyMs: Number(latency) };
}

/** RSS of every process of the PostgreSQL server (shared buffers are counted once per process that touched them). */
function postgresRssMb(socketDir: string): number {
  const ps = spawnSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' }).stdout;
  const pid = spawnSync('head', ['-1', join(socketDir, 'data', 'postmaster.pid')], { encoding: 'utf8' }).stdout.trim();
  const children = spawnSync('ps', ['--ppid', pid, '-o', 'rss='], { encoding: 'utf8' }).stdout;
  const own = ps.split('\n').find((l) => l.includes(join(socketDir, 'data')) && l.includes('postgres'));
  const kb = [own ? Number(own.trim().split(/\s+/)[0]) : 0, ...children.split('\n').map(Number)].filter((n) => n > 0);
  return kb.reduce((a, b) => a + b, 0) / 1024;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-store-'));
  try {
    if (dialect === 'sqlite') {
      const store = await openStore({ dataDir: join(dir, 'data') });
      const schema = await sql<{ sql: string }>`select sql from sqlite_master where tbl_name in ('nodes', 'audit_log') and sql is not null`.execute(
        store.kysely,
      );
      const location = { dataDir: join(dir, 'data') };
      const figures = { ...(await load(store)) };
      await store.close();
      Object.assign(figures, steadyInFreshProcess(location));
      const peer = sqlitePeer(schema.rows.map((r) => `${r.sql};`).join('\n'), dir);
      process.stdout.write(JSON.stringify({ dialect, ...figures, ...peer }));
      return;
    }
    const bin = findPostgresBin();
    if (!bin) throw new Error('PostgreSQL is not installed');
    const server = await startPostgres();
    const database = await server.createDatabase();
    const location = { databaseUrl: server.url(database) };
    const store = await openStore(location);
    const figures = { ...(await load(store)) };
    await store.close();
    Object.assign(figures, steadyInFreshProcess(location));
    const psql = (command: string): void => {
      const r = spawnSync(join(bin, 'psql'), ['-h', server.socketDir, '-U', 'vouch', '-q', '-v', 'ON_ERROR_STOP=1', '-c', command, database], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    };
    psql('create extension if not exists pgcrypto');
    psql('create table peer_nodes (like nodes including all)');
    psql('create table peer_audit (like audit_log including all)');
    psql('create sequence peer_seq');
    // Bulk: one psql session, 1000 rows per transaction, one INSERT per row as the store sends them.
    // (pgcrypto's gen_random_bytes gives at most 1,024 bytes at a time.)
    const values = (i: number): string =>
      `(gen_random_uuid()::text, '${nodeName(i)}', 'enrolled', gen_random_bytes(${EK_PUBLIC}), gen_random_bytes(34), 'rsa', gen_random_bytes(1024) || gen_random_bytes(${EK_CERT - 1024}), 'IFX', gen_random_bytes(${AK_PUBLIC}), gen_random_bytes(34), 1, 1, null, null, null)`;
    const script: string[] = [];
    for (let b = 0; b < NODES; b += BATCH) {
      script.push('begin;');
      for (let i = b; i < b + BATCH; i++) script.push(`insert into peer_nodes values ${values(i)};`);
      script.push('commit;');
    }
    writeFileSync(join(dir, 'insert.sql'), script.join('\n'));
    const start = process.hrtime.bigint();
    const bulk = spawnSync(join(bin, 'psql'), ['-h', server.socketDir, '-U', 'vouch', '-q', '-v', 'ON_ERROR_STOP=1', '-f', join(dir, 'insert.sql'), database], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (bulk.status !== 0) throw new Error(`psql bulk insert failed: ${bulk.stderr.toString().slice(0, 500)}`);
    const psqlInsertsPerSecond = NODES / seconds(start);
    const reads = pgbench(
      bin,
      server.socketDir,
      database,
      `\\set n random(0, ${NODES - 1})\nselect * from nodes where name = 'bench-' || lpad(:n::text, 6, '0');\n`,
      ['-c', '1', '-t', String(READS)],
    );
    const commits = pgbench(
      bin,
      server.socketDir,
      database,
      `insert into peer_audit values (nextval('peer_seq'), 1, 'bench', 'bench.commit', 'n', '{}', gen_random_bytes(32), gen_random_bytes(32));\n`,
      ['-c', '1', '-t', String(COMMITS.postgres)],
    ).latencyMs;
    process.stdout.write(
      JSON.stringify({
        dialect,
        ...figures,
        serverRssMb: postgresRssMb(server.socketDir),
        psqlInsertsPerSecond,
        pgbenchReadsPerSecond: reads.tps,
        pgbenchReadMicros: reads.latencyMs * 1000,
        pgbenchCommitMeanMs: commits,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const steadyLocation = process.argv[3];
if (steadyLocation === undefined) {
  await main();
} else {
  const store = await openStore(JSON.parse(steadyLocation) as StoreLocation);
  const figures = await steady(store);
  await store.close();
  process.stdout.write(JSON.stringify(figures));
}
