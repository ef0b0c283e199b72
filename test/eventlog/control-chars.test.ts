// Issue 7 §4: log-derived text reaches a terminal only escaped. The fixture (fixtures/control-chars.bin)
// carries escape sequences in an EV_NO_ACTION signature, the S-CRTM version, EFI actions, a GRUB
// command and a Boot#### description.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeDecodedEvent, escapeControlCharacters, FindingKind, parseEventLog, type EventLog } from '../../src/eventlog/index.ts';
import { readFileSync } from 'node:fs';
import { vouch } from './helpers.ts';

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/control-chars.bin');

/** Any character a terminal acts on instead of printing: C0 (but newline, between lines), DEL, C1, bidi controls. */
const terminalControl = /[^\P{Cc}\n]|[\p{Cf}\p{Zl}\p{Zp}]/u;

test('escapeControlCharacters: C0, DEL, C1, bidi overrides and separators become visible escapes; printable text and backslashes stay', () => {
  assert.equal(escapeControlCharacters('\x1b[2J\x07\x00\x7f\x9b'), '\\x1b[2J\\x07\\x00\\x7f\\x9b');
  assert.equal(escapeControlCharacters('abc\u202eexe.txt\u2066\u2028'), 'abc\\u202eexe.txt\\u2066\\u2028');
  assert.equal(escapeControlCharacters('tab\there\nline'), 'tab\\x09here\\x0aline');
  assert.equal(escapeControlCharacters('\\EFI\\debian\\grubx64.efi Grüße 启动 🔒'), '\\EFI\\debian\\grubx64.efi Grüße 启动 🔒');
  assert.equal(escapeControlCharacters(escapeControlCharacters('\x1b')), '\\x1b');
  assert.equal(escapeControlCharacters('lone \ud800 surrogate'), 'lone \\ud800 surrogate');
});

test('describeDecodedEvent escapes what it quotes, so verdict texts are safe as well', () => {
  const log: EventLog = parseEventLog(new Uint8Array(readFileSync(fixture)));
  for (const event of log.events) assert.doesNotMatch(describeDecodedEvent(event.decoded), terminalControl, `event #${event.index}`);
  assert.equal(describeDecodedEvent(log.events[1]!.decoded), '\\x1b[2J\\x1b]0;PWNED\\x07\\x1b[');
  assert.match(describeDecodedEvent(log.events[5]!.decoded), /^Boot0001 "Disk \\x1b\[31mRED\\x1b\]0;X\\x07"/);
  assert.ok(log.findings.some((f) => f.kind === FindingKind.missingSeparator));
});

test('issue 7: vouch eventlog show and replay print no terminal control character from the log', async () => {
  for (const args of [
    ['eventlog', 'show', fixture],
    ['eventlog', 'replay', fixture],
  ]) {
    const { code, stdout } = await vouch(args);
    assert.equal(code, 0, args.join(' '));
    assert.doesNotMatch(stdout, terminalControl, args.join(' '));
  }
  const { stdout } = await vouch(['eventlog', 'show', fixture]);
  assert.match(stdout, /EV_NO_ACTION +0{12} \\x1b\[2J\\x1b\]0;PWNED\\x07\\x1b\[$/m);
  assert.match(stdout, /EV_IPL +69097b55cdbe binary data \(not text\)$/m);
});
