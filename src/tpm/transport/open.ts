import { TpmError } from '../errors.ts';
import { openDevice } from './device.ts';
import { connectMssim, connectSwtpm, type SocketAddress } from './swtpm.ts';
import type { TpmTransport } from './types.ts';

/** What `sim:` passes to the software TPM (src/tpm/sim implements `createSimulator`). */
export interface SimulatorOptions {
  /** Persist the TPM's NV state in this file (a fresh TPM when absent). */
  readonly statePath?: string;
  /** Seeds for deterministic key generation and nonces (tests, fleet simulation). */
  readonly seed?: string;
}
interface SimulatorModule {
  createSimulator(options: SimulatorOptions): Promise<TpmTransport> | TpmTransport;
}

export type TpmUri =
  { readonly kind: 'device'; readonly path: string } | ({ readonly kind: 'swtpm' | 'mssim' } & SocketAddress) | ({ readonly kind: 'sim' } & SimulatorOptions);

function badUri(uri: string, why: string): never {
  throw new TpmError(
    'ERR_TPM_URI',
    `bad TPM URI ${JSON.stringify(uri)}: ${why} (expected device:/dev/tpmrm0, swtpm:host=H,port=N, mssim:host=H,port=N or sim:[PATH])`,
    { uri },
  );
}

function keyValues(uri: string, rest: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of rest.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    if (m.has(k)) badUri(uri, `option ${k} given twice`);
    m.set(k, v);
  }
  return m;
}

function port(uri: string, v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) badUri(uri, `${name} must be 1..65535`);
  return n;
}

/** Parses a TPM URI without opening anything. */
export function parseTpmUri(uri: string): TpmUri {
  const colon = uri.indexOf(':');
  if (colon < 0) badUri(uri, 'no scheme');
  const scheme = uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  switch (scheme) {
    case 'device':
      return { kind: 'device', path: rest || '/dev/tpmrm0' };
    case 'swtpm':
    case 'mssim': {
      const kv = keyValues(uri, rest);
      for (const k of kv.keys()) if (!['host', 'port', 'ctrl', 'poweron'].includes(k)) badUri(uri, `unknown option ${k}`);
      const p = port(uri, kv.get('port'), 'port') ?? badUri(uri, 'port is required');
      const ctrl = port(uri, kv.get('ctrl'), 'ctrl');
      return { kind: scheme, host: kv.get('host') || '127.0.0.1', port: p, ...(ctrl ? { controlPort: ctrl } : {}), powerOn: kv.has('poweron') };
    }
    case 'sim': {
      if (rest === '') return { kind: 'sim' };
      if (!rest.includes('=')) return { kind: 'sim', statePath: rest };
      const kv = keyValues(uri, rest);
      for (const k of kv.keys()) if (!['path', 'seed'].includes(k)) badUri(uri, `unknown option ${k}`);
      const path = kv.get('path');
      const seed = kv.get('seed');
      return { kind: 'sim', ...(path ? { statePath: path } : {}), ...(seed ? { seed } : {}) };
    }
    default:
      return badUri(uri, `unknown scheme ${scheme}`);
  }
}

/** Opens a transport for a TPM URI. */
export async function openTransport(uri: string): Promise<TpmTransport> {
  const u = parseTpmUri(uri);
  switch (u.kind) {
    case 'device':
      return openDevice(u.path);
    case 'swtpm':
      return connectSwtpm(u);
    case 'mssim':
      return connectMssim(u);
    case 'sim': {
      let mod: SimulatorModule;
      try {
        // Loaded on first use, so device: and swtpm: users never load the software TPM; the literal
        // specifier lets the single executable's bundler include it.
        mod = await import('../sim/index.ts');
      } catch (e) {
        throw new TpmError('ERR_TPM_SIM_UNAVAILABLE', `the software TPM (sim:) could not be loaded: ${(e as Error).message}`, { uri }, { cause: e });
      }
      return mod.createSimulator({ ...(u.statePath ? { statePath: u.statePath } : {}), ...(u.seed ? { seed: u.seed } : {}) });
    }
  }
}
