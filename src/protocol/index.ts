// The agent ↔ server protocol: message schemas (TypeBox, declared once) and the quote binding.
export * from './messages.ts';
export * from './admin.ts';
export { jwkThumbprint, qualifyingData } from './binding.ts';
export { ProtocolError, ProtocolErrorCode, PROBLEM_STATUS } from './errors.ts';
export type { ProtocolErrorCodeName } from './errors.ts';
