// Credential activation across implementations, on a real swtpm manufactured by swtpm_setup
// (RSA-2048 EK, ECC P-256 EK from the low-range template, and its persisted P-384 EK with a
// SHA-384 name, AES-256 and the PolicyOR EK policy):
// - Vouch's software MakeCredential, knowing only the EK's public area, is activated by
//   tpm2_activatecredential;
// - a credential made by tpm2_makecredential (software, -T none) is recovered by Vouch's
//   ActivateCredential on the TPM, and by Vouch's unwrapCredential for a software EK.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../src/bytes/index.ts';
import { Tpm } from '../../src/tpm/client.ts';
import { TPM_ALG, TPM_ECC_CURVE } from '../../src/tpm/constants.ts';
import { makeCredential, objectName, tpmPublicFromKey, unwrapCredential } from '../../src/tpm/crypto/index.ts';
import { ekPolicyRecipe } from '../../src/tpm/policy.ts';
import { decode, encode, wrap } from '../../src/tpm/schema/index.ts';
import { TPM2B_PUBLIC, TPMT_PUBLIC } from '../../src/tpm/structures.ts';
import { ekTemplate } from '../../src/tpm/templates.ts';
import { encodeCredentialFile, parseCredentialFile } from '../../src/tpm/tpm2-tools-files.ts';
import { peer } from '../helpers/peers.ts';
import { run, startSwtpm } from '../helpers/swtpm.ts';

/** swtpm_setup persists its high-range P-384 EK here (EK Credential Profile 2.3, H-3 template). */
const P384_EK_HANDLE = 0x81010016;
const AK_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign';

