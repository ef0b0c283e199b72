// Child processes of store tests (test/store/child.ts), killed and reaped by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { ChildCommand } from './child.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the first stdout line that starts with `prefix`; rejects if the child exits first. */
  line(prefix: string): Promise<string>;
  /** Resolves when the child has exited, with its exit code or signal. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

export function startChild(t: TestContext, command: ChildCommand): Child {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(command)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.filter((w) => l.startsWith(w.prefix))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  void exited.then((how) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`child exited (${how}) before printing ${w.prefix}: ${stderr}`));
  });
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  t.after(kill);
  return {
    process: proc,
    exited,
    kill,
    line(prefix) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen);
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.reject(new Error(`child exited before printing ${prefix}: ${stderr}`));
      return new Promise((resolve, reject) => waiters.push({ prefix, resolve, reject }));
    },
  };
}
