import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const CliErrorCode = defineErrorCodes('cli', {
  ERR_CLI_USAGE: 'The command line is malformed: unknown command or option, missing argument or bad value.',
  ERR_CLI_CANCELLED: 'The operation was cancelled (interrupt).',
  ERR_CLI_IO: 'A file named on the command line could not be read or written.',
  ERR_CLI_INPUT_TOO_LARGE:
    'A file named on the command line is larger than the most the command reads of its kind (event log, image, document); the message names the limit. Reading stops there, so /dev/zero or a FIFO cannot fill memory.',
  ERR_CLI_INTERNAL: 'An unexpected internal failure (a bug): the message and --verbose stack help report it.',
  // Printed by bin/vouch.js itself, before any module that an older Node could not load.
  ERR_CLI_RUNTIME: 'bin/vouch.js was started by a Node.js older than 24: run `npx vouch` in the checkout, which uses the Node 24 that npm installed.',
});

export class CliError extends VouchError {
  constructor(code: keyof typeof CliErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
