import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const DemoErrorCode = defineErrorCodes('demo', {
  ERR_DEMO_FLEET_SIZE: 'The demo fleet size is out of range (--nodes must be 1..MAX_FLEET_NODES).',
  ERR_DEMO_BOOT: 'The simulated firmware cannot log a predicted event (an event type the demo boot does not model).',
  ERR_DEMO_ENROLLMENT: 'A demo node failed enrollment: its AK is not a restricted, fixed, TPM-generated signing key, or the activated credential differs from the one issued.',
});
export type DemoErrorCodeName = keyof typeof DemoErrorCode;

export class DemoError extends VouchError {
  constructor(code: DemoErrorCodeName, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
