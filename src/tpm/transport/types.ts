/**
 * TPM I/O is one method: command bytes in, response bytes out (as go-tpm tpm2/transport).
 * Implementations: the Linux resource manager device, swtpm / MS-simulator sockets, and the
 * in-process software TPM. Commands are sent one at a time; callers need not serialize.
 */
export interface TpmTransport {
  send(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}
