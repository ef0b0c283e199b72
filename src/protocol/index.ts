// The agent ↔ server protocol: message schemas (TypeBox, declared once) and the quote binding.
export * from './messages.ts';
export { jwkThumbprint, qualifyingData } from './binding.ts';
