// systemd as the consumer of Vouch's signed policies: a UKI that Vouch builds with `.pcrpkey`, then
// signs (its PCR 11 predicted per boot phase) and completes with `.pcrsig`, drives systemd 252's
// own unlock path. systemd-cryptenroll enrolls a LUKS2 volume with the UKI's public key against
// swtpm (its TCTI takes `swtpm:port=N`, so no TPM character device is needed); the swtpm's PCR 11
// is then extended as systemd-stub and systemd-pcrphase would while booting that UKI, and
// systemd-cryptsetup finds the signature in the UKI's .pcrsig, has the TPM verify it and unseals the
// keyslot's passphrase. This machine's kernel has no device-mapper, and libcryptsetup checks for it
// before it opens the keyslot, so the last steps (keyslot, /dev/mapper/NAME) cannot run here: the
// test asserts the unseal from systemd's debug log, and that a boot Vouch did not sign is refused.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex } from '../../src/bytes/index.ts';
import { keySigner, serializePcrSignature, signPcrPolicies } from '../../src/sealing/index.ts';
import { parsePe, peSectionContent } from '../../src/secureboot/index.ts';
import { Tpm } from '../../src/tpm/client.ts';
import { TPM_ALG } from '../../src/tpm/constants.ts';
import { packageFile, peer } from '../helpers/peers.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { withDir } from '../io/helpers.ts';
import { SYSTEMD_CRYPTSETUP, enrollLuksVolume, haveStub, policyKey, predictUki, readStub, systemdAttach } from './helpers.ts';

test('a UKI built and signed by Vouch lets systemd-cryptenroll + systemd-cryptsetup (252) enroll a LUKS2 volume and unseal its key with swtpm', async (t: TestContext) => {
  if (
    !haveStub(t) ||
    !peer(t, 'cryptsetup') ||
    !packageFile(t, '/usr/bin/systemd-cryptenroll', 'systemd') ||
    !packageFile(t, SYSTEMD_CRYPTSETUP, 'systemd-cryptsetup')
  )
    return;
  await withDir(async (dir) => {
    const stub = await readStub();
    const key = policyKey('rsa');
    const parts = {
      linux: randomBytes(4096),
      initrd: randomBytes(512),
      cmdline: 'composefs=cafe ro',
      osrel: 'ID=vouch\n',
      pcrpkey: new TextEncoder().encode(key.publicPem),
    };
    // .pcrsig is not measured: the PCRs are predicted from the image without it, the section is added after signing.
    const { prediction } = predictUki(stub, parts);
    const { document } = await signPcrPolicies(prediction, { publicKey: key.publicKey, signer: keySigner(key.privateKey), banks: ['sha256'] });
    const final = predictUki(stub, { ...parts, pcrsig: serializePcrSignature(document) });
    assert.deepEqual(final.prediction.banks.sha256?.['11'], prediction.banks.sha256?.['11'], 'adding .pcrsig leaves PCR 11 as predicted');
    const pe = parsePe(final.uki);
    await writeFile(join(dir, 'pcrsig.json'), peSectionContent(pe, '.pcrsig')!);
    await writeFile(join(dir, 'pcrpkey.pem'), peSectionContent(pe, '.pcrpkey')!);

    const swtpm = await startSwtpm(t, { tcp: true });
    if (!swtpm?.uri) return;
    // tpm2-tss's swtpm TCTI; a comma would end the option in systemd-cryptsetup's option string, so the host is its default.
    const tcti = `swtpm:port=${swtpm.uri.split('port=')[1]}`;
    const image = join(dir, 'volume.img');
    const enroll = await enrollLuksVolume(image, tcti, join(dir, 'pcrpkey.pem'), [11]);
    assert.equal(enroll.code, 0, enroll.output);
    assert.match(enroll.output, /New TPM2 token enrolled as key slot 1/);

    // Before boot PCR 11 is zero: no signed policy matches, the TPM2 token cannot unlock.
    const early = await systemdAttach(image, tcti, join(dir, 'pcrsig.json'));
    assert.match(early.output, /Couldn't find signature for this PCR bank, PCR index and public key/);

    // Boot the UKI: systemd-stub measures its sections, systemd-pcrphase "enter-initrd" (events as predicted).
    const tpm = await Tpm.open(swtpm.uri);
    const events = final.prediction.events.filter((e) => e.pcr === 11);
    for (const e of events.slice(0, events.findIndex((x) => x.description === 'enter-initrd') + 1))
      await tpm.pcrExtend(11, [{ hashAlg: TPM_ALG.SHA256, digest: fromHex(e.digests.sha256!) }]);
    await tpm.close();

    const booted = await systemdAttach(image, tcti, join(dir, 'pcrsig.json'));
    assert.doesNotMatch(booted.output, /Couldn't find signature/);
    assert.match(booted.output, /Configuring public key based PCR policy/);
    assert.match(booted.output, /Completed TPM2 key unsealing in [\d.]+m?s\./, booted.output.slice(-4000));
    // What this kernel cannot do: the dm-crypt mapping of the unlocked keyslot.
    assert.match(booted.output, /Activating volume vouch-test \[keyslot 1\] using passphrase\.\nCannot initialize device-mapper/);
  });
});
