// unlockVolume's key sources: tried in order (a local unseal before remote attestation), the first
// key used and wiped afterwards, a source's failure passed on; on a real LUKS2 image with cryptsetup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { obtainKey, unlockVolume, type KeySource } from '../../src/agent/unlock.ts';
import { AgentError } from '../../src/agent/errors.ts';
import { peer } from '../helpers/peers.ts';
import { tempDir } from '../tpm/cli-helpers.ts';
import { sparseImage } from './agent-node.ts';

test('the first source with a key wins; later sources are not asked; the key is wiped after use', async (t) => {
  const cryptsetup = peer(t, 'cryptsetup');
  const blkid = peer(t, 'blkid');
  if (!cryptsetup || !blkid) return;
  const dir = await tempDir(t, 'vouch-agent-unlock-');
  const image = await sparseImage(join(dir, 'disk.img'), 32);
  const asked: string[] = [];
  const handed: Uint8Array[] = [];
  const source =
    (name: string, fill?: number): KeySource =>
    () => {
      asked.push(name);
      if (fill === undefined) return Promise.resolve(undefined);
      const key = new Uint8Array(32).fill(fill);
      handed.push(key);
      return Promise.resolve({ key, via: name, details: { name } });
    };
  const request = { device: image, formatIfBlank: true, tools: { cryptsetup, blkid }, log: () => undefined };

  const first = await unlockVolume(request, [source('local unseal'), source('attestation', 7), source('never')]);
  assert.deepEqual(asked, ['local unseal', 'attestation']);
  assert.deepEqual(first, { device: image, tested: true, formatted: true, via: 'attestation', details: { name: 'attestation' } });
  assert.ok(
    handed[0]!.every((b) => b === 0),
    'the key was wiped',
  );

  const again = await unlockVolume(request, [source('local unseal', 7)]);
  assert.equal(again.formatted, false);
  await assert.rejects(unlockVolume(request, [source('wrong', 8)]), { code: 'ERR_AGENT_LUKS_KEY' });
  assert.ok(
    handed.every((k) => k.every((b) => b === 0)),
    'every key was wiped, the wrong one too',
  );

  await assert.rejects(obtainKey([source('none')]), { code: 'ERR_AGENT_SECRETS' });
  const refusing: KeySource = () => Promise.reject(new AgentError('ERR_AGENT_REVOKED', 'revoked', {}));
  await assert.rejects(obtainKey([source('none'), refusing]), { code: 'ERR_AGENT_REVOKED' });
});
