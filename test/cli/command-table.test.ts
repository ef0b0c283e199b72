// The command table: every row loads its implementation and every implementation has a row, and a
// command loads only the modules it needs (`vouch --help` none of the commands' code). Which modules
// a run loads is read from Node's module hooks in a child process: a fact, not a timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { glob } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { allCommands } from '../../src/cli/commands/index.ts';
import { serverCommands } from '../../src/cli/commands/server-table.ts';
import { standaloneCommands } from '../../src/cli/commands/standalone.ts';
import { DEFAULT_FLEET_NODES } from '../../src/demo/index.ts';
import { repoRoot, runVouch } from '../helpers/cli.ts';

const realLog = 'test/vectors/eventlogs/debian-10.bin';

test('every row of the table loads a handler, and every handler of src/cli/commands has exactly one row', async () => {
  const rows = allCommands.map((c) => c.path.join(' '));
  assert.equal(new Set(rows).size, rows.length, 'a command path appears twice');
  for (const command of allCommands) {
    const handler = await command.load();
    assert.equal(typeof handler.run, 'function', rows.join(' '));
  }
  const handlerKeys: string[] = [];
  for await (const file of glob('src/cli/commands/*.ts', { cwd: repoRoot })) {
    const mod = (await import(pathToFileURL(join(repoRoot, file)).href)) as { handlers?: Record<string, unknown> };
    if (mod.handlers) handlerKeys.push(...Object.keys(mod.handlers));
    else assert.ok(['index.ts', 'standalone.ts', 'server-table.ts'].includes(basename(file)), `${file} exports no handlers`);
  }
  assert.deepEqual(handlerKeys.sort(), [...rows].sort());
});

test('the executable serves every command bin/vouch.js serves except the server commands (serve, admin, audit, policy, and demo, which runs the server)', () => {
  const server = new Set(serverCommands.map((c) => c.path.join(' ')));
  assert.deepEqual(
    standaloneCommands.map((c) => c.path.join(' ')),
    allCommands.map((c) => c.path.join(' ')).filter((p) => !server.has(p)),
  );
  assert.ok(server.has('demo') && server.has('serve'));
});

test('help comes from the table: top level, per command, and for an unknown word', async () => {
  const top = await runVouch(['--help']);
  assert.equal(top.code, 0);
  for (const c of allCommands) assert.ok(top.stdout.includes(`${c.path.join(' ')}  `) || top.stdout.includes(c.summary), c.path.join(' '));
  const replay = await runVouch(['eventlog', 'replay', '--help']);
  assert.equal(replay.code, 0);
  assert.match(replay.stdout, /^usage: vouch eventlog replay FILE/);
  const unknown = await runVouch(['eventlog', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /ERR_CLI_USAGE: unknown command: eventlog nope/);
});

test('vouch demo --help states the demo fleet default', async () => {
  const help = await runVouch(['demo', '--help']);
  assert.ok(help.stdout.includes(`--fleet N (default ${DEFAULT_FLEET_NODES})`), help.stdout);
});

/** The repository's source modules (and packages) that one `vouch ARGS` run loads, in a child process. */
function modulesLoaded(args: readonly string[]): string[] {
  const script = `
    import module from 'node:module';
    const seen = new Set();
    module.registerHooks({ load(url, context, next) { seen.add(url); return next(url, context); } });
    const { runAsProcess } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'src/cli/main.ts')).href)});
    const { allCommands } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'src/cli/commands/index.ts')).href)});
    await runAsProcess(allCommands);
    process.stderr.write(JSON.stringify([...seen]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', 'vouch', ...args], { cwd: repoRoot, encoding: 'utf8', env: {} });
  assert.equal(r.status, 0, r.stderr);
  const root = pathToFileURL(repoRoot).href;
  return (JSON.parse(r.stderr) as string[]).filter((u) => u.startsWith(root)).map((u) => u.slice(root.length));
}

test('vouch --help loads the dispatcher and the table, no command implementation', () => {
  const loaded = modulesLoaded(['--help']);
  assert.deepEqual(loaded.filter((m) => !m.startsWith('src/cli/') && !m.startsWith('src/errors/')).sort(), []);
  assert.deepEqual(loaded.filter((m) => m.startsWith('src/cli/commands/')).sort(), [
    'src/cli/commands/index.ts',
    'src/cli/commands/server-table.ts',
    'src/cli/commands/standalone.ts',
  ]);
});

test('vouch eventlog replay loads the event log code, not the TPM, composefs, prediction or YAML code', () => {
  const loaded = modulesLoaded(['eventlog', 'replay', realLog]);
  assert.ok(loaded.includes('src/cli/commands/eventlog.ts'));
  assert.ok(loaded.some((m) => m.startsWith('src/eventlog/')));
  const foreign = loaded.filter((m) =>
    /^src\/(tpm|composefs|predict|verifier|demo)\/|^src\/cli\/commands\/(?!eventlog|index|standalone|server-table)|^node_modules\//.test(m),
  );
  assert.deepEqual(foreign, []);
});
