// systemd-measure (systemd 252) as a real peer: for the same UKI sections and key, `systemd-measure
// sign` writes the same .pcrsig document Vouch computes from its own prediction of the UKI — the
// same policy digests per phase and bank, the same key fingerprint, and (RSA's PKCS#1 v1.5 being
// deterministic) byte for byte the same signatures; ECDSA signatures differ from run to run, so
// each side verifies the other's. systemd-measure 252 computes the digests with a TPM trial
// session: it talks to swtpm.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  keySigner,
  parsePcrSignature,
  policyKeyFingerprint,
  serializePcrSignature,
  signPcrPolicies,
  verifyPcrSignature,
  type PcrSignatureDocument,
} from '../../src/sealing/index.ts';
import { packageFile, peer } from '../helpers/peers.ts';
import { run, startSwtpm } from '../helpers/swtpm.ts';
import { withDir } from '../io/helpers.ts';
import { SYSTEMD_MEASURE, haveStub, policyKey, predictUki, readStub, type PolicyKey } from './helpers.ts';

const sections = {
  linux: randomBytes(4096),
  initrd: randomBytes(1024),
  cmdline: 'console=ttyS0 composefs=0123abcd ro',
  osrel: 'ID=vouch\nVERSION_ID=1\n',
};

async function systemdSign(t: TestContext, dir: string, key: PolicyKey): Promise<PcrSignatureDocument | undefined> {
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm?.tcti) return undefined;
  const files = {
    linux: sections.linux,
    initrd: sections.initrd,
    cmdline: sections.cmdline,
    osrel: sections.osrel,
    pcrpkey: key.publicPem,
    key: key.privatePem,
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const args = ['linux', 'initrd', 'cmdline', 'osrel', 'pcrpkey'].map((s) => `--${s}=${join(dir, s)}`);
  const r = await run(SYSTEMD_MEASURE, [
    'sign',
    `--tpm2-device=${swtpm.tcti}`,
    ...args,
    '--bank=sha1',
    '--bank=sha256',
    `--private-key=${join(dir, 'key')}`,
    `--public-key=${join(dir, 'pcrpkey')}`,
    '--json=short',
  ]);
  assert.equal(r.code, 0, `systemd-measure sign: ${r.output}`);
  return parsePcrSignature(new TextEncoder().encode(r.stdout));
}

async function vouchSign(key: PolicyKey): Promise<PcrSignatureDocument> {
  const { prediction } = predictUki(await readStub(), { ...sections, pcrpkey: new TextEncoder().encode(key.publicPem) });
  const { document } = await signPcrPolicies(prediction, { publicKey: key.publicKey, signer: keySigner(key.privateKey), banks: ['sha1', 'sha256'] });
  return document;
}

test('systemd-measure sign and Vouch write the same .pcrsig for a UKI with an RSA key (same policies, same signatures)', async (t) => {
  if (!haveStub(t) || !packageFile(t, SYSTEMD_MEASURE, 'systemd')) return;
  await withDir(async (dir) => {
    const key = policyKey('rsa');
    const theirs = await systemdSign(t, dir, key);
    if (!theirs) return;
    const ours = await vouchSign(key);
    assert.deepEqual(ours, theirs);
    assert.equal(theirs.sha256?.length, 4, 'one entry per phase: enter-initrd … ready');
    assert.equal(verifyPcrSignature(theirs, key.publicKey), 8);
  });
});

test('systemd-measure sign and Vouch agree on an ECDSA key: same policies and fingerprint, each verifies the other', async (t) => {
  if (!haveStub(t) || !packageFile(t, SYSTEMD_MEASURE, 'systemd') || !peer(t, 'openssl')) return;
  await withDir(async (dir) => {
    const key = policyKey('ec');
    const theirs = await systemdSign(t, dir, key);
    if (!theirs) return;
    const ours = await vouchSign(key);
    const withoutSig = (d: PcrSignatureDocument) =>
      Object.fromEntries(Object.entries(d).map(([bank, list]) => [bank, list.map(({ sig: _sig, ...rest }) => rest)]));
    assert.deepEqual(withoutSig(ours), withoutSig(theirs));
    assert.equal(theirs.sha256![0]!.pkfp, policyKeyFingerprint(key.publicKey));
    // Vouch verifies systemd's signatures; openssl (systemd's own verifier library) verifies Vouch's.
    assert.equal(verifyPcrSignature(theirs, key.publicKey), 8);
    await writeFile(join(dir, 'ours.json'), serializePcrSignature(ours));
    for (const entry of ours.sha256!) {
      await writeFile(join(dir, 'pol'), Buffer.from(entry.pol, 'hex'));
      await writeFile(join(dir, 'sig'), Buffer.from(entry.sig, 'base64'));
      const r = await run('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pcrpkey'), '-signature', join(dir, 'sig'), join(dir, 'pol')]);
      assert.equal(r.code, 0, `openssl dgst -verify: ${r.output}`);
    }
  });
});
