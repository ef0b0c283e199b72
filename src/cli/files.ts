import { resolve } from 'node:path';
import { EventLogLimits } from '../eventlog/index.ts';
import { FileTooLargeError, readFileUpTo } from '../io/index.ts';
import type { CommandContext } from './command.ts';
import { CliError } from './errors.ts';

/**
 * What a command reads, and the most it will hold of it. The cap is applied while reading, so
 * /dev/zero, a FIFO or a growing file stops there with ERR_CLI_INPUT_TOO_LARGE instead of filling
 * memory. No option raises these: each is far above any real input of its kind.
 */
export const CliInput = {
  /** binary_bios_measurements: the parser's own limit (EventLogLimits.maxLogBytes). */
  eventLog: { what: 'an event log', maxBytes: EventLogLimits.maxLogBytes },
  /** PE images (shim, GRUB, kernels, UKIs), initrds, composefs images and dumps: read whole, hashed and parsed in memory. */
  image: { what: 'an image', maxBytes: 2 * 1024 * 1024 * 1024 - 1 },
  /** Keys, certificates, signature databases, quotes, PCR files, JSON and YAML documents. */
  document: { what: 'a document', maxBytes: 16 * 1024 * 1024 },
} as const;
export type CliInput = (typeof CliInput)[keyof typeof CliInput];

/** File-system failures on paths the user named become ERR_CLI_IO with the path and errno, not internal errors. */
export async function onFile<T>(file: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new CliError('ERR_CLI_IO', `${file}: ${(e as Error).message}`, { path: file, errno: code });
    // fs.readFile's own 2 GiB limit, where a command still reads through it.
    if (code === 'ERR_FS_FILE_TOO_LARGE') throw new CliError('ERR_CLI_INPUT_TOO_LARGE', `${file}: ${(e as Error).message}`, { path: file });
    throw e;
  }
}

/** Reads a file named on the command line (relative to the command's cwd), holding no more than `input` allows. */
export function readInputFile(ctx: CommandContext, file: string, input: CliInput): Promise<Uint8Array> {
  return readFileAs(resolve(ctx.io.cwd, file), file, input);
}

/** Reads `path`, naming it `shownAs` in errors (a default path the user did not type, or a file inside a named directory). */
export async function readFileAs(path: string, shownAs: string, input: CliInput): Promise<Uint8Array> {
  try {
    return await onFile(shownAs, () => readFileUpTo(path, input.maxBytes));
  } catch (e) {
    if (!(e instanceof FileTooLargeError)) throw e;
    const size = e.size === undefined ? `more than ${input.maxBytes} bytes` : `${e.size} bytes`;
    throw new CliError('ERR_CLI_INPUT_TOO_LARGE', `${shownAs}: ${size}; ${input.what} is read only up to ${input.maxBytes} bytes (no option raises this)`, {
      path: shownAs,
      maxBytes: input.maxBytes,
      ...(e.size === undefined ? {} : { size: e.size }),
    });
  }
}

/** Debian's systemd-stub (package systemd-boot-efi): the default base of every UKI the CLI builds. */
export const DEBIAN_SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
