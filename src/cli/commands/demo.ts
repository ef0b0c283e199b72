// `vouch demo`: the whole attestation story on embedded defaults, in-process, in a few seconds.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { CliError } from '../errors.ts';
import { ArtifactLayout, DEFAULT_FLEET_NODES, DemoError, MAX_FLEET_NODES, renderDemo, runDemo, writeDemoArtifacts } from '../../demo/index.ts';

/** Where Debian's systemd-boot-efi installs the stub UKIs are built on. */
const DEFAULT_SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

async function readStub(path: string, given: boolean): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' && !given) {
      throw new DemoError('ERR_DEMO_STUB_MISSING', `${path} not found: install systemd-boot-efi (make demo does: scripts/install-deps.sh) or pass --stub PATH`, { path });
    }
    throw new CliError('ERR_CLI_IO', `${path}: ${(e as Error).message}`, { path, ...(errno ? { errno } : {}) });
  }
}

function nodeCount(text: string | undefined): number {
  if (text === undefined) return DEFAULT_FLEET_NODES;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_FLEET_NODES) throw new UsageError(`--nodes must be a whole number 1..${MAX_FLEET_NODES}, not ${JSON.stringify(text)}`);
  return Number(text);
}

const demo: Command = {
  path: ['demo'],
  summary: 'Run the attestation demo: reference values for releases v1/v2, a simulated fleet enrolled, booted, quoted and appraised',
  usage: `[--nodes N (default ${DEFAULT_FLEET_NODES})] [--seed S] [--data-dir DIR] [--stub linuxx64.efi.stub]`,
  options: { nodes: { type: 'string' }, seed: { type: 'string' }, 'data-dir': { type: 'string' }, stub: { type: 'string' } },
  async run(ctx) {
    const started = process.hrtime.bigint();
    const nodes = nodeCount(optionalString(ctx, 'nodes'));
    const seed = optionalString(ctx, 'seed') ?? randomBytes(8).toString('hex');
    const stubOption = optionalString(ctx, 'stub');
    const stub = await readStub(stubOption === undefined ? DEFAULT_SYSTEMD_STUB : resolve(ctx.io.cwd, stubOption), stubOption !== undefined);
    const dataDirOption = optionalString(ctx, 'data-dir');
    const dataDir = dataDirOption === undefined ? undefined : resolve(ctx.io.cwd, dataDirOption);
    // Without --data-dir the releases' objects still go to a real store, in a directory removed afterwards.
    const workDir = dataDir ?? (await mkdtemp(join(tmpdir(), 'vouch-demo-')));
    try {
      const storeDir = join(workDir, ArtifactLayout.store);
      try {
        await mkdir(storeDir, { recursive: true });
      } catch (e) {
        throw new CliError('ERR_CLI_IO', `${storeDir}: ${(e as Error).message}`, { path: storeDir });
      }
      const run = await runDemo({ nodes, seed, stub, storeDir, progress: ctx.log });
      const artifacts = dataDir === undefined ? undefined : await writeDemoArtifacts(dataDir, run);
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      return { result: { ...run.result, ...(artifacts ? { artifacts } : {}) }, text: renderDemo(run.result, artifacts, elapsed) };
    } finally {
      if (dataDir === undefined) await rm(workDir, { recursive: true, force: true });
    }
  },
};

export const commands: Command[] = [demo];