async function tool(env: NodeJS.ProcessEnv | undefined, cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.output}`);
  return r.stdout;
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-credential-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("Vouch's software MakeCredential is activated by tpm2_activatecredential (RSA, ECC P-256, swtpm's P-384 EK)", async (t) => {
  if (!peer(t, 'tpm2_activatecredential')) return;
  const swtpm = await startSwtpm(t, { tcp: true, manufactured: true });
  if (!swtpm?.env) return;
  const env = swtpm.env;
  const dir = await tempDir(t);
  const f = (name: string): string => join(dir, name);
  t.after(() => run('tpm2_flushcontext', ['-t'], env));

  await tool(env, 'tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc', '-c', f('srk.ctx')]);
  await tool(env, 'tpm2_create', ['-C', f('srk.ctx'), '-G', 'ecc256:ecdsa-sha256:null', '-a', AK_ATTRIBUTES, '-u', f('ak.pub'), '-r', f('ak.priv')]);
  await tool(env, 'tpm2_flushcontext', ['-t']);
  await tool(env, 'tpm2_load', ['-C', f('srk.ctx'), '-u', f('ak.pub'), '-r', f('ak.priv'), '-c', f('ak.ctx'), '-n', f('ak.name')]);
  await tool(env, 'tpm2_flushcontext', ['-t']);
  // The AK's Name as Vouch computes it from the public area equals the TPM's.
  const akName = objectName(decode(TPM2B_PUBLIC, new Uint8Array(await readFile(f('ak.pub')))));
  assert.equal(toHex(akName), toHex(new Uint8Array(await readFile(f('ak.name')))));

  const eks = [
    { label: 'RSA-2048', make: ['tpm2_createek', ['-G', 'rsa', '-c', f('ek-rsa.ctx'), '-u', f('ek-rsa.pub')]], ctx: f('ek-rsa.ctx'), pub: f('ek-rsa.pub') },
    { label: 'ECC P-256', make: ['tpm2_createek', ['-G', 'ecc', '-c', f('ek-ecc.ctx'), '-u', f('ek-ecc.pub')]], ctx: f('ek-ecc.ctx'), pub: f('ek-ecc.pub') },
    {
      label: 'ECC P-384 (swtpm_setup)',
      make: ['tpm2_readpublic', ['-c', `0x${P384_EK_HANDLE.toString(16)}`, '-o', f('ek-p384.pub')]],
      ctx: `0x${P384_EK_HANDLE.toString(16)}`,
      pub: f('ek-p384.pub'),
    },
  ] as const;
  for (const ek of eks) {
    await t.test(ek.label, async () => {
      await tool(env, ek.make[0], ek.make[1]);
      await tool(env, 'tpm2_flushcontext', ['-t']);
      const ekPublic = decode(TPM2B_PUBLIC, new Uint8Array(await readFile(ek.pub))).value;
      const credential = new Uint8Array(randomBytes(32));
      await writeFile(f('cred.vouch'), encodeCredentialFile(makeCredential(ekPublic, credential, akName)));

      // The EK's authPolicy: PolicySecret(endorsement) in the EK's nameAlg, then PolicyOR for the high-range EK.
      const recipe = ekPolicyRecipe(ekPublic.nameAlg, ekPublic.authPolicy);
      assert.ok(recipe, 'the EK policy is one of the EK Credential Profile policies');
      const hash = ekPublic.nameAlg === TPM_ALG.SHA384 ? 'sha384' : 'sha256';
      await tool(env, 'tpm2_startauthsession', ['--policy-session', '-g', hash, '-S', f('session.ctx')]);
      try {
        await tool(env, 'tpm2_policysecret', ['-S', f('session.ctx'), '-c', 'e']);
        if (recipe.orBranches) {
          const files = await Promise.all(recipe.orBranches.map(async (b, i) => (await writeFile(f(`branch${i}.bin`), b), f(`branch${i}.bin`))));
          await tool(env, 'tpm2_policyor', ['-S', f('session.ctx'), '-l', `${hash}:${files.join(',')}`]);
        }
        await tool(env, 'tpm2_activatecredential', [
          '-c',
          f('ak.ctx'),
          '-C',
          ek.ctx,
          '-i',
          f('cred.vouch'),
          '-o',
          f('recovered'),
          '-P',
          `session:${f('session.ctx')}`,
        ]);
      } finally {
        await run('tpm2_flushcontext', [f('session.ctx')], env);
        await run('tpm2_flushcontext', ['-t'], env);
      }
      assert.equal(toHex(new Uint8Array(await readFile(f('recovered')))), toHex(credential));
    });
  }
});

test("tpm2_makecredential's credentials are recovered by Vouch's ActivateCredential (RSA, ECC, P-384 EK)", async (t) => {
  if (!peer(t, 'tpm2_makecredential')) return;
  const swtpm = await startSwtpm(t, { manufactured: true });
  if (!swtpm?.transport) return;
  const tpm = new Tpm(swtpm.transport);
  const dir = await tempDir(t);
  const f = (name: string): string => join(dir, name);
  const srk = await tpm.createSRK('ecc');
  const ak = await tpm.createAK(srk, 'ecc');
  await srk.flush();
  try {
    for (const kind of ['rsa', 'ecc', 'p384'] as const) {
      await t.test(kind, async () => {
        const ek = kind === 'p384' ? await tpm.readPublic(P384_EK_HANDLE) : await tpm.createEK(kind);
        try {
          await writeFile(f('ek.pub'), encode(TPM2B_PUBLIC, ek.public));
          const credential = new Uint8Array(randomBytes(kind === 'p384' ? 48 : 32));
          await writeFile(f('secret'), credential);
          await tool(undefined, 'tpm2_makecredential', ['-T', 'none', '-u', f('ek.pub'), '-s', f('secret'), '-n', toHex(ak.key.name), '-o', f('cred.tools')]);
          const made = parseCredentialFile(new Uint8Array(await readFile(f('cred.tools'))));
          assert.deepStrictEqual(await tpm.activateCredential(ak.key, ek, made.credentialBlob, made.secret), credential);
        } finally {
          await ek.flush();
        }
      });
    }
  } finally {
    await ak.key.flush();
  }
});

test("tpm2_makecredential's credentials are unwrapped by Vouch's software unwrapCredential (RSA-2048, P-256, P-384 EKs)", async (t) => {
  if (!peer(t, 'tpm2_makecredential')) return;
  const dir = await tempDir(t);
  const f = (name: string): string => join(dir, name);
  const akPublic = wrap(
    TPMT_PUBLIC,
    tpmPublicFromKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, {
      ...ekTemplate('ecc'),
      objectAttributes: { ...ekTemplate('ecc').objectAttributes, decrypt: false, sign: true },
    }),
  );
  const akName = objectName(akPublic);
  const p384Template: TPMT_PUBLIC = {
    ...ekTemplate('ecc'),
    nameAlg: TPM_ALG.SHA384,
    parameters: {
      symmetric: { algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.CFB },
      scheme: { scheme: TPM_ALG.NULL, details: null },
      curveID: TPM_ECC_CURVE.NIST_P384,
      kdf: { scheme: TPM_ALG.NULL, details: null },
    },
  };
  const cases = [
    { label: 'RSA-2048', keys: generateKeyPairSync('rsa', { modulusLength: 2048 }), template: ekTemplate('rsa') },
    { label: 'P-256', keys: generateKeyPairSync('ec', { namedCurve: 'P-256' }), template: ekTemplate('ecc') },
    { label: 'P-384 / SHA-384 / AES-256', keys: generateKeyPairSync('ec', { namedCurve: 'P-384' }), template: p384Template },
  ];
  for (const c of cases) {
    await t.test(c.label, async () => {
      const ekPublic = tpmPublicFromKey(c.keys.publicKey, c.template);
      await writeFile(f('ek.pub'), encode(TPM2B_PUBLIC, wrap(TPMT_PUBLIC, ekPublic)));
      const credential = new Uint8Array(randomBytes(20));
      await writeFile(f('secret'), credential);
      await tool(undefined, 'tpm2_makecredential', ['-T', 'none', '-u', f('ek.pub'), '-s', f('secret'), '-n', toHex(akName), '-o', f('cred.tools')]);
      const made = parseCredentialFile(new Uint8Array(await readFile(f('cred.tools'))));
      assert.deepStrictEqual(unwrapCredential(ekPublic, c.keys.privateKey, made, akName), credential);
      // Bound to the AK's Name: presenting it for another object fails the integrity HMAC.
      const otherName = akName.slice();
      otherName[5]! ^= 0x40;
      assert.throws(() => unwrapCredential(ekPublic, c.keys.privateKey, made, otherName), { code: 'ERR_TPM_CRYPTO_INTEGRITY' });
    });
  }
});
