// The system tools the agent runs (cryptsetup, blkid), found where an initramfs or a distribution
// puts them: $PATH first, then the sbin and bin directories, because the agent also runs with an
// empty environment (an initramfs script, a systemd unit), where $PATH is unset.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from './errors.ts';

export interface ToolPaths {
  readonly cryptsetup: string;
  readonly blkid: string;
}

const STANDARD_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The absolute path of `name`, searched in $PATH and then the standard directories. */
export function findTool(name: string, env: NodeJS.ProcessEnv): string {
  const dirs = [...(env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...STANDARD_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new AgentError(
    'ERR_AGENT_LUKS',
    `${name} is not installed (searched $PATH and ${STANDARD_DIRS.join(', ')}): install the Debian package ${name === 'blkid' ? 'util-linux' : name}`,
    {
      tool: name,
    },
  );
}

export function findTools(env: NodeJS.ProcessEnv): ToolPaths {
  return { cryptsetup: findTool('cryptsetup', env), blkid: findTool('blkid', env) };
}

/** Runs a tool that needs no input; output kept up to 64 KiB per stream. */
export function runTool(path: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 65536) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 65536) stderr += d.toString('utf8');
    });
    child.once('error', (e) => {
      reject(new AgentError('ERR_AGENT_LUKS', `${path} cannot run: ${e.message}`, { tool: path }, { cause: e }));
    });
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
