// The dashboard's files, read once when the server starts: the page, its style sheet, and its
// browser modules. The modules are TypeScript like the rest of Vouch; Node's own type stripper
// (the one that runs the server) turns each into JavaScript here, so there is no bundler, no build
// step and no generated file to forget. Each answer carries a strong ETag, so a browser revalidates
// with one small request per file.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebError } from './errors.ts';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const CLIENT_DIR = fileURLToPath(new URL('./client/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Only plain names: the asset route looks names up in this map, never on disk. */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(html|css|ts|svg)$/;

/**
 * stripTypeScriptTypes is marked experimental and warns on first use; the warning would reach every
 * `vouch serve` operator's terminal for a function whose output this module's tests pin. Only that
 * warning is held back, for the duration of the calls.
 */
function stripTypes(source: string, file: string): string {
  const original = Object.getOwnPropertyDescriptor(process, 'emitWarning')!;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (!text.includes('stripTypeScriptTypes')) emitWarning(warning, ...rest);
  };
  try {
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } catch (e) {
    throw new WebError('ERR_WEB_ASSETS', `${file}: ${(e as Error).message}`, { file }, { cause: e });
  } finally {
    Object.defineProperty(process, 'emitWarning', original);
  }
}

function asset(body: Buffer, name: string): Asset {
  const extension = name.slice(name.lastIndexOf('.'));
  return {
    body,
    contentType: CONTENT_TYPES[extension]!,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

/** Every file of the client directory, by name; browser modules as JavaScript. */
export function loadAssets(dir: string = CLIENT_DIR): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new WebError('ERR_WEB_ASSETS', `cannot read the dashboard's files in ${dir}: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
  for (const name of names.filter((n) => ASSET_NAME.test(n)).sort()) {
    const path = join(dir, name);
    const raw = readFileSync(path);
    const body = name.endsWith('.ts') ? Buffer.from(stripTypes(raw.toString('utf8'), path)) : raw;
    assets.set(name, asset(body, name));
  }
  if (!assets.has('index.html')) throw new WebError('ERR_WEB_ASSETS', `${dir} holds no index.html`, { file: join(dir, 'index.html') });
  return assets;
}
