// Event log throughput: events/s parsed (framing + decoding every event), replayed (every bank),
// and digest-checked, next to tpm2_eventlog (parse + decode + replay + YAML output) on the same file.
// Input: the real Ubuntu 21.04 GCE log's events repeated to ~11k events, so process start-up does
// not dominate the peer's figure.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkEventDigests, parseEventLog, replay } from '../src/eventlog/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, opsPerSecond, timeCommand } from './measure.ts';

const repetitions = 100;
/** Each pass over ~11k events takes a large fraction of a second: measure over several seconds. */
const secondsPerFigure = 3;

function repeatedLog(): Uint8Array {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const real = new Uint8Array(readFileSync(join(here, '../test/vectors/eventlogs/ubuntu-2104-no-dbx.bin')));
  const log = parseEventLog(real);
  const firstEvent = log.events[1]!.offset;
  const body = real.subarray(firstEvent);
  const out = new Uint8Array(firstEvent + body.length * repetitions);
  out.set(real.subarray(0, firstEvent));
  for (let i = 0; i < repetitions; i++) out.set(body, firstEvent + i * body.length);
  return out;
}

export async function run(): Promise<void> {
  const bytes = repeatedLog();
  const log = parseEventLog(bytes);
  const events = log.events.length;
  console.log(`input: ubuntu-2104-no-dbx.bin events x${repetitions} = ${events} events, ${fmt(bytes.length / 1e6, 2)} MB, banks ${log.banks.join(',')}`);

  const parse = (await opsPerSecond(() => parseEventLog(bytes), secondsPerFigure)) * events;
  const parseReplay = (await opsPerSecond(() => replay(parseEventLog(bytes)), secondsPerFigure)) * events;
  const full =
    (await opsPerSecond(() => {
      const parsed = parseEventLog(bytes);
      replay(parsed);
      checkEventDigests(parsed);
    }, secondsPerFigure)) * events;
  console.log(`vouch parse+decode:                 ${fmt(parse, 0)} events/s`);
  console.log(`vouch parse+replay (3 banks):       ${fmt(parseReplay, 0)} events/s`);
  console.log(`vouch parse+replay+digest checks:   ${fmt(full, 0)} events/s`);

  const tool = findTool('tpm2_eventlog');
  if (!tool) {
    console.log('tpm2_eventlog: not installed (scripts/install-deps.sh installs tpm2-tools)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-eventlog-'));
  try {
    const file = join(dir, 'log.bin');
    await writeFile(file, bytes);
    const seconds = timeCommand('sh', ['-c', `${JSON.stringify(tool)} ${JSON.stringify(file)} >/dev/null 2>&1`], 3);
    if (seconds === undefined) {
      console.log('tpm2_eventlog: failed on the input');
      return;
    }
    const peer = events / seconds;
    console.log(`tpm2_eventlog 5.4 (parse+replay+YAML, incl. process start): ${fmt(peer, 0)} events/s`);
    console.log(`ratio vouch parse+replay / tpm2_eventlog: ${fmt(parseReplay / peer, 2)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
