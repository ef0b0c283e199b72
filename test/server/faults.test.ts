// Faults under load: `vouch serve` as a child process SIGKILLed while a fleet is mid-enrollment
// and mid-release, then restarted on the same data directory; PostgreSQL stopped and started
// under a running server; one of two replicas on one PostgreSQL killed during a boot storm. Nodes
// are sim: TPMs booting release v1 and talking the real protocol; each retries after a failure
// once the test has restored service (no sleeps). Afterwards, from the store itself: every node
// was served, each holds one disk key (version 1) and received exactly that key, no session was
// released twice, and the audit chain is intact.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { VouchClient, attest, enroll, isTransient } from '../../src/agent/index.ts';
import { SECRET_NAMES, SecretBroker, loadMasterKey } from '../../src/broker/index.ts';
import { toHex } from '../../src/bytes/index.ts';
import { AdminApi, SimulatedNode, createReferences, importReferences, type DemoReferences } from '../../src/demo/index.ts';
import { isVouchError } from '../../src/errors/index.ts';
import { openStore, type AuditEntry, type Store, type StoreLocation } from '../../src/store/index.ts';
import { repoRoot } from '../helpers/cli.ts';
import { packageFile } from '../helpers/peers.ts';
import { postgresForTest } from '../helpers/postgres.ts';

const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const FLEET = 6;
/** Bounds a node's retries: a fault the test did not cause must fail the test, not hang it. */
const MAX_ATTEMPTS = 40;

let references: DemoReferences | undefined;
function demoReferences(t: TestContext): DemoReferences | undefined {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return undefined;
  references ??= createReferences(new Uint8Array(readFileSync(SYSTEMD_STUB)));
  return references;
}

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token?: string;
  readonly exit: Promise<number | null>;
  /** What it wrote to stderr so far (its JSON log). */
  log(): string;
}

/** Starts `vouch serve` (bin/vouch.js) and waits for the line naming its URL. */
function serve(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/vouch.js'), 'serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const token = /initial admin token \(shown once, store it now\): (\S+)/.exec(stderr)?.[1];
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) resolve({ child, url, exit, log: () => stderr, ...(token ? { token } : {}) });
    });
    void exit.then((code) => reject(new Error(`vouch serve exited ${code}: ${stderr.slice(-2000)}`)));
  });
}

/**
 * Where nodes find a live server. A node that fails with a transient error asks for a server of a
 * later generation than the one that failed it; the test starts a new generation when it restores
 * service (a restarted server, PostgreSQL back, the survivor left alone).
 */
class Cluster {
  #servers: string[];
  #generation = 0;
  #waiting: (() => void)[] = [];

  constructor(urls: readonly string[]) {
    this.#servers = [...urls];
  }

  get generation(): number {
    return this.#generation;
  }

