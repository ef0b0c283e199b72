import type { Command, CommandContext } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { CliError } from '../errors.ts';
import { fromHex } from '../../bytes/index.ts';
import { fsverityDigestFile, fsverityParams, type FsVerityHashName } from '../../composefs/fsverity/index.ts';

/** File-system failures on paths the user named become ERR_CLI_IO with the path, not internal errors. */
async function onFile<T>(file: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new CliError('ERR_CLI_IO', `${file}: ${(e as Error).message}`, { path: file, errno: code });
    throw e;
  }
}

function digestParams(ctx: CommandContext): { hash: FsVerityHashName; blockSize: number; salt: Uint8Array } {
  const hash = optionalString(ctx, 'hash') ?? 'sha256';
  const blockText = optionalString(ctx, 'block-size') ?? '4096';
  if (!/^[0-9]+$/.test(blockText)) throw new UsageError(`--block-size: not a number: ${blockText}`);
  const salt = fromHex(optionalString(ctx, 'salt') ?? '');
  return fsverityParams({ hash: hash as FsVerityHashName, blockSize: Number(blockText), salt });
}

export const commands: Command[] = [
  {
    path: ['composefs', 'digest'],
    summary: 'Print the fs-verity digest of each file, as `fsverity digest` does',
    usage: 'FILE... [--hash sha256|sha512] [--block-size N] [--salt HEX] [--workers N]',
    positionals: true,
    options: { hash: { type: 'string' }, 'block-size': { type: 'string' }, salt: { type: 'string' }, workers: { type: 'string' } },
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name at least one FILE');
      const params = digestParams(ctx);
      const workers = Number(optionalString(ctx, 'workers') ?? '1');
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError('--workers: an integer 1..64');
      const files: { file: string; algorithm: string; digest: string }[] = [];
      for (const file of ctx.positionals) {
        const digest = Buffer.from(await onFile(file, () => fsverityDigestFile(file, params, { workers }))).toString('hex');
        files.push({ file, algorithm: params.hash, digest });
      }
      return { result: { files }, text: files.map((f) => `${f.algorithm}:${f.digest} ${f.file}`).join('\n') };
    },
  },
];
