// Real swtpm instances for tests, never on fixed ports.
//
// Facts (swtpm 0.7.1, tpm2-tools 5.4 / tpm2-tss 3.2, Debian 12):
// - `swtpm socket --tpm2 --server type=tcp,fd=3 --ctrl type=unixio,clientfd=4` reads raw TPM
//   commands from an inherited, already-connected socket. Node's stdio 'pipe' entries are
//   AF_UNIX socketpairs, so fds 3 and 4 of the child work as is: no port, no path, ~10 ms to the
//   first answer. A *listening* socket passed as fd=3 does not work (swtpm reads from it).
// - swtpm's data channel also answers MS-simulator framing (TPM_SEND_COMMAND = 8), in kind.
// - With `--server type=tcp,port=N` swtpm binds before it writes its pid file, so the pid
//   arriving (through a FIFO: `--pid fd=N` rejects anything but a regular file) means the ports
//   accept connections: no polling. swtpm serves one connection at a time; tpm2-tools reach it
//   with TCTI `swtpm:host=127.0.0.1,port=N` (control port N+1), not `mssim:`.
// - tpm2_makecredential 5.4 takes the AK Name as a hex string (-n HEX), not a file.
// - `swtpm_setup --create-ek-cert` persists an RSA-2048 EK at 0x81010001 (certificate at NV
//   0x01c00002) and an ECC P-384 EK at 0x81010016 (certificate at 0x01c00016), signed by
//   swtpm_localca's intermediate "issuercert.pem" under "swtpm-localca-rootca-cert.pem".
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants, openSync } from 'node:fs';
import { Socket, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import { rawStreamTransport, SwtpmControl } from '../../src/tpm/transport/swtpm.ts';
import type { TpmTransport } from '../../src/tpm/transport/types.ts';
import { peer } from './peers.ts';

export interface SwtpmOptions {
  /** Listen on 127.0.0.1 ports (data N, control N+1) so tpm2-tools can connect; default: socketpairs. */
  readonly tcp?: boolean;
  /** Start from a copy of a manufactured state with EKs and EK certificates (see manufacturedState). */
  readonly manufactured?: boolean;
}

export interface Swtpm {
  readonly stateDir: string;
  /** Socketpair mode: the transport over fd 3 (one client only). */
  readonly transport?: TpmTransport;
  /** TCP mode: the Vouch URI and the tpm2-tools TCTI. */
  readonly uri?: string;
  readonly tcti?: string;
  /** Environment for tpm2-tools (TPM2TOOLS_TCTI) in TCP mode. */
  readonly env?: NodeJS.ProcessEnv;
  /** swtpm_localca's CA directory when manufactured (root and issuer certificates). */
  readonly caDir?: string;
  stop(): Promise<void>;
}

let manufacturing: Promise<{ stateDir: string; caDir: string }> | undefined;

/**
 * One manufactured TPM state per test process (swtpm_setup takes seconds): EKs persisted, EK and
 * platform certificates in NV from a local CA, PCR banks sha1, sha256 and sha384. Tests copy it.
 */
export function manufacturedState(): Promise<{ stateDir: string; caDir: string }> {
  manufacturing ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vouch-swtpm-setup-'));
    process.once('exit', () => spawnSync('rm', ['-rf', dir]));
    const stateDir = join(dir, 'state');
    const caDir = join(dir, 'ca');
    await writeFile(
      join(dir, 'swtpm_setup.conf'),
      `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${dir}/swtpm-localca.conf\ncreate_certs_tool_options = ${dir}/swtpm-localca.options\nactive_pcr_banks = sha1,sha256,sha384\n`,
    );
    await writeFile(
      join(dir, 'swtpm-localca.conf'),
      `statedir = ${caDir}\nsigningkey = ${caDir}/signkey.pem\nissuercert = ${caDir}/issuercert.pem\ncertserial = ${caDir}/certserial\n`,
    );
    await writeFile(join(dir, 'swtpm-localca.options'), '--platform-manufacturer Vouch\n--platform-version 2.1\n--platform-model swtpm\n');
    await mkdir(stateDir);
    await mkdir(caDir);
    const r = await run('swtpm_setup', [
      '--tpm2',
      '--tpmstate',
      stateDir,
      '--create-ek-cert',
      '--create-platform-cert',
      '--config',
      join(dir, 'swtpm_setup.conf'),
      '--overwrite',
      '--pcr-banks',
      'sha1,sha256,sha384',
    ]);
    if (r.code !== 0) throw new Error(`swtpm_setup failed (${r.code}): ${r.output}`);
    return { stateDir, caDir };
  })();
  return manufacturing;
}

