// `vouch serve`: the attestation server and key broker, until SIGTERM or SIGINT, which drain it
// (stop accepting, finish the requests in flight, deliver pending webhooks, close the store).
import { readFileSync } from 'node:fs';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, stringList } from '../command.ts';
import { parseConfigDocument, resolveConfig, type ConfigDocument } from '../../server/config.ts';
import { serverLogger, startServer } from '../../server/server.ts';
import { ServerError } from '../../server/errors.ts';

function configDocument(ctx: CommandContext): ConfigDocument {
  const file = optionalString(ctx, 'config');
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ServerError('ERR_SERVER_CONFIG', `cannot read --config ${file}: ${(e as Error).message}`, { setting: 'config' }, { cause: e });
  }
  return parseConfigDocument(text, file);
}

/** Resolves when the process is told to stop. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export const handlers = {
  serve: {
    async run(ctx) {
      if (ctx.positionals.length > 0) throw new UsageError('vouch serve takes no positional arguments');
      const masterKeys = stringList(ctx, 'master-key');
      const flags = {
        ...(optionalString(ctx, 'listen') !== undefined ? { listen: optionalString(ctx, 'listen')! } : {}),
        ...(optionalString(ctx, 'data-dir') !== undefined ? { dataDir: optionalString(ctx, 'data-dir')! } : {}),
        ...(optionalString(ctx, 'database') !== undefined ? { database: optionalString(ctx, 'database')! } : {}),
        ...(optionalString(ctx, 'tls-cert') !== undefined ? { tlsCert: optionalString(ctx, 'tls-cert')! } : {}),
        ...(optionalString(ctx, 'tls-key') !== undefined ? { tlsKey: optionalString(ctx, 'tls-key')! } : {}),
        ...(masterKeys.length ? { masterKeys } : {}),
      };
      const config = resolveConfig(configDocument(ctx), flags);
      const stopped = stopSignal();
      const server = await startServer(config, { env: ctx.io.env, log: serverLogger(ctx.verbose ? 'debug' : 'info', ctx.io.stderr) });
      // The first start's admin token is shown here once; the store keeps only its digest.
      if (server.initialAdminToken !== undefined) {
        ctx.io.stderr.write(`vouch serve: initial admin token (shown once, store it now): ${server.initialAdminToken}\n`);
      }
      if (server.createdMasterKeyFile !== undefined) {
        ctx.io.stderr.write(`vouch serve: created master key ${server.createdMasterKeyFile} (back it up: without it no secret can be read)\n`);
      }
      ctx.io.stderr.write(`vouch serve: listening on ${server.url}\n`);
      const signal = await stopped;
      await server.close();
      return { result: { url: server.url, stoppedBy: signal }, text: `vouch serve: stopped (${signal})\n` };
    },
  },
} satisfies Record<string, CommandHandler>;