  /** A live server for node `i`, of a generation after `failedIn` (now, if there is one). */
  async server(i: number, failedIn?: number): Promise<{ url: string; generation: number }> {
    while (failedIn !== undefined && this.#generation <= failedIn) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return { url: this.#servers[i % this.#servers.length]!, generation: this.#generation };
  }

  /** Service is restored: these servers are the live ones. */
  restored(urls: readonly string[]): void {
    this.#servers = [...urls];
    this.#generation++;
    for (const wake of this.#waiting.splice(0)) wake();
  }
}

interface Served1 {
  readonly nodeId: string;
  readonly diskKey: string;
}

type Moment = 'enrolled' | 'released';

/** One node: enroll, attest, until it holds its secrets; retries after each failure the cluster recovers from. */
async function serveNode(node: SimulatedNode, i: number, cluster: Cluster, onMoment: (moment: Moment) => void): Promise<Served1> {
  let nodeId: string | undefined;
  let failedIn: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const { url, generation } = await cluster.server(i, failedIn);
    const client = new VouchClient({ server: url, timeoutMs: 60_000 });
    try {
      if (nodeId === undefined) {
        const enrolled = await enroll(client, node.tpm, { ek: node.ek, ak: node.ak, hostname: node.plan.name });
        assert.equal(enrolled.status, 'enrolled');
        nodeId = enrolled.nodeId;
        onMoment('enrolled');
      }
      const { response, secrets } = await attest(client, node.tpm, { nodeId, ak: node.ak, eventLog: node.eventLog });
      assert.equal(response.status, 'affirming', JSON.stringify(response.reasons));
      assert.ok(secrets, `${node.plan.name}: affirmed, so its secrets came`);
      onMoment('released');
      return { nodeId, diskKey: secrets.diskKey };
    } catch (e) {
      // A server killed mid-request, a database away: transient. A challenge whose answer the dead
      // server consumed, or a session it created but never finished: answered again from the start.
      const retry = isTransient(e) || (isVouchError(e) && ['ERR_ENROLL_NOT_FOUND', 'ERR_ATTEST_SESSION_INVALID'].includes(e.code));
      if (!retry || attempt >= MAX_ATTEMPTS) throw e;
      failedIn = generation;
    }
  }
}

/** Asks /readyz until it answers 200: each refusal drops a pooled connection the database restart broke. */
async function ready(url: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${url}/readyz`);
    await response.body?.cancel();
    if (response.status === 200) return;
  }
  throw new Error(`${url} never became ready again`);
}

interface Fleet {
  readonly nodes: SimulatedNode[];
  readonly allowlist: string;
}

async function bootedFleet(t: TestContext, refs: DemoReferences): Promise<Fleet> {
  const seed = toHex(randomBytes(8));
  const nodes: SimulatedNode[] = [];
  for (let i = 0; i < FLEET; i++) {
    const node = await SimulatedNode.create({ name: `node-${i + 1}`, ekAlg: 'ecc', release: 'v1', tamper: null }, seed);
    t.after(() => node.close());
    await node.boot(refs);
    nodes.push(node);
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-faults-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const allowlist = join(dir, 'config.yaml');
  await writeFile(allowlist, `enrollment:\n  ekAllowlist:\n${nodes.map((n) => `    - "${toHex(n.ek.name)}"`).join('\n')}\n`);
  return { nodes, allowlist };
}

async function allAudit(store: Store): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.audit.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    entries.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return entries;
}

/** What the store says afterwards: every node served with the one key it holds; nothing released twice. */
async function checkStore(location: StoreLocation, masterKey: string, env: NodeJS.ProcessEnv, served: readonly Served1[]): Promise<void> {
  const store = await openStore(location);
  const key = loadMasterKey(masterKey, env);
  try {
    const broker = await SecretBroker.open(store, [key]);
    assert.equal(new Set(served.map((s) => s.nodeId)).size, FLEET, 'each node has its own record');
    for (const s of served) {
      const sealed = await store.secrets.get(s.nodeId, SECRET_NAMES.luksKey);
      assert.equal(sealed?.version, 1, 'one disk key per node, never a second');
      using value = await broker.read(s.nodeId, SECRET_NAMES.luksKey);
      assert.equal(Buffer.from(value!.value).toString('base64url'), s.diskKey, 'the node received the key the broker holds');
    }
    const entries = await allAudit(store);
    const releases = entries.filter((e) => e.action === 'secrets.released');
    const resultIds = releases.map((e) => (e.details as { resultId: string }).resultId);
    assert.equal(new Set(resultIds).size, resultIds.length, 'each release its own result');
    const sessions = [];
    for (const id of resultIds) sessions.push((await store.results.get(id))!.sessionId);
    assert.equal(new Set(sessions).size, sessions.length, 'no session released twice');
    for (const s of served)
      assert.ok(
        releases.some((e) => e.subject === s.nodeId),
        'each node’s release is audited',
      );
    const chain = await store.audit.verify();
    assert.equal(chain.ok, true, JSON.stringify(chain.problems));
  } finally {
    key.close();
    await store.close();
  }
}

for (const moment of ['enrolled', 'released'] as const) {
  test(`vouch serve SIGKILLed when the first node has ${moment} (the rest in flight), restarted on its data dir: every node served once, no key lost or doubled`, async (t) => {
    const refs = demoReferences(t);
    if (!refs) return;
    const fleet = await bootedFleet(t, refs);
    const dir = await mkdtemp(join(tmpdir(), 'vouch-faults-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    const args = ['--data-dir', dataDir, '--config', fleet.allowlist];
    const first = await serve(t, args, {});
    await importReferences(new AdminApi(first.url, first.token!), refs);
    const cluster = new Cluster([first.url]);
    let killed: Promise<Served> | undefined;
    const onMoment = (m: Moment): void => {
      if (m !== moment || killed) return;
      first.child.kill('SIGKILL');
      killed = (async () => {
        await first.exit;
        const second = await serve(t, args, {});
        cluster.restored([second.url]);
        return second;
      })();
    };
    const served = await Promise.all(fleet.nodes.map((n, i) => serveNode(n, i, cluster, onMoment)));
    assert.ok(killed, 'the server was killed');
    const second = await killed;
    assert.equal(cluster.generation, 1);
    second.child.kill('SIGTERM');
    assert.equal(await second.exit, 0, second.log());
    await checkStore({ dataDir }, `file:${join(dataDir, 'master.key')}`, {}, served);
  });
}

test('PostgreSQL stopped and started under load: the server answers 503 meanwhile, then every node is served', async (t) => {
  const refs = demoReferences(t);
  if (!refs) return;
  const pg = await postgresForTest(t);
  if (!pg) return;
  const fleet = await bootedFleet(t, refs);
  const env = { VOUCH_FAULTS_MASTER_KEY: randomBytes(32).toString('hex') };
  const url = pg.url(await pg.createDatabase());
  const server = await serve(t, ['--database', url, '--master-key', 'env:VOUCH_FAULTS_MASTER_KEY', '--config', fleet.allowlist], env);
  t.after(() => server.child.kill('SIGTERM'));
  await importReferences(new AdminApi(server.url, server.token!), refs);
  const cluster = new Cluster([server.url]);
  let restarted: Promise<void> | undefined;
  const onMoment = (m: Moment): void => {
    if (m !== 'enrolled' || restarted) return;
    restarted = (async () => {
      await pg.restart();
      await ready(server.url).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; the server's log: ${server.log().slice(-3000)}`, { cause: e });
      });
      cluster.restored([server.url]);
    })();
  };
  const served = await Promise.all(fleet.nodes.map((n, i) => serveNode(n, i, cluster, onMoment))).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; the server's log: ${server.log().slice(-3000)}`, { cause: e });
  });
  await restarted;
  await checkStore({ databaseUrl: url }, 'env:VOUCH_FAULTS_MASTER_KEY', env, served);
});

