// Cross-check with the C reference, tpm2_eventlog (tpm2-tools): the same events (PCR, type, every
// bank's digest) and the same replayed PCRs, except where tpm2_eventlog 5.4 is wrong. It ignores
// the StartupLocality event, so on the locality-3 laptop log its PCR 0 (SHA-1 and SHA-256) differs
// from the value the TPM quoted; Vouch matches the quote there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { toHex } from '../../src/bytes/index.ts';
import { parseEventLog, replay } from '../../src/eventlog/index.ts';
import { peer } from '../helpers/peers.ts';
import { expectedPcrs, readRealLog, realLogNames, vectorDir } from './helpers.ts';

interface Tpm2Event {
  EventNum: number;
  PCRIndex: number;
  EventType: string;
  Digests?: { AlgorithmId: string; Digest: string }[];
}

/** PCR values from the `pcrs:` section (parsed by hand: YAML would read 0x… as numbers). */
function tpm2Pcrs(output: string): Record<string, Record<string, string>> {
  const section = output.slice(output.lastIndexOf('\npcrs:'));
  const banks: Record<string, Record<string, string>> = {};
  let bank = '';
  for (const line of section.split('\n')) {
    const bankLine = /^ {2}([a-z0-9_]+):\s*$/.exec(line);
    if (bankLine) banks[(bank = bankLine[1]!)] = {};
    const pcrLine = /^ {4}(\d+)\s*: 0x([0-9a-fA-F]+)$/.exec(line);
    if (pcrLine && bank) banks[bank]![pcrLine[1]!] = pcrLine[2]!.toLowerCase();
  }
  return banks;
}

/** Where tpm2_eventlog 5.4 disagrees with the quoted PCRs (and Vouch does not). */
const knownTpm2EventlogErrors = new Set(['glinux-alex.bin sha1 PCR 0', 'glinux-alex.bin sha256 PCR 0']);

for (const name of realLogNames) {
  test(`${name}: same PCRs as tpm2_eventlog, except its known locality-3 error`, (t) => {
    const tool = peer(t, 'tpm2_eventlog');
    if (!tool) return;
    const output = execFileSync(tool, [join(vectorDir, name)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    const theirs = tpm2Pcrs(output);
    const ours = replay(parseEventLog(readRealLog(name)));
    const disagreements: string[] = [];
    for (const [bank, values] of Object.entries(theirs)) {
      const replayed = ours.banks[bank as 'sha1'];
      assert.ok(replayed, `Vouch replays ${bank}`);
      assert.deepEqual(replayed.pcrs.map((p) => String(p.pcr)).sort(), Object.keys(values).sort(), `${bank}: same PCRs extended`);
      for (const p of replayed.pcrs) {
        if (values[String(p.pcr)] === p.value) continue;
        const where = `${name} ${bank} PCR ${p.pcr}`;
        disagreements.push(where);
        assert.equal(p.value, expectedPcrs[name]![bank]![String(p.pcr)], `${where}: Vouch must equal the quote where tpm2_eventlog differs`);
      }
    }
    assert.deepEqual(
      disagreements,
      [...knownTpm2EventlogErrors].filter((d) => d.startsWith(name + ' ')),
    );
  });
}

for (const name of realLogNames.filter((n) => n !== 'debian-10.bin')) {
  // tpm2_eventlog prints TCG 1.2 logs as YAML with repeated keys, so only crypto-agile logs compare event by event.
  test(`${name}: same events (PCR, type, digests) as tpm2_eventlog`, (t) => {
    const tool = peer(t, 'tpm2_eventlog');
    if (!tool) return;
    const output = execFileSync(tool, [join(vectorDir, name)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    const theirs = (parseYaml(output.slice(0, output.lastIndexOf('\npcrs:'))) as { events: Tpm2Event[] }).events;
    const log = parseEventLog(readRealLog(name));
    assert.equal(log.events.length, theirs.length);
    for (const [i, event] of log.events.entries()) {
      const their = theirs[i]!;
      assert.equal(event.pcr, their.PCRIndex, `event #${i} PCR`);
      assert.equal(event.typeName, their.EventType, `event #${i} type`);
      if (i === 0) continue;
      const theirDigests = Object.fromEntries((their.Digests ?? []).map((d) => [d.AlgorithmId, d.Digest]));
      const ourDigests = Object.fromEntries(Object.entries(event.digests).map(([bank, d]) => [bank, toHex(d)]));
      assert.deepEqual(ourDigests, theirDigests, `event #${i} digests`);
    }
  });
}
