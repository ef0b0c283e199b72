// The clevis pin's pure parts against real peers: the HKDF key derivation equals `openssl kdf HKDF`;
// the JWE is one clevis's own `jose` tool decrypts, and one made by `jose jwe enc` decrypts here;
// the configuration and the header are checked strictly (an unknown field, another pin, an edited
// header are refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLEVIS_PIN, decryptForPin, encryptForPin, parsePinConfig, parsePinJwe, pinKey, type PinHeader } from '../../src/agent/clevis.ts';
import { peer } from '../helpers/peers.ts';
import { tempDir } from '../tpm/cli-helpers.ts';

const NODE = '7b0a0f4e-4c39-4d4e-9d23-0f3f0b1f5d6e';
const header: PinHeader = { url: 'https://vouch.example:8443', tpm: 'device:/dev/tpmrm0', node: NODE };

test('pinKey is HKDF-SHA256(diskKey, salt = node id, info = "vouch clevis pin v1"), as openssl computes it', (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  const diskKey = new Uint8Array(Array.from({ length: 32 }, (_, i) => i * 7));
  const r = spawnSync(
    openssl,
    [
      'kdf',
      '-keylen',
      '32',
      '-kdfopt',
      'digest:SHA256',
      '-kdfopt',
      `hexkey:${Buffer.from(diskKey).toString('hex')}`,
      '-kdfopt',
      `salt:${NODE}`,
      '-kdfopt',
      'info:vouch clevis pin v1',
      '-binary',
      'HKDF',
    ],
    { encoding: 'buffer' },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(pinKey(diskKey, NODE), new Uint8Array(r.stdout));
  assert.notDeepEqual(pinKey(diskKey, NODE), pinKey(diskKey, '00000000-0000-0000-0000-000000000000'), 'another node, another key');
});

test("the pin's JWE: dir + A256GCM that clevis's jose decrypts, and jose's own JWE decrypts here", async (t) => {
  const jose = peer(t, 'jose');
  if (!jose) return;
  const dir = await tempDir(t, 'vouch-clevis-');
  const key = new Uint8Array(32).fill(0x42);
  const jwk = join(dir, 'key.jwk');
  await writeFile(jwk, JSON.stringify({ kty: 'oct', k: Buffer.from(key).toString('base64url'), alg: 'A256GCM' }));
  const plaintext = new TextEncoder().encode('a LUKS passphrase clevis generated');

  const jwe = await encryptForPin(plaintext, key, header);
  assert.deepEqual(parsePinJwe(jwe), header);
  const protectedHeader = JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
  assert.deepEqual(protectedHeader, { alg: 'dir', enc: 'A256GCM', clevis: { pin: CLEVIS_PIN, vouch: header } });
  const decrypted = spawnSync(jose, ['jwe', 'dec', '-i', '-', '-k', jwk], { input: jwe });
  assert.equal(decrypted.status, 0, decrypted.stderr.toString());
  assert.equal(decrypted.stdout.toString(), 'a LUKS passphrase clevis generated');

  // jose's JWE with our header shape, decrypted by the pin's code.
  const template = JSON.stringify({ protected: { alg: 'dir', enc: 'A256GCM', clevis: { pin: CLEVIS_PIN, vouch: header } } });
  const made = spawnSync(jose, ['jwe', 'enc', '-i', template, '-k', jwk, '-I', '-', '-c'], { input: 'made by jose' });
  assert.equal(made.status, 0, made.stderr.toString());
  const joseJwe = made.stdout.toString().trim();
  assert.deepEqual(parsePinJwe(joseJwe), header);
  assert.equal(Buffer.from(await decryptForPin(joseJwe, key)).toString(), 'made by jose');

  // Another key, or a header edited to name another server: GCM refuses.
  await assert.rejects(decryptForPin(jwe, new Uint8Array(32)), { code: 'ERR_AGENT_CLEVIS' });
  const [, ...rest] = jwe.split('.');
  const edited = [
    Buffer.from(JSON.stringify({ ...protectedHeader, clevis: { pin: 'vouch', vouch: { ...header, url: 'https://evil.example' } } })).toString('base64url'),
    ...rest,
  ].join('.');
  assert.equal(parsePinJwe(edited).url, 'https://evil.example', 'the header is only read to attest');
  await assert.rejects(decryptForPin(edited, key), { code: 'ERR_AGENT_CLEVIS' });
});

test('configuration and header are strict', () => {
  assert.deepEqual(parsePinConfig('{"url":"https://v.example","tpm":"sim:/x","state":"/s","eventlog":"/e","ca":"/ca.pem"}'), {
    url: 'https://v.example',
    tpm: 'sim:/x',
    state: '/s',
    eventlog: '/e',
    ca: '/ca.pem',
  });
  const bad: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{}', /url is required/],
    ['{"url":"ftp://x"}', /not an http\(s\) URL/],
    ['{"url":"https://x","thp":"abc"}', /unknown field "thp"/],
    ['{"url":"https://x","tpm":1}', /tpm must be a non-empty string/],
  ];
  for (const [text, message] of bad) assert.throws(() => parsePinConfig(text), { code: 'ERR_AGENT_CLEVIS', message }, text);
  const h = (o: unknown): string => `${Buffer.from(JSON.stringify(o)).toString('base64url')}..iv.ct.tag`;
  assert.throws(() => parsePinJwe('a.b.c'), { code: 'ERR_AGENT_CLEVIS', message: /not a compact JWE/ });
  assert.throws(() => parsePinJwe(h({ alg: 'dir', enc: 'A256GCM', clevis: { pin: 'tang', tang: {} } })), { message: /not for the vouch pin/ });
  assert.throws(() => parsePinJwe(h({ alg: 'ECDH-ES', enc: 'A256GCM', clevis: { pin: 'vouch', vouch: header } })), { message: /uses ECDH-ES\/A256GCM/ });
  assert.throws(() => parsePinJwe(h({ alg: 'dir', enc: 'A256GCM', clevis: { pin: 'vouch', vouch: { ...header, node: 'x' } } })), { message: /not a node id/ });
});
