// Entry of the single executable: scripts/build-executable.ts bundles this file (CommonJS, by
// esbuild) into Node's single-executable application. Its table is the standalone one, so nothing a
// server-side command needs is bundled.
import { standaloneCommands } from './commands/standalone.ts';
import { runAsProcess } from './main.ts';

void runAsProcess(standaloneCommands);
