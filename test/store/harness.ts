// Store test helpers. Every store test runs on both dialects: `storeTest(name, fn)` registers `name [sqlite]` and
// `name [postgres]`. A test gets a fresh location (a temp data directory, or a new database on the
// process's PostgreSQL) and `open()`, which opens a store there (on PostgreSQL, each open is one
// more replica); every store opened is closed after the test.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type Dialect, type NewNode, type OpenStoreOptions, type Store, type StoreLocation } from '../../src/store/index.ts';
import { postgresForTest, type PostgresServer } from '../helpers/postgres.ts';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export interface StoreFixture {
  readonly dialect: Dialect;
  readonly location: StoreLocation;
  /** Opens a store at the location (closed after the test). */
  open(options?: OpenStoreOptions): Promise<Store>;
}

let template: Promise<string> | undefined;

/** A database migrated once per process, which test databases copy (much faster than migrating each). */
function migratedTemplate(server: PostgresServer): Promise<string> {
  template ??= (async () => {
    const name = await server.createDatabase();
    await (await openStore({ databaseUrl: server.url(name) })).close();
    return name;
  })();
  return template;
}

/** A fresh location of one dialect; undefined when the test was skipped for a missing peer. */
export async function storeFixture(t: TestContext, dialect: Dialect): Promise<StoreFixture | undefined> {
  let location: StoreLocation;
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'vouch-store-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    location = { dataDir: join(dir, 'data') };
  } else {
    const server = await postgresForTest(t);
    if (!server) return undefined;
    location = { databaseUrl: server.url(await server.createDatabase(await migratedTemplate(server))) };
  }
  const opened: Store[] = [];
  t.after(async () => {
    for (const s of opened.reverse()) await s.close();
  });
  return {
    dialect,
    location,
    async open(options) {
      const store = await openStore(location, options);
      opened.push(store);
      return store;
    },
  };
}

/** Registers the test once per dialect. */
export function storeTest(name: string, fn: (t: TestContext, fixture: StoreFixture) => Promise<void>): void {
  for (const dialect of DIALECTS) {
    test(`${name} [${dialect}]`, async (t) => {
      const fixture = await storeFixture(t, dialect);
      if (fixture) await fn(t, fixture);
    });
  }
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 0, 1)): { now: () => number; advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

let serial = 0;
/** A node with a unique name and EK (TPM blobs are opaque bytes to the store). */
export function newNode(overrides: Partial<NewNode> = {}): NewNode {
  serial++;
  return {
    name: `worker-${serial}`,
    status: 'pending-activation',
    ekPublic: new Uint8Array(randomBytes(314)),
    ekName: new Uint8Array([0x00, 0x0b, ...randomBytes(32)]),
    ekKind: 'rsa',
    akPublic: new Uint8Array(randomBytes(90)),
    akName: new Uint8Array([0x00, 0x0b, ...randomBytes(32)]),
    ...overrides,
  };
}
