// `vouch demo`: the whole attestation story on embedded defaults, in-process, in a few seconds.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { CliInput, onFile, readFileAs, readInputFile, DEBIAN_SYSTEMD_STUB } from '../files.ts';
import { ArtifactLayout, DEFAULT_FLEET_NODES, DemoError, MAX_FLEET_NODES, renderDemo, runDemo, writeDemoArtifacts } from '../../demo/index.ts';
import { makeDirectory } from '../../io/index.ts';

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

function nodeCount(text: string | undefined): number {
  if (text === undefined) return DEFAULT_FLEET_NODES;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_FLEET_NODES)
    throw new UsageError(`--nodes must be a whole number 1..${MAX_FLEET_NODES}, not ${JSON.stringify(text)}`);
  return Number(text);
}

const demo: CommandHandler = {
  async run(ctx) {
    const started = process.hrtime.bigint();
    const nodes = nodeCount(optionalString(ctx, 'nodes'));
    const seed = optionalString(ctx, 'seed') ?? randomBytes(8).toString('hex');
    const stub = await readStub(ctx);
    const dataDirOption = optionalString(ctx, 'data-dir');
    const dataDir = dataDirOption === undefined ? undefined : resolve(ctx.io.cwd, dataDirOption);
    // Without --data-dir the releases' objects still go to a real store, in a directory removed afterwards.
    const workDir = dataDir ?? (await mkdtemp(join(tmpdir(), 'vouch-demo-')));
    try {
      const storeDir = join(workDir, ArtifactLayout.store);
      await onFile(storeDir, () => makeDirectory(storeDir));
      const run = await runDemo({ nodes, seed, stub, storeDir, now: new Date(), progress: ctx.log });
      const artifacts = dataDir === undefined ? undefined : await writeDemoArtifacts(dataDir, run);
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      return { result: { ...run.result, ...(artifacts ? { artifacts } : {}) }, text: renderDemo(run.result, artifacts, elapsed) };
    } finally {
      if (dataDir === undefined) await rm(workDir, { recursive: true, force: true });
    }
  },
};

export const handlers = { demo } satisfies Record<string, CommandHandler>;
