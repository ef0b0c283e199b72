// `vouch demo`: the whole attestation story against a real `vouch serve` on the embedded store, on
// 127.0.0.1 port 0 — releases imported through the admin API, a simulated fleet enrolled, booted
// and attested over HTTP — then the table, every refusal's reasons, and the server kept serving
// until Ctrl-C. With --exit it stops there and exits 0 only when every expectation held.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { CliInput, onFile, readFileAs, readInputFile, DEBIAN_SYSTEMD_STUB } from '../files.ts';
import {
  AdminApi,
  ArtifactLayout,
  DEFAULT_FLEET_NODES,
  DemoError,
  MAX_FLEET_NODES,
  demoResult,
  importReferences,
  prepareDemo,
  renderDemo,
  runFleet,
  writeDemoArtifacts,
  type NodeRun,
} from '../../demo/index.ts';
import { SECRET_NAMES } from '../../broker/index.ts';
import { toHex } from '../../bytes/index.ts';
import { makeDirectory } from '../../io/index.ts';
import { resolveConfig } from '../../server/config.ts';
import { serverLogger, startServer, type RunningServer } from '../../server/server.ts';

/** Nodes in flight at once: enough to overlap one node's TPM work with another's HTTP round trips. */
const CONCURRENCY = 4;
const BAR_WIDTH = 24;

async function readStub(ctx: CommandContext): Promise<Uint8Array> {
  const given = optionalString(ctx, 'stub');
  if (given !== undefined) return readInputFile(ctx, given, CliInput.image);
  if (!existsSync(DEBIAN_SYSTEMD_STUB)) {
    throw new DemoError(
      'ERR_DEMO_STUB_MISSING',
      `${DEBIAN_SYSTEMD_STUB} not found: install systemd-boot-efi (make demo does: scripts/install-deps.sh) or pass --stub PATH`,
      { path: DEBIAN_SYSTEMD_STUB },
    );
  }
  return readFileAs(DEBIAN_SYSTEMD_STUB, DEBIAN_SYSTEMD_STUB, CliInput.image);
}

function fleetSize(text: string | undefined): number {
  if (text === undefined) return DEFAULT_FLEET_NODES;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_FLEET_NODES)
    throw new UsageError(`--fleet must be a whole number 1..${MAX_FLEET_NODES}, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** The fleet's progress: one redrawn line on a terminal, a plain line per node otherwise (never with --json). */
function progressReporter(ctx: CommandContext): (run: NodeRun, done: number, total: number) => void {
  const tty = Boolean((ctx.io.stderr as { isTTY?: boolean }).isTTY);
  return (run, done, total) => {
    if (ctx.json) return;
    const what = `${run.plan.name} ${run.observed.status ?? run.observed.error?.code ?? 'not appraised'}${run.observed.secrets?.decrypted ? ', secrets decrypted' : ''}`;
    if (tty) {
      const filled = Math.round((done / total) * BAR_WIDTH);
      ctx.io.stderr.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} ${what}${done === total ? '\n' : ''}`);
    } else {
      ctx.io.stderr.write(`vouch demo: ${done}/${total} ${what}\n`);
    }
  };
}

/** Resolves when the process is told to stop (Ctrl-C or SIGTERM). */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The dashboard's URL when this server has one. */
async function dashboardUrl(server: RunningServer): Promise<string | undefined> {
  const url = `${server.url}/ui`;
  try {
    const response = await fetch(url, { redirect: 'manual' });
    await response.body?.cancel();
    return response.status < 400 ? url : undefined;
  } catch {
    return undefined;
  }
}

