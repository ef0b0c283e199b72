/**
 * The in-process software TPM (the `sim:` transport): a TPM 2.0 that serves commands with the same
 * schemas the client sends them with, real cryptography (node:crypto and src/tpm/crypto), and the
 * answers swtpm gives (test/tpm/sim-vs-swtpm*.test.ts compare them command by command).
 *
 * Implemented: Startup/Shutdown (Reset, Restart, Resume; powerCycle()), SelfTest, TestParms,
 * GetCapability, GetRandom, ReadClock, Hash, PCR_Read/Extend/Event/Reset (sha1, sha256, sha384),
 * CreatePrimary (keys derived from the hierarchy seeds), Create, Load, LoadExternal, ReadPublic,
 * Unseal, MakeCredential, ActivateCredential, ContextSave/Load (objects), FlushContext,
 * EvictControl, Quote, Certify, Sign, HMAC, VerifySignature, StartAuthSession (HMAC, policy,
 * trial; salted, bound; AES-CFB/XOR parameter encryption), PolicyPCR/Secret/OR/GetDigest/
 * Authorize/NV/CommandCode/AuthValue/Password/Restart, NV_DefineSpace/UndefineSpace/Write/Read/
 * Extend/Increment/ReadPublic (ordinary, counter and extend indices). Password, HMAC and policy authorization with the
 * reference's codes, dictionary-attack lockout, 3 object and 3 session slots like swtpm.
 *
 * Not implemented: audit sessions, saved session contexts, NV bits/pin indices, orderly
 * counters and NV locks, PolicySecret tickets (expiration), hierarchy control and auth changes.
 *
 * Known differences from swtpm 0.7.1: no SHA-512 PCR bank (swtpm allocates one; Vouch uses sha1,
 * sha256 and sha384); NV holds at most 64 indices and 16 persistent objects (swtpm: a byte budget);
 * pcrUpdateCounter starts at 0 (swtpm: 20); one simulator per state file at a time (no lock).
 */
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
