// The clevis pin with Debian's real clevis, as root on a loop device: `clevis luks bind … vouch CONFIG`
// runs packaging/clevis/clevis-encrypt-vouch (which attests and encrypts the new slot's passphrase),
// and `clevis luks pass` / `clevis luks unlock` run clevis-decrypt-vouch, which attests again with
// nothing but the JWE's header. The passphrase comes back only while the server affirms the node;
// a refusal or a revocation fails the unlock with the server's reasons on standard error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { asRoot, peer } from '../helpers/peers.ts';
import { EVENT_LOG, agentNode, deviceMapper, exec, onlyNode, sparseImage } from './agent-node.ts';
import { installPin } from './pin-install.ts';

const RECOVERY = 'the recovery passphrase';
test('clevis luks bind with the vouch pin; clevis luks pass returns the passphrase only while the server affirms the node', async (t) => {
  const clevis = peer(t, 'clevis-luks-bind') && peer(t, 'clevis');
  const cryptsetup = peer(t, 'cryptsetup');
  const losetup = peer(t, 'losetup');
  if (!clevis || !cryptsetup || !losetup || !peer(t, 'jose') || !asRoot(t, 'clevis luks on a loop device')) return;
  const node = await agentNode(t);
  assert.equal((await node.agent('enroll')).code, 0);
  const enrolled = onlyNode(node.peer);
  const bin = await installPin(node.dir);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };

  const image = await sparseImage(join(node.dir, 'disk.img'), 32);
  const attach = spawnSync(losetup, ['--find', '--show', image], { encoding: 'utf8' });
  assert.equal(attach.status, 0, attach.stderr);
  const loop = attach.stdout.trim();
  t.after(() => spawnSync(losetup, ['-d', loop]));
  const format = spawnSync(
    cryptsetup,
    ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', loop],
    {
      input: RECOVERY,
    },
  );
  assert.equal(format.status, 0, format.stderr.toString());

  const config = JSON.stringify({ url: node.peer.url, tpm: node.tpm, state: node.state, eventlog: EVENT_LOG });
  const bind = await exec(clevis, ['luks', 'bind', '-y', '-d', loop, '-k', '-', 'vouch', config], { input: RECOVERY, env });
  assert.equal(bind.status, 0, bind.stderr);
  const list = await exec(clevis, ['luks', 'list', '-d', loop], { env });
  assert.equal(list.status, 0, list.stderr);
  // clevis 19's `luks list` prints the configuration of its own pins only (tang, tpm2, sss).
  assert.equal(list.stdout.toString(), "1: unknown pin 'vouch'\n");

  // The token's JWE: the pin's header names the server and this node, and the secret is not there.
  const dump = spawnSync(cryptsetup, ['token', 'export', '--token-id', '0', loop], { encoding: 'utf8' });
  assert.equal(dump.status, 0, dump.stderr);
  const token = JSON.parse(dump.stdout) as { type: string; keyslots: string[]; jwe: { protected: string } };
  assert.equal(token.type, 'clevis');
  assert.deepEqual(token.keyslots, ['1']);
  const header = JSON.parse(Buffer.from(token.jwe.protected, 'base64url').toString()) as {
    alg: string;
    enc: string;
    clevis: { pin: string; vouch: Record<string, string> };
  };
  assert.deepEqual({ alg: header.alg, enc: header.enc, pin: header.clevis.pin }, { alg: 'dir', enc: 'A256GCM', pin: 'vouch' });
  assert.deepEqual(header.clevis.vouch, { url: node.peer.url, tpm: node.tpm, state: node.state, eventlog: EVENT_LOG, node: enrolled.nodeId });

  const pass = await exec(clevis, ['luks', 'pass', '-d', loop, '-s', '1'], { env });
  assert.equal(pass.status, 0, pass.stderr);
  assert.ok(pass.stdout.length >= 32, 'clevis generated a passphrase for slot 1');
  const opens = spawnSync(cryptsetup, ['open', '--test-passphrase', '--key-slot', '1', '--key-file=-', loop], { input: pass.stdout });
  assert.equal(opens.status, 0, opens.stderr.toString());

  // Unlocking through device-mapper, where the kernel has it.
  await t.test('clevis luks unlock opens the volume', async (sub) => {
    if (!deviceMapper(sub)) return;
    const name = `vouch-clevis-test-${process.pid}`;
    sub.after(() => spawnSync(cryptsetup, ['close', name]));
    const unlock = await exec(clevis, ['luks', 'unlock', '-d', loop, '-n', name], { env });
    assert.equal(unlock.status, 0, unlock.stderr);
    assert.equal(spawnSync(cryptsetup, ['status', name]).status, 0);
  });

  // Refused: the pin fails, and clevis passes on the server's reasons.
  node.peer.verdict = { status: 'contraindicated', reasons: [{ reason: 'ERR_POLICY_FAILED', message: 'claims.composefs: not in any accepted release' }] };
  let refused = await exec(clevis, ['luks', 'pass', '-d', loop, '-s', '1'], { env });
  assert.notEqual(refused.status, 0);
  assert.equal(refused.stdout.length, 0);
  assert.match(refused.stderr, /^vouch: ERR_AGENT_REFUSED: .* refused the attestation \(contraindicated, 1 reason\)$/m);
  assert.match(refused.stderr, /^ {2}ERR_POLICY_FAILED: claims\.composefs: not in any accepted release$/m);

  // Affirming again, then revoked: the next attestation releases nothing.
  node.peer.verdict = { status: 'affirming' };
  assert.equal((await exec(clevis, ['luks', 'pass', '-d', loop, '-s', '1'], { env })).status, 0);
  enrolled.revoked = true;
  refused = await exec(clevis, ['luks', 'pass', '-d', loop, '-s', '1'], { env });
  assert.notEqual(refused.status, 0);
  assert.equal(refused.stdout.length, 0);
  assert.match(refused.stderr, /^vouch: ERR_AGENT_REVOKED: node .* is revoked at .*: nothing was released$/m);

  // The recovery passphrase still opens slot 0: binding added a slot and took nothing away.
  assert.equal(spawnSync(cryptsetup, ['open', '--test-passphrase', '--key-slot', '0', '--key-file=-', loop], { input: RECOVERY }).status, 0);
});