/** Runs a command to completion without blocking the event loop; output is stdout+stderr. */
export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, output }));
  });
}

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = createServer();
    await new Promise<void>((res) => first.listen(0, '127.0.0.1', res));
    const port = (first.address() as AddressInfo).port;
    const second = createServer();
    const ok = await new Promise<boolean>((res) => {
      second.once('error', () => res(false));
      second.listen(port + 1, '127.0.0.1', () => res(true));
    });
    await new Promise<void>((res) => first.close(() => res()));
    if (ok) {
      await new Promise<void>((res) => second.close(() => res()));
      return port;
    }
  }
  throw new Error('no free pair of consecutive TCP ports on 127.0.0.1');
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once('exit', () => res())));
}

/**
 * Starts swtpm for one test; it is killed and its state removed when the test ends.
 * Returns undefined when swtpm is not installed (the test is then skipped locally).
 */
export async function startSwtpm(t: TestContext, options: SwtpmOptions = {}): Promise<Swtpm | undefined> {
  if (!peer(t, 'swtpm')) return undefined;
  if (options.manufactured && !peer(t, 'swtpm_setup')) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'vouch-swtpm-'));
  try {
    return await launch(t, dir, options);
  } catch (e) {
    // Nothing is running when launch fails (a swtpm that exited is why), so only the directory is left.
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function launch(t: TestContext, dir: string, options: SwtpmOptions): Promise<Swtpm> {
  let caDir: string | undefined;
  if (options.manufactured) {
    const m = await manufacturedState();
    await cp(m.stateDir, dir, { recursive: true });
    caDir = m.caDir;
  }
  const common = ['--tpm2', '--tpmstate', `dir=${dir}`, '--flags', 'not-need-init,startup-clear'];
  let child: ChildProcess;
  let result: Omit<Swtpm, 'stop' | 'stateDir'>;
  if (!options.tcp) {
    child = spawn('swtpm', ['socket', ...common, '--server', 'type=tcp,fd=3', '--ctrl', 'type=unixio,clientfd=4'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    const control = new SwtpmControl(child.stdio[4] as Duplex);
    result = { transport: rawStreamTransport(child.stdio[3] as Duplex, 'swtpm (socketpair)', () => control.close()) };
  } else {
    let started: { child: ChildProcess; port: number } | undefined;
    // swtpm writes its pid only after both sockets listen. `--pid fd=N` must be a regular file
    // (swtpm 0.7 refuses a pipe), so the pid file is a FIFO we hold open read-write: the pid
    // arriving on it is the readiness signal, with no polling.
    const fifo = join(dir, 'swtpm.pid');
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
    for (let attempt = 0; attempt < 5 && !started; attempt++) {
      const port = await freePortPair();
      const pidPipe = new Socket({ fd: openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK), readable: true, writable: false });
      const c = spawn(
        'swtpm',
        [
          'socket',
          ...common,
          '--server',
          `type=tcp,port=${port},bindaddr=127.0.0.1`,
          '--ctrl',
          `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
          '--pid',
          `file=${fifo}`,
        ],
        {
          stdio: 'ignore',
        },
      );
      // An exit before the pid means the ports were taken in the meantime: try another pair.
      const ready = await new Promise<boolean>((res) => {
        pidPipe.once('data', () => res(true));
        c.once('exit', () => res(false));
      });
      pidPipe.destroy();
      if (ready) started = { child: c, port };
    }
    if (!started) throw new Error('swtpm did not start on a TCP port');
    child = started.child;
    const tcti = `swtpm:host=127.0.0.1,port=${started.port}`;
    result = { uri: `swtpm:host=127.0.0.1,port=${started.port}`, tcti, env: { ...process.env, TPM2TOOLS_TCTI: tcti } };
  }
  const stop = async (): Promise<void> => {
    await result.transport?.close().catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    await rm(dir, { recursive: true, force: true });
  };
  t.after(stop);
  return { ...result, stateDir: dir, ...(caDir ? { caDir } : {}), stop };
}