const demo: CommandHandler = {
  async run(ctx) {
    const started = process.hrtime.bigint();
    const nodes = fleetSize(optionalString(ctx, 'fleet'));
    const seed = optionalString(ctx, 'seed') ?? randomBytes(8).toString('hex');
    const exitWhenDone = ctx.values.exit === true;
    const stub = await readStub(ctx);
    const dataDirOption = optionalString(ctx, 'data-dir');
    const dataDir = dataDirOption === undefined ? undefined : resolve(ctx.io.cwd, dataDirOption);
    const serverDir = dataDir && join(dataDir, ArtifactLayout.server);
    if (serverDir && existsSync(serverDir) && readdirSync(serverDir).length > 0) {
      throw new DemoError(
        'ERR_DEMO_DATA_DIR',
        `${serverDir} already holds a demo server's store: serve it with vouch serve --data-dir ${serverDir}, or give an empty --data-dir`,
        {
          path: serverDir,
        },
      );
    }
    // Without --data-dir the store and the server's database still go to real files, in a directory removed afterwards.
    const workDir = dataDir ?? (await mkdtemp(join(tmpdir(), 'vouch-demo-')));
    let server: RunningServer | undefined;
    let prepared: Awaited<ReturnType<typeof prepareDemo>> | undefined;
    try {
      const storeDir = join(workDir, ArtifactLayout.store);
      await onFile(storeDir, () => makeDirectory(storeDir));
      prepared = await prepareDemo({ nodes, seed, stub, storeDir, progress: ctx.log });
      // The operator's side: the fleet's EKs are allowlisted (any other EK waits for approval).
      const config = resolveConfig(
        { enrollment: { ekAllowlist: prepared.nodes.map((n) => toHex(n.ek.name)), approvalQueue: true } },
        { dataDir: join(workDir, ArtifactLayout.server), listen: '127.0.0.1:0' },
      );
      server = await startServer(config, { log: serverLogger('warn', ctx.io.stderr), env: ctx.io.env });
      const adminToken = server.initialAdminToken;
      if (adminToken === undefined) throw new DemoError('ERR_DEMO_DATA_DIR', 'the demo server started on an existing store and made no admin token', {});
      ctx.log(`vouch serve listening on ${server.url}; importing reference sets v1, v2 and the policy through the admin API`);
      const admin = new AdminApi(server.url, adminToken);
      const imported = await importReferences(admin, prepared.references);
      const broker = server.ctx.broker;
      const runs = await runFleet({
        server: server.url,
        admin,
        refs: prepared.references,
        nodes: prepared.nodes,
        concurrency: CONCURRENCY,
        sealedDiskKey: async (nodeId) => {
          using sealed = await broker.read(nodeId, SECRET_NAMES.luksKey);
          return sealed && new Uint8Array(sealed.value);
        },
        onNode: progressReporter(ctx),
      });
      const result = demoResult(seed, prepared, { url: server.url, policyVersion: imported.policyVersion }, runs);
      const artifacts = dataDir === undefined ? undefined : await writeDemoArtifacts(dataDir, { references: prepared.references, result, runs });
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      const text = renderDemo(result, artifacts, elapsed);
      const allHeld = result.summary.asExpected === result.summary.nodes;
      const outcome = { result: { ...result, ...(artifacts ? { artifacts } : {}) }, ...(allHeld ? {} : { exitCode: ExitCode.notVerified }) };
      if (exitWhenDone) return { ...outcome, text };

      const stopped = stopSignal();
      const ui = await dashboardUrl(server);
      if (!ctx.json) {
        ctx.io.stdout.write(text);
        ctx.io.stdout.write(
          [
            '',
            `Vouch is serving: API ${server.url}/v1 (OpenAPI ${server.url}/v1/openapi.json)${ui ? `, dashboard ${ui}` : ''}`,
            `admin token: ${adminToken}`,
            'Ctrl-C stops it.',
            '',
          ].join('\n'),
        );
      }
      const signal = await stopped;
      return { ...outcome, text: `vouch demo: stopped (${signal})` };
    } finally {
      await server?.close();
      await Promise.all(prepared?.nodes.map((n) => n.close()) ?? []);
      if (dataDir === undefined) await rm(workDir, { recursive: true, force: true });
    }
  },
};

export const handlers = { demo } satisfies Record<string, CommandHandler>;
