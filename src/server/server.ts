// `vouch serve` as a library: open the store and the key broker, make the embedded defaults on a
// first start, build the app and listen; close drains (stop accepting, finish what is in flight,
// deliver pending webhooks) and closes the store. Tests and the CLI both start servers through
// this, on 127.0.0.1 port 0 or wherever the configuration says.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { stringify as yamlStringify } from 'yaml';
import { SecretBroker, createMasterKeyFile, loadMasterKey, type MasterKey } from '../broker/index.ts';
import { DEFAULT_POLICY } from '../policy/index.ts';
import { openStore, type Store } from '../store/index.ts';
import type { RandomSource } from '../tpm/crypto/index.ts';
import { buildApp, type App } from './app.ts';
import { CatalogCache } from './catalog.ts';
import type { ServerConfig } from './config.ts';
import type { ServerContext } from './context.ts';
import { ServerError } from './errors.ts';
import { WebhookDispatcher } from './events.ts';
import { loadClusterCa } from './join.ts';
import { EarKeys } from './keys.ts';
import { ServerMetrics } from './metrics.ts';
import { StaleSweep } from './stale.ts';

/** The master key a data directory gets on its first start when none is configured. */
export const EMBEDDED_MASTER_KEY_FILE = 'master.key';
/** This build, as attestation results name their verifier. */
export const VERIFIER_BUILD = 'vouch/0.1.0';
/** Log fields that may carry a secret: never written, whatever a handler logs. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'secrets',
  'diskKey',
  'masterKey',
  '*.token',
  '*.secret',
  '*.secrets',
  '*.diskKey',
];

export interface ServerOptions {
  /** Milliseconds since the epoch (default Date.now): expiry, appraisal time and results read it. */
  readonly clock?: () => number;
  readonly random?: RandomSource;
  readonly log?: Logger;
  /** Where env: master keys are read. */
  readonly env?: NodeJS.ProcessEnv;
  /** Waits between webhook retries (tests inject one that does not sleep). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface OpenedServer {
  readonly ctx: ServerContext;
  readonly store: Store;
  /** Printed once on the first start (only its digest is stored); undefined afterwards. */
  readonly initialAdminToken?: string;
  /** The master key file made on this first start, if one was. */
  readonly createdMasterKeyFile?: string;
  close(): Promise<void>;
}

/** JSON logs to stderr (pino), secrets redacted. */
export function serverLogger(level = 'info', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } }, destination as pino.DestinationStream);
}

function masterKeys(config: ServerConfig, env: NodeJS.ProcessEnv): { keys: MasterKey[]; created?: string } {
  let specs = config.masterKeys;
  let created: string | undefined;
  if (specs.length === 0) {
    // Embedded default (resolveConfig allows it only with a data directory): a key file beside the database, owner-only.
    if (!('dataDir' in config.location)) throw new ServerError('ERR_SERVER_CONFIG', 'a PostgreSQL store needs --master-key', { setting: 'masterKey' });
    const file = join(config.location.dataDir, EMBEDDED_MASTER_KEY_FILE);
    if (!existsSync(file)) {
      createMasterKeyFile(file);
      created = file;
    }
    specs = [`file:${file}`];
  }
  const keys: MasterKey[] = [];
  try {
    for (const spec of specs) keys.push(loadMasterKey(spec, env));
  } catch (e) {
    for (const k of keys) k.close();
    throw e;
  }
  return { keys, ...(created ? { created } : {}) };
}

/** What a first start makes besides the master key: the initial admin token and the default policy. */
async function firstStart(store: Store): Promise<string | undefined> {
  let token: string | undefined;
  if ((await store.adminTokens.list({ limit: 1 })).items.length === 0) {
    const created = await store.adminTokens.create({ name: 'initial-admin', role: 'admin' });
    await store.audit.append({ actor: 'server', action: 'token.created', subject: created.record.id, details: { name: 'initial-admin', role: 'admin' } });
    token = created.token;
  }
  if ((await store.policies.list({ limit: 1 })).items.length === 0) {
    await store.policies.create({ text: yamlStringify(DEFAULT_POLICY), description: 'the default policy', createdBy: 'server', activate: true });
  }
  return token;
}

/** Opens everything a server works with, without listening. */
export async function openServer(config: ServerConfig, options: ServerOptions = {}): Promise<OpenedServer> {
  const log = options.log ?? serverLogger();
  const clock = options.clock ?? Date.now;
  const store = await openStore(config.location, { clock });
  let keys: MasterKey[] = [];
  try {
    const opened = masterKeys(config, options.env ?? process.env);
    keys = opened.keys;
    const broker = await SecretBroker.open(store, keys);
    const earKeys = await EarKeys.open(broker);
    const initialAdminToken = await firstStart(store);
    const metrics = new ServerMetrics();
    const webhooks = new WebhookDispatcher(
      store,
      broker,
      {
        attempts: config.webhooks.attempts,
        timeoutMs: config.webhooks.timeoutMs,
        sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())),
        now: clock,
      },
      metrics,
      log,
    );
    const clusterCa = config.join.clusterCa && (await loadClusterCa(config.join.clusterCa.cert, config.join.clusterCa.key));
    const ctx: ServerContext = {
      config,
      store,
      broker,
      keys: earKeys,
      catalog: new CatalogCache(store),
      webhooks,
      metrics,
      log,
      ...(clusterCa ? { clusterCa } : {}),
      now: () => new Date(clock()),
      random: options.random ?? ((n) => new Uint8Array(randomBytes(n))),
      verifierBuild: VERIFIER_BUILD,
    };
    const closeAll = async (): Promise<void> => {
      await webhooks.drain();
      for (const k of keys) k.close();
      await store.close();
    };
    return {
      ctx,
      store,
      ...(initialAdminToken ? { initialAdminToken } : {}),
      ...(opened.created ? { createdMasterKeyFile: opened.created } : {}),
      close: closeAll,
    };
  } catch (e) {
    for (const k of keys) k.close();
    await store.close();
    throw e;
  }
}

export interface RunningServer extends OpenedServer {
  readonly app: App;
  /** http(s)://host:port as it listens (the port chosen when 0 was asked). */
  readonly url: string;
}

/**
 * Starts a server: opens it, listens, runs the stale sweep. close() stops accepting, waits for the
 * requests in flight, stops the sweep, delivers pending webhooks and closes the store.
 */
export async function startServer(config: ServerConfig, options: ServerOptions = {}): Promise<RunningServer> {
  const opened = await openServer(config, options);
  let draining = false;
  let app: App;
  try {
    app = await buildApp(opened.ctx, { accepting: () => !draining, ...(config.tls ? { https: config.tls } : {}) });
  } catch (e) {
    await opened.close();
    throw e;
  }
  let address: string;
  try {
    address = await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (e) {
    await app.close();
    await opened.close();
    throw new ServerError('ERR_SERVER_LISTEN', `cannot listen on ${config.listen.host}:${config.listen.port}: ${(e as Error).message}`, {}, { cause: e });
  }
  const sweep = new StaleSweep(opened.ctx);
  sweep.start();
  let closing: Promise<void> | undefined;
  return {
    ...opened,
    app,
    url: address,
    close() {
      closing ??= (async () => {
        draining = true;
        sweep.stop();
        await app.close();
        await sweep.idle();
        await opened.close();
      })();
      return closing;
    },
  };
}
