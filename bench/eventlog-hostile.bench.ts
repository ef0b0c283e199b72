// Hostile 1 MB event logs (issue 7 §1): wall and CPU time of parse + replay + digest checks, and the
// heap the result holds, next to tpm2_eventlog on the same file. The inputs are the test suite's
// (test/eventlog/hostile-logs.ts): the once-quadratic and stack-overflowing shapes, and the densest
// well-formed logs, whose cost is one hash per event per bank for replay and again for digest checks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { checkEventDigests, EventType, parseEventLog, replay } from '../src/eventlog/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { densestLog, zeroDigestEventsLog, zeroFilledLegacyLog } from '../test/eventlog/hostile-logs.ts';
import { fmt, timeCommand } from './measure.ts';

const logBytes = 1 << 20;
const runsPerInput = 15;

const inputs: readonly { readonly name: string; readonly bytes: Uint8Array }[] = [
  { name: 'zero-digest 16-byte events (repro)', bytes: zeroDigestEventsLog((logBytes - 128) / 16) },
  { name: 'zero-filled TCG 1.2 events', bytes: zeroFilledLegacyLog(logBytes) },
  { name: 'densest sha1 EV_SEPARATORs', bytes: densestLog(['sha1'], EventType.EV_SEPARATOR, logBytes) },
  { name: 'densest 4-bank EV_SEPARATORs', bytes: densestLog(['sha1', 'sha256', 'sha384', 'sha512'], EventType.EV_SEPARATOR, logBytes) },
  { name: 'densest sha1 EV_PREBOOT_CERTs', bytes: densestLog(['sha1'], EventType.EV_PREBOOT_CERT, logBytes) },
];

/** Parse + replay + digest checks, as an appraisal runs them; a typed error is an answer too. */
function appraiseLog(bytes: Uint8Array): { readonly events: number; readonly findings: number } | { readonly error: string } {
  try {
    const log = parseEventLog(bytes);
    const replayed = replay(log);
    const digests = checkEventDigests(log);
    return { events: log.events.length, findings: log.findings.length + replayed.findings.length + digests.findings.length };
  } catch (e) {
    return { error: (e as { code?: string }).code ?? String(e) };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Where retainedBytes keeps a result reachable across the collection that measures it. */
const held: unknown[] = [];

/** Heap and array buffers the parsed, replayed and digest-checked log holds after a full collection. */
function retainedBytes(bytes: Uint8Array): number {
  collectGarbage();
  const before = process.memoryUsage();
  try {
    const parsed = parseEventLog(bytes);
    held.push(parsed, replay(parsed), checkEventDigests(parsed));
  } catch (e) {
    held.push(e);
  }
  collectGarbage();
  const after = process.memoryUsage();
  held.length = 0;
  // A rejected log holds nothing; collection noise must not print as a negative multiple.
  return Math.max(0, after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers);
}

export async function run(): Promise<void> {
  const tool = findTool('tpm2_eventlog');
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-hostile-'));
  try {
    console.log(`each input ${fmt(logBytes / 1e6, 2)} MB at most; Vouch: median of ${runsPerInput} runs of parse + replay + digest checks`);
    for (const { name, bytes } of inputs) {
      for (let i = 0; i < 3; i++) appraiseLog(bytes);
      const wall: number[] = [];
      const cpu: number[] = [];
      let outcome: ReturnType<typeof appraiseLog> | undefined;
      for (let i = 0; i < runsPerInput; i++) {
        const startCpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        outcome = appraiseLog(bytes);
        wall.push(Number(process.hrtime.bigint() - start) / 1e6);
        const used = process.cpuUsage(startCpu);
        cpu.push((used.user + used.system) / 1e3);
      }
      const answer = outcome && 'error' in outcome ? outcome.error : `${outcome?.events} events, ${outcome?.findings} findings`;
      const retained = retainedBytes(bytes);
      let peer = 'tpm2_eventlog: not installed (scripts/install-deps.sh installs tpm2-tools)';
      if (tool) {
        const file = join(dir, 'log.bin');
        await writeFile(file, bytes);
        const seconds = timeCommand('sh', ['-c', `${JSON.stringify(tool)} ${JSON.stringify(file)} >/dev/null 2>&1`], 3);
        peer = seconds === undefined ? 'tpm2_eventlog: rejects the input' : `tpm2_eventlog ${fmt(seconds * 1e3, 1)} ms (incl. process start)`;
      }
      console.log(
        `${name.padEnd(36)} vouch ${fmt(median(wall), 1)} ms wall, ${fmt(median(cpu), 1)} ms CPU, retains ${fmt(retained / bytes.length, 1)}x the log (${answer}); ${peer}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
