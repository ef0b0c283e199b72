import type { Command } from '../command.ts';
import { serverCommands } from './server-table.ts';
import { standaloneCommands } from './standalone.ts';

/**
 * Every command bin/vouch.js serves. Commands that need server-side modules (the attestation
 * server, its store, an HSM) get a light table of their own, as ./standalone.ts is, added here and
 * never to the single executable's table.
 */
export const allCommands: readonly Command[] = [...standaloneCommands, ...serverCommands];
