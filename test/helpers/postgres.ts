// A real PostgreSQL for tests and benchmarks: Debian's initdb/pg_ctl in a temporary directory,
// listening only on a Unix socket in that directory (no TCP port), run as an unprivileged user
// (PostgreSQL refuses to run as root: under root the server runs as `postgres`, or `nobody`),
// torn down when the process exits. One server per test process; each test gets a database of its
// own from createDatabase().
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';

export interface PostgresServer {
  /** The directory holding the socket (the `host` of a connection). */
  readonly socketDir: string;
  /** A URL for `database` on this server. */
  url(database: string): string;
  /** A new database (empty, or a copy of `template`, which must have no open connections); returns its name. */
  createDatabase(template?: string): Promise<string>;
  /** Stops the server at once (as a crash would) and starts it again on the same data. */
  restart(): Promise<void>;
  stop(): void;
}

/** The directory of Debian's PostgreSQL programs (initdb and pg_ctl are not on PATH there), or undefined. */
export function findPostgresBin(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  // The directory of the real program (a /usr/local/bin symlink would hide psql and pgbench).
  const bin = onPath ? dirname(realpathSync(onPath)) : undefined;
  if (bin && existsSync(join(bin, 'initdb'))) return bin;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Root cannot run PostgreSQL: pick an unprivileged account and run the server's programs as it. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (r.status === 0) {
      const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
      return { name, uid: Number(r.stdout.trim()), gid };
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody account exists to run PostgreSQL as');
}

/** The command line that runs one of PostgreSQL's programs as the server's user. */
function asServerUser(bin: string, user: { name: string } | undefined, program: string, args: readonly string[]): [string, string[]] {
  return user ? ['runuser', ['-u', user.name, '--', join(bin, program), ...args]] : [join(bin, program), [...args]];
}

async function run(bin: string, user: { name: string } | undefined, program: string, args: readonly string[]): Promise<void> {
  const [cmd, argv] = asServerUser(bin, user, program, args);
  try {
    await execFileAsync(cmd, argv, { encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${program} failed: ${err.stderr || err.stdout || err.message}`, { cause: e });
  }
}

const execFileAsync = promisify(execFile);
let started: Promise<PostgresServer> | undefined;

/** Starts (once per process) a throwaway PostgreSQL server. Throws when PostgreSQL is not installed. */
export function startPostgres(): Promise<PostgresServer> {
  started ??= (async () => {
    const bin = findPostgresBin();
    if (!bin) throw new Error('PostgreSQL is not installed (initdb/pg_ctl): scripts/install-deps.sh installs the postgresql package');
    const user = serverUser();
    const dir = mkdtempSync(join(tmpdir(), 'vouch-pg-'));
    if (user) chownSync(dir, user.uid, user.gid);
    const data = join(dir, 'data');
    const stop = (): void => {
      if (existsSync(join(data, 'postmaster.pid')))
        spawnSync(
          user ? 'runuser' : join(bin, 'pg_ctl'),
          user ? ['-u', user.name, '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'] : ['-D', data, '-m', 'immediate', 'stop'],
        );
    };
    process.once('exit', () => {
      stop();
      spawnSync('rm', ['-rf', dir]);
    });
    // --no-sync: a test cluster's initial files need not survive a power cut; the server itself runs with fsync on.
    await run(bin, user, 'initdb', ['-D', data, '-U', 'vouch', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    const options = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c unix_socket_permissions=0777 -c max_connections=200 -c shared_buffers=64MB`;
    const start = (): Promise<void> => run(bin, user, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', options, 'start']);
    await start();
    let databases = 0;
    const url = (database: string): string => `postgresql://vouch@/${database}?host=${encodeURIComponent(dir)}`;
    return {
      socketDir: dir,
      url,
      async createDatabase(template) {
        const name = `test_${process.pid}_${++databases}`;
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        try {
          await client.query(`create database ${name}${template === undefined ? '' : ` template ${template}`}`);
        } finally {
          await client.end();
        }
        return name;
      },
      async restart() {
        stop();
        await start();
      },
      stop,
    };
  })();
  return started;
}

/** The test's PostgreSQL, or undefined after skipping the test where PostgreSQL is missing (never under CI, where that fails). */
export async function postgresForTest(t: TestContext): Promise<PostgresServer | undefined> {
  if (findPostgresBin()) return startPostgres();
  if (process.env.CI) throw new Error('PostgreSQL (initdb, pg_ctl) is missing: scripts/install-deps.sh installs the postgresql package');
  t.skip('PostgreSQL not installed (run make setup as root)');
  return undefined;
}
