import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext } from './command.ts';
import { CliError } from './errors.ts';

/** File-system failures on paths the user named become ERR_CLI_IO with the path and errno, not internal errors. */
export async function onFile<T>(file: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new CliError('ERR_CLI_IO', `${file}: ${(e as Error).message}`, { path: file, errno: code });
    throw e;
  }
}

/** Reads a file named on the command line (relative to the command's cwd). */
export function readInputFile(ctx: CommandContext, file: string): Promise<Uint8Array> {
  return onFile(file, async () => new Uint8Array(await readFile(resolve(ctx.io.cwd, file))));
}

/** Debian's systemd-stub (package systemd-boot-efi): the default base of every UKI the CLI builds. */
export const DEBIAN_SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
