// Public API of the in-process software TPM (the `sim:` transport).
import { SoftwareTpm, type SimulatorOptions } from './simulator.ts';

/**
 * Powers on a software TPM and returns it as a transport (`sim:` and `sim:/path/state` in openTpm).
 *
 * @example
 *   const tpm = new Tpm(await createSimulator({ seed: 'node-7' }));
 *   await using ek = await tpm.createEK('ecc');
 *
 * Caller's duties: close() it (that also writes the state file); with `statePath`, one simulator
 * per file at a time.
 */
export function createSimulator(options: SimulatorOptions = {}): Promise<SoftwareTpm> {
  return SoftwareTpm.create(options);
}

export { SoftwareTpm } from './simulator.ts';
export type { SimulatorOptions } from './simulator.ts';
export { MAX_TRANSIENT_OBJECTS, MAX_LOADED_SESSIONS, NV_BUFFER_MAX, PCR_BANKS } from './model.ts';
export { TpmSimError, TpmSimErrorCode } from './errors.ts';
export type { TpmSimErrorCodeName } from './errors.ts';
export { provisionEkCertificate, issueEkCertificate, createCertificateAuthority } from './ek-cert.ts';
export type { CertificateAuthority, CertificateOptions } from './ek-cert.ts';
