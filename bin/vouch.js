#!/usr/bin/env node
// Entry point: Node 24 runs the TypeScript sources directly (type stripping).
import { runCli } from '../src/cli/main.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
