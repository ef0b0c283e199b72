export { VouchError, defineErrorCodes, registeredErrorCodes, isVouchError } from './vouch-error.ts';
export type { ErrorDetails, ErrorCodeTable } from './vouch-error.ts';
