#!/usr/bin/env node
// Entry point of `vouch` under Node.js: Node 24 runs the TypeScript sources directly (type stripping).
//
// Which Node runs this: `npx vouch` and `npm run` put node_modules/.bin first on PATH, so `env node`
// finds the Node 24 that the `node` dependency pins, while npm itself runs on whatever Node the
// system has (Debian 12's is older). That is why package.json declares no `engines.node`: npm checks
// that field against its own Node, not against the one that runs Vouch, and so printed EBADENGINE
// warnings before Vouch's output on the first `npx vouch` of every checkout. The check that matters
// is this one, on the Node that actually runs the code. It must parse on old Node versions too, so
// everything else is imported only after it.
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `vouch: ERR_CLI_RUNTIME: Vouch runs on Node.js 24 or later, this is ${process.version} (${process.execPath}); ` +
      'run it as `npx vouch` in the checkout, which uses the Node 24 that npm installed into node_modules/.bin\n',
  );
  process.exit(1);
}

// Node's compile cache keeps each module's type-stripped source and V8 code, so later runs skip the
// TypeScript stripper (whose start alone costs more than the rest of `vouch --help`) and most
// compilation. The directory is this checkout's node_modules/.cache, not the default under
// os.tmpdir(): a cache entry is code that runs, and any local user can create /tmp/node-compile-cache
// first and fill it for a root `vouch` to execute. Here it is writable by exactly those who can
// already change the sources beside it. An unwritable directory only costs speed, so the status is
// not checked; NODE_COMPILE_CACHE, when set, was applied by Node before this file ran and wins.
module.enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/vouch-compile-cache', import.meta.url)));

const [{ runAsProcess }, { allCommands }] = await Promise.all([import('../src/cli/main.ts'), import('../src/cli/commands/index.ts')]);
await runAsProcess(allCommands);
