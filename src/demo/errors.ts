import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const DemoErrorCode = defineErrorCodes('demo', {
  ERR_DEMO_FLEET_SIZE: 'The demo fleet size is out of range (--fleet must be 1..MAX_FLEET_NODES).',
  ERR_DEMO_DATA_DIR: 'The --data-dir already holds a demo server’s store (serve it with vouch serve --data-dir DIR/server, or give an empty directory).',
  ERR_DEMO_STUB_MISSING:
    'systemd-stub (linuxx64.efi.stub), the base of the demo UKIs, is not installed: install systemd-boot-efi (scripts/install-deps.sh) or pass --stub PATH.',
  ERR_DEMO_BOOT:
    'A simulated node cannot boot as asked: the prediction lacks a PCR bank the demo TPM extends (sha1, sha256, sha384), or the node has booted already (or not yet).',
});
export type DemoErrorCodeName = keyof typeof DemoErrorCode;

export class DemoError extends VouchError {
  constructor(code: DemoErrorCodeName, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
