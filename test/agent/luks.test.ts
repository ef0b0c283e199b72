// "Blank" for --format-if-blank, defined strictly: no signature libblkid (blkid -p) or cryptsetup
// knows, and the first MiB all zeros. Checked on real images made by the real tools: a zeroed
// image is blank; an ext4 filesystem, a LUKS2 volume, a GPT and a MiB with one stray byte are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { BLANK_PREFIX_BYTES, blankVerdict, firstNonZeroByte, formatLuks, probeVolume, testLuksKey } from '../../src/agent/luks.ts';
import type { ToolPaths } from '../../src/agent/tools.ts';
import { peer } from '../helpers/peers.ts';
import { tempDir } from '../tpm/cli-helpers.ts';

test('blankVerdict: LUKS, any blkid signature, or a non-zero byte makes a volume not blank', () => {
  const zero = { prefixBytes: BLANK_PREFIX_BYTES, firstNonZero: -1, isLuks: false };
  assert.deepEqual(blankVerdict(zero), { blank: true });
  assert.deepEqual(blankVerdict({ ...zero, isLuks: true }), { blank: false, why: 'it is a LUKS volume' });
  assert.deepEqual(blankVerdict({ ...zero, blkidFound: 'ext4 (filesystem)' }), { blank: false, why: 'blkid finds ext4 (filesystem)' });
  assert.deepEqual(blankVerdict({ ...zero, firstNonZero: 4097 }), { blank: false, why: 'byte 4097 of its first MiB is not zero' });
});

test('firstNonZeroByte finds the first non-zero byte at any offset and alignment', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 7 }), fc.option(fc.nat(), { nil: undefined }), (length, shift, at) => {
      const backing = new Uint8Array(length + shift);
      const bytes = backing.subarray(shift);
      const expected = at === undefined || length === 0 ? -1 : at % length;
      if (expected >= 0) bytes[expected] = 1 + (at! % 255);
      assert.equal(firstNonZeroByte(bytes), expected);
    }),
  );
});

/** A sparse image file of `mib` MiB. */
async function image(dir: string, name: string, mib: number): Promise<string> {
  const path = join(dir, name);
  const handle = await open(path, 'w');
  await handle.truncate(mib * 1024 * 1024);
  await handle.close();
  return path;
}

test('probeVolume on real images: zeros are blank; ext4, LUKS2, GPT and one stray byte are not', async (t) => {
  const cryptsetup = peer(t, 'cryptsetup');
  const blkid = peer(t, 'blkid');
  const mkfs = peer(t, 'mkfs.ext4');
  const sfdisk = peer(t, 'sfdisk');
  if (!cryptsetup || !blkid || !mkfs || !sfdisk) return;
  const tools: ToolPaths = { cryptsetup, blkid };
  const dir = await tempDir(t, 'vouch-agent-luks-');

  const zeros = await image(dir, 'zeros.img', 32);
  assert.deepEqual(blankVerdict(await probeVolume(zeros, tools)), { blank: true });

  const ext4 = await image(dir, 'ext4.img', 32);
  assert.equal(spawnSync(mkfs, ['-q', '-F', ext4]).status, 0);
  assert.deepEqual(blankVerdict(await probeVolume(ext4, tools)), { blank: false, why: 'blkid finds ext4 (filesystem)' });

  const gpt = await image(dir, 'gpt.img', 32);
  assert.equal(spawnSync(sfdisk, ['-q', gpt], { input: 'label: gpt\n,\n' }).status, 0);
  assert.deepEqual(blankVerdict(await probeVolume(gpt, tools)), { blank: false, why: 'blkid finds gpt' });

  const stray = await image(dir, 'stray.img', 32);
  const handle = await open(stray, 'r+');
  await handle.write(new Uint8Array([0x5a]), 0, 1, BLANK_PREFIX_BYTES - 1);
  await handle.close();
  assert.deepEqual(blankVerdict(await probeVolume(stray, tools)), { blank: false, why: `byte ${BLANK_PREFIX_BYTES - 1} of its first MiB is not zero` });

  const luks = await image(dir, 'luks.img', 32);
  const key = new Uint8Array(32).fill(7);
  await formatLuks(luks, key, tools);
  const probe = await probeVolume(luks, tools);
  assert.equal(probe.isLuks, true);
  assert.equal(probe.blkidFound, 'crypto_LUKS (crypto)');
  await testLuksKey(luks, key, tools);
  await assert.rejects(testLuksKey(luks, new Uint8Array(32).fill(8), tools), { code: 'ERR_AGENT_LUKS_KEY' });
  // luksDump agrees on what was made: LUKS2, PBKDF2 keyslot 0.
  const dump = spawnSync(cryptsetup, ['luksDump', luks], { encoding: 'utf8' });
  assert.match(dump.stdout, /^Version:\s+2$/m);
  assert.match(dump.stdout, /^\s+0: luks2$/m);
  assert.match(dump.stdout, /PBKDF:\s+pbkdf2/);

  await assert.rejects(probeVolume(join(dir, 'no-such.img'), tools), { code: 'ERR_AGENT_LUKS', message: /cannot be opened: ENOENT/ });
});
