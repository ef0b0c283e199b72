import { open } from 'node:fs/promises';
import { TPM_LIMITS } from '../constants.ts';
import { TpmError } from '../errors.ts';
import type { TpmTransport } from './types.ts';

/**
 * A TPM character device: `/dev/tpmrm0` (the kernel resource manager, which swaps transient
 * objects and sessions so several clients can share the TPM) or `/dev/tpm0` (raw, single user).
 * The kernel returns one whole response per read.
 */
export async function openDevice(path: string): Promise<TpmTransport> {
  let fh;
  try {
    fh = await open(path, 'r+');
  } catch (e) {
    throw new TpmError('ERR_TPM_TRANSPORT', `cannot open TPM device ${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
  const handle = fh;
  let queue: Promise<unknown> = Promise.resolve();
  const exchange = async (command: Uint8Array): Promise<Uint8Array> => {
    try {
      await handle.write(command);
      const buf = new Uint8Array(TPM_LIMITS.MAX_RESPONSE);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      return buf.slice(0, bytesRead);
    } catch (e) {
      throw new TpmError('ERR_TPM_TRANSPORT', `${path}: ${(e as Error).message}`, { path }, { cause: e });
    }
  };
  return {
    send(command) {
      const p = queue.then(() => exchange(command));
      queue = p.catch(() => undefined);
      return p;
    },
    close: () => handle.close(),
  };
}