test('two replicas on one PostgreSQL, one SIGKILLed during the boot storm: the survivor finishes every node', async (t) => {
  const refs = demoReferences(t);
  if (!refs) return;
  const pg = await postgresForTest(t);
  if (!pg) return;
  const fleet = await bootedFleet(t, refs);
  const env = { VOUCH_FAULTS_MASTER_KEY: randomBytes(32).toString('hex') };
  const url = pg.url(await pg.createDatabase());
  const args = ['--database', url, '--master-key', 'env:VOUCH_FAULTS_MASTER_KEY', '--config', fleet.allowlist];
  const a = await serve(t, args, env);
  const b = await serve(t, args, env);
  t.after(() => b.child.kill('SIGTERM'));
  await importReferences(new AdminApi(a.url, a.token!), refs);
  const cluster = new Cluster([a.url, b.url]);
  let killed = false;
  const onMoment = (m: Moment): void => {
    if (m !== 'enrolled' || killed) return;
    killed = true;
    a.child.kill('SIGKILL');
    void a.exit.then(() => cluster.restored([b.url]));
  };
  const served = await Promise.all(fleet.nodes.map((n, i) => serveNode(n, i, cluster, onMoment)));
  assert.ok(killed);
  await checkStore({ databaseUrl: url }, 'env:VOUCH_FAULTS_MASTER_KEY', env, served);
});
