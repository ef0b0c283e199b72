import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const ServerErrorCode = defineErrorCodes('server', {
  ERR_SERVER_CONFIG:
    'The server configuration (the --config file or a flag) is invalid, or names a file that cannot be read or holds no usable PEM; the message names the setting.',
  ERR_SERVER_LISTEN: 'The server cannot listen where it was told (address in use, not an address, or TLS certificate and key that do not match).',
});
export type ServerErrorCodeName = keyof typeof ServerErrorCode;

export class ServerError extends VouchError {
  constructor(code: ServerErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