test('clevis encrypt vouch / clevis decrypt round trip; a JWE for another node is refused', async (t) => {
  const clevis = peer(t, 'clevis');
  if (!clevis || !peer(t, 'jose')) return;
  const node = await agentNode(t);
  assert.equal((await node.agent('enroll')).code, 0);
  const bin = await installPin(node.dir);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const config = JSON.stringify({ url: node.peer.url, tpm: node.tpm, state: node.state, eventlog: EVENT_LOG });

  const summary = await exec(join(bin, 'clevis-encrypt-vouch'), ['--summary']);
  assert.equal(summary.stdout.toString(), 'Encrypts using a Vouch attestation server policy\n');
  const encrypted = await exec(clevis, ['encrypt', 'vouch', config], { input: 'secret plaintext', env });
  const jwe = encrypted.stdout.toString();
  assert.equal(encrypted.status, 0, encrypted.stderr);
  assert.match(jwe, /^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWE, no key part (dir)');
  const decrypted = await exec(clevis, ['decrypt'], { input: jwe, env });
  assert.equal(decrypted.status, 0, decrypted.stderr);
  assert.equal(decrypted.stdout.toString(), 'secret plaintext');

  // A second node's state directory: its key is another, and the header's node says so first.
  const other = await agentNode(t);
  assert.equal((await other.agent('enroll')).code, 0);
  const [head, ...rest] = jwe.split('.');
  const h = JSON.parse(Buffer.from(head!, 'base64url').toString()) as { clevis: { vouch: Record<string, string> } };
  h.clevis.vouch = { ...h.clevis.vouch, url: other.peer.url, tpm: other.tpm, state: other.state };
  const moved = [Buffer.from(JSON.stringify(h)).toString('base64url'), ...rest].join('.');
  const refused = await exec(clevis, ['decrypt'], { input: moved, env });
  assert.notEqual(refused.status, 0);
  assert.equal(refused.stdout.length, 0);
  assert.match(refused.stderr, /^vouch: ERR_AGENT_CLEVIS: the JWE was made for node [0-9a-f-]{36}; this state directory is node [0-9a-f-]{36}$/m);
});
