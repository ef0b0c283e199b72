// Server test helpers: a real `vouch serve` (startServer) on 127.0.0.1 port 0 over the embedded
// store or a real PostgreSQL, with the demo's two releases imported as reference sets through the
// admin API; and simulated nodes (in-process software TPMs) that boot a release with a real
// measured-boot log and talk to the server through the real protocol client.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { readFileSync } from 'node:fs';
import { VouchClient, attest, enroll, type AttestOutcome, type EnrollOutcome } from '../../src/agent/index.ts';
import { toHex } from '../../src/bytes/index.ts';
import {
  DEMO_BANKS,
  createReferences,
  demoFirmware,
  extendEvents,
  logEventsOf,
  predictBoot,
  kernelCommandLine,
  type DemoReferences,
} from '../../src/demo/index.ts';
import { encodeEventLog, type EventToEncode } from '../../src/eventlog/index.ts';
import { resolveConfig, type ConfigDocument } from '../../src/server/config.ts';
import { serverLogger, startServer, type RunningServer } from '../../src/server/server.ts';
import type { Dialect } from '../../src/store/index.ts';
import { Tpm, objectName, type KeyAlg, type Loaded } from '../../src/tpm/index.ts';
import { postgresForTest } from '../helpers/postgres.ts';
import { packageFile } from '../helpers/peers.ts';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];
export const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

let references: DemoReferences | undefined;

/** The demo's releases v1 and v2 (built once per process); undefined after skipping for a missing stub. */
export function demoReferences(t: TestContext): DemoReferences | undefined {
  if (!packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi')) return undefined;
  references ??= createReferences(new Uint8Array(readFileSync(SYSTEMD_STUB)));
  return references;
}

/** Log lines the server wrote, for tests that read them (no secret may appear). */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly adminToken: string;
  readonly client: VouchClient;
  readonly log: LogCapture;
  readonly refs: DemoReferences;
  /** Calls the admin API with the initial admin token (or `token`). */
  admin(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: unknown; headers: Headers }>;
}

export interface ServerFixtureOptions {
  readonly document?: ConfigDocument;
  /** Import and activate both demo releases (default true). */
  readonly releases?: boolean;
  readonly clock?: () => number;
}

/** A started server of one dialect, closed after the test; undefined when skipped for a missing peer. */
export async function startTestServer(t: TestContext, dialect: Dialect, options: ServerFixtureOptions = {}): Promise<TestServer | undefined> {
  const refs = demoReferences(t);
  if (!refs) return undefined;
  const env: NodeJS.ProcessEnv = {};
  let overrides: Parameters<typeof resolveConfig>[1];
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'vouch-server-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    overrides = { dataDir: join(dir, 'data'), listen: '127.0.0.1:0' };
  } else {
    const pg = await postgresForTest(t);
    if (!pg) return undefined;
    env.VOUCH_TEST_MASTER_KEY = randomBytes(32).toString('hex');
    overrides = { database: pg.url(await pg.createDatabase()), listen: '127.0.0.1:0', masterKeys: ['env:VOUCH_TEST_MASTER_KEY'] };
  }
  const log = new LogCapture();
  const config = resolveConfig(options.document ?? {}, overrides);
  const server = await startServer(config, {
    env,
    log: serverLogger('info', log),
    sleep: () => Promise.resolve(),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  t.after(() => server.close());
  const adminToken = server.initialAdminToken!;
  const admin: TestServer['admin'] = async (method, path, body, token = adminToken) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: response.headers };
  };
  const fixture: TestServer = { server, url: server.url, adminToken, client: new VouchClient({ server: server.url }), log, refs, admin };
  if (options.releases ?? true) {
    for (const set of refs.references) {
      const content = refs.catalog.values.sets.find((s) => s.version === set.version)!;
      const r = await admin('POST', '/v1/admin/reference-sets', {
        name: set.version,
        prediction: { sets: [content] },
        composefsDigest: `composefs=${set.composefsDigest}`,
        activate: true,
      });
      if (r.status !== 200) throw new Error(`importing ${set.version}: ${JSON.stringify(r.body)}`);
    }
  }
  return fixture;
}

/** Registers the test once per dialect, each with its own server. */
export function serverTest(name: string, fn: (t: TestContext, s: TestServer) => Promise<void>, options: ServerFixtureOptions = {}): void {
  for (const dialect of DIALECTS) {
    test(`${name} [${dialect}]`, async (t) => {
      const s = await startTestServer(t, dialect, options);
      if (s) await fn(t, s);
    });
  }
}

/** A simulated node: its own software TPM with an EK and an AK loaded. */
export interface SimNode {
  readonly name: string;
  readonly tpm: Tpm;
  readonly ek: Loaded;
  readonly ak: Loaded;
  /** The EK's TPM Name (hex), as allowlists hold it. */
  readonly ekName: string;
}

export async function simNode(t: TestContext, name: string, ekAlg: KeyAlg = 'ecc'): Promise<SimNode> {
  const tpm = await Tpm.open(`sim:seed=${toHex(randomBytes(16))}`);
  t.after(() => tpm.close());
  const ek = await tpm.createEK(ekAlg);
  const srk = await tpm.createSRK('ecc');
  const created = await tpm.createAK(srk, 'ecc').finally(() => srk.flush());
  return { name, tpm, ek, ak: created.key, ekName: toHex(objectName(ek.public)) };
}

export function enrollNode(s: TestServer, node: SimNode): Promise<EnrollOutcome> {
  return enroll(s.client, node.tpm, { ek: node.ek, ak: node.ak, hostname: node.name });
}

/** What a boot does to the node's TPM and log; `edit` rewrites the log afterwards (an attacker's edit). */
export interface BootOptions {
  readonly release?: string;
  readonly cmdline?: string;
  readonly edit?: (events: EventToEncode[]) => EventToEncode[];
}

/** Boots a release on the node: extends its events into the TPM; returns the event log. */
export async function boot(s: TestServer, node: SimNode, options: BootOptions = {}): Promise<Uint8Array> {
  const version = options.release ?? 'v1';
  const release = s.refs.releases.find((r) => r.version === version)!;
  const reference = s.refs.references.find((r) => r.version === version)!;
  const prediction = predictBoot(demoFirmware(), version, reference.signedUki, options.cmdline ?? release.cmdline);
  const events = logEventsOf(prediction);
  await extendEvents(node.tpm, events);
  return encodeEventLog({ banks: [...DEMO_BANKS], events: options.edit ? options.edit(events) : events });
}

export function attestNode(s: TestServer, node: SimNode, nodeId: string, eventLog: Uint8Array, csr?: string): Promise<AttestOutcome> {
  return attest(s.client, node.tpm, { nodeId, ak: node.ak, eventLog, ...(csr !== undefined ? { csr } : {}) });
}

/** A command line that mounts a root image of no release. */
export function unreleasedCmdline(s: TestServer): string {
  return kernelCommandLine(s.refs.unreleasedImage.digest);
}

/** The config document that accepts these nodes' EKs by the allowlist. */
export function allowlisting(...nodes: SimNode[]): ConfigDocument {
  return { enrollment: { ekAllowlist: nodes.map((n) => n.ekName) } };
}
