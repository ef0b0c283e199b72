// The TPM scenario suite, run unchanged on every TPM Vouch talks to: swtpm (scenario-swtpm.test.ts)
// and the in-process software TPM. A factory gives each test a fresh, started TPM (or undefined to
// skip when the peer is missing) and cleans it up when the test ends.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  constants as cryptoConstants,
} from 'node:crypto';
import { Tpm } from '../../src/tpm/client.ts';
import * as C from '../../src/tpm/commands.ts';
import type { CommandResponse } from '../../src/tpm/commands.ts';
import { HASH_NODE_NAME, HASH_SIZE, TPM_ALG, TPM_CC, TPM_GENERATED_VALUE, TPM_HT, TPM_RH, TPM_ST } from '../../src/tpm/constants.ts';
import { tpmPublicFromKey } from '../../src/tpm/crypto/keys.ts';
import { publicKeyFromTpmt } from '../../src/tpm/crypto/public-key.ts';
import { objectName } from '../../src/tpm/names.ts';
import { policyAuthValue, policyAuthorize, policyCommandCode, policyPcr, policyStart } from '../../src/tpm/policy.ts';
import { TpmRcError } from '../../src/tpm/rc.ts';
import { decode } from '../../src/tpm/schema/index.ts';
import { SESSION_AES_128_CFB, SESSION_XOR, passwordSession } from '../../src/tpm/session.ts';
import {
  TPMA_OBJECT,
  TPMT_SIGNATURE,
  type TPMS_ATTEST,
  type TPMT_PUBLIC,
  type TPMT_SIGNATURE as Signature,
  type TpmHashAlg,
} from '../../src/tpm/structures.ts';
import { akTemplate, sealedTemplate, type KeyAlg, type SignScheme } from '../../src/tpm/templates.ts';
import { pcrBytes } from '../helpers/pcrs.ts';
import { hashAlgorithmById } from '../../src/hash/index.ts';
import { pcrValuesInOrder } from '../../src/tpm/pcr-selection.ts';

/** An imported HMAC key (KEYEDHASH, HMAC-SHA256 scheme): the caller supplies the key bytes. */
function hmacTemplate(): TPMT_PUBLIC {
  return {
    type: TPM_ALG.KEYEDHASH,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true, userWithAuth: true, sign: true, noDA: true }),
    authPolicy: new Uint8Array(0),
    parameters: { scheme: { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA256 } } },
    unique: new Uint8Array(0),
  };
}

export type TpmFactory = (t: TestContext) => Promise<Tpm | undefined>;

const sha = (alg: number, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHash(HASH_NODE_NAME[alg]!);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** Checks a TPM signature over bytes with node:crypto (the verifier proper lives elsewhere). */
export function verifyTpmSignature(pub: TPMT_PUBLIC, message: Uint8Array, sig: Signature): boolean {
  const key = publicKeyFromTpmt(pub);
  if (sig.sigAlg === TPM_ALG.RSASSA || sig.sigAlg === TPM_ALG.RSAPSS) {
    const s = sig.signature as { hash: number; sig: Uint8Array };
    const padding = sig.sigAlg === TPM_ALG.RSAPSS ? cryptoConstants.RSA_PKCS1_PSS_PADDING : cryptoConstants.RSA_PKCS1_PADDING;
    return cryptoVerify(HASH_NODE_NAME[s.hash], message, { key, padding, saltLength: cryptoConstants.RSA_PSS_SALTLEN_AUTO }, s.sig);
  }
  if (sig.sigAlg === TPM_ALG.ECDSA) {
    const s = sig.signature as { hash: number; signatureR: Uint8Array; signatureS: Uint8Array };
    const size = Math.max(s.signatureR.length, s.signatureS.length, 32);
    const pad = (b: Uint8Array) => Buffer.concat([Buffer.alloc(size - b.length), b]);
    return cryptoVerify(HASH_NODE_NAME[s.hash], message, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([pad(s.signatureR), pad(s.signatureS)]));
  }
  return false;
}

async function noTransients(tpm: Tpm): Promise<void> {
  assert.deepStrictEqual(await tpm.handles(TPM_HT.TRANSIENT), [], 'every transient object was flushed');
}

export function tpmScenarioSuite(label: string, factory: TpmFactory): void {
  describe(`TPM scenario on ${label}`, () => {
    test('startup (twice), capabilities, random', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await tpm.startup();
      await tpm.startup();
      const info = await tpm.info();
      assert.ok(info.manufacturer.length > 0);
      const algs = new Set((await tpm.algorithms()).map((a) => a.alg));
      for (const a of [TPM_ALG.RSA, TPM_ALG.ECC, TPM_ALG.SHA256, TPM_ALG.AES, TPM_ALG.RSASSA, TPM_ALG.ECDSA])
        assert.ok(algs.has(a), `algorithm 0x${a.toString(16)}`);
      const banks = await tpm.pcrBanks();
      for (const b of [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384]) assert.ok(banks.includes(b), `bank 0x${b.toString(16)}`);
      const r1 = await tpm.getRandom(48);
      const r2 = await tpm.getRandom(48);
      assert.equal(r1.length, 48);
      assert.notDeepStrictEqual(r1, r2);
    });

    test('PCR read and extend in the sha1, sha256 and sha384 banks', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      const banks: TpmHashAlg[] = [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384];
      const all = Array.from({ length: 24 }, (_, i) => i);
      const before = await tpm.pcrRead(banks.map((hash) => ({ hash, pcrs: all })));
      for (const hash of banks) {
        const bank = hashAlgorithmById(hash)!;
        assert.equal(Object.keys(before[bank]!).length, 24);
        assert.deepStrictEqual(pcrBytes(before, bank, 16), new Uint8Array(HASH_SIZE[hash]!));
      }
      const event = new TextEncoder().encode('vouch scenario event');
      await tpm.pcrExtend(
        16,
        banks.map((hashAlg) => ({ hashAlg, digest: sha(hashAlg, event) })),
      );
      const after = await tpm.pcrRead(banks.map((hash) => ({ hash, pcrs: [16, 15] })));
      for (const hash of banks) {
        const bank = hashAlgorithmById(hash)!;
        assert.deepStrictEqual(pcrBytes(after, bank, 16), sha(hash, pcrBytes(before, bank, 16), sha(hash, event)));
        assert.deepStrictEqual(pcrBytes(after, bank, 15), pcrBytes(before, bank, 15));
      }
    });

    test('EKs from the profile templates (RSA L-1, ECC L-2): deterministic, ReadPublic and Name agree', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      for (const alg of ['rsa', 'ecc'] as KeyAlg[]) {
        await using ek = await tpm.createEK(alg);
        assert.deepStrictEqual(ek.name, objectName(ek.public));
        assert.equal(ek.public.value.type, alg === 'rsa' ? TPM_ALG.RSA : TPM_ALG.ECC);
        assert.ok(ek.public.value.objectAttributes.restricted && ek.public.value.objectAttributes.decrypt && ek.public.value.objectAttributes.adminWithPolicy);
        const read = await tpm.readPublic(ek.handle);
        assert.deepStrictEqual(read.name, ek.name);
        await using again = await tpm.createEK(alg);
        assert.deepStrictEqual(again.public.bytes, ek.public.bytes, 'same seed and template give the same EK');
        publicKeyFromTpmt(ek.public.value);
      }
      await noTransients(tpm);
    });

    test('SRK, AK create / load again, quotes with RSASSA, RSAPSS and ECDSA AKs over three banks', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await using srk = await tpm.createSRK('rsa');
      const selection = [
        { hash: TPM_ALG.SHA1, pcrs: [0, 1, 2, 3] },
        { hash: TPM_ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] },
        { hash: TPM_ALG.SHA384, pcrs: [16, 23] },
      ] as const;
      for (const [alg, scheme] of [
        ['rsa', 'rsassa'],
        ['rsa', 'rsapss'],
        ['ecc', 'ecdsa'],
      ] as [KeyAlg, SignScheme][]) {
        const created = await tpm.createAK(srk, alg, scheme);
        await created.key.flush();
        await using ak = await tpm.load(srk.ref, created.private, created.public);
        assert.deepStrictEqual(ak.name, objectName(created.public));
        const nonce = new Uint8Array(randomBytes(32));
        const q = await tpm.quote(ak.ref, nonce, selection);
        const attest: TPMS_ATTEST = q.quoted.value;
        assert.equal(attest.magic, TPM_GENERATED_VALUE);
        assert.equal(attest.type, TPM_ST.ATTEST_QUOTE);
        assert.deepStrictEqual(attest.extraData, nonce);
        const info = attest.attested as { pcrSelect: { hash: number }[]; pcrDigest: Uint8Array };
        assert.deepStrictEqual(
          info.pcrSelect.map((s) => s.hash),
          selection.map((s) => s.hash),
        );
        const concat = pcrValuesInOrder(await tpm.pcrRead(selection), selection);
        assert.deepStrictEqual(info.pcrDigest, sha(TPM_ALG.SHA256, ...concat), 'pcrDigest = SHA-256 of the selected values in order');
        assert.deepStrictEqual(decode(TPMT_SIGNATURE, q.signatureBytes), q.signature);
        assert.equal(q.signature.sigAlg, { rsassa: TPM_ALG.RSASSA, rsapss: TPM_ALG.RSAPSS, ecdsa: TPM_ALG.ECDSA }[scheme]);
        assert.ok(verifyTpmSignature(created.public.value, q.quoted.bytes, q.signature), `${scheme} quote signature verifies`);
        const flipped = q.quoted.bytes.slice();
        flipped[flipped.length - 1]! ^= 1;
        assert.equal(verifyTpmSignature(created.public.value, flipped, q.signature), false);
        // The TPM agrees: VerifySignature over the digest of the attestation.
        const { validation }: CommandResponse<typeof C.VerifySignature> = await tpm.run(C.VerifySignature, {
          keyHandle: ak.handle,
          digest: sha(TPM_ALG.SHA256, q.quoted.bytes),
          signature: q.signature,
        });
        assert.equal(validation.tag, TPM_ST.VERIFIED);
      }
      await srk.flush();
      await noTransients(tpm);
    });

    test('an AK under the EK: Create and Load authorized by the EK policy; it quotes', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await using ek = await tpm.createEK('ecc');
      const ak = await tpm.createAK(ek, 'ecc');
      await ak.key.flush();
      await using again = await tpm.loadChild(ek, ak.private, ak.public);
      const q = await tpm.quote(again.ref, new Uint8Array(8), [{ hash: TPM_ALG.SHA256, pcrs: [0] }]);
      assert.ok(verifyTpmSignature(ak.public.value, q.quoted.bytes, q.signature));
      await again.flush();
      await ek.flush();
      await noTransients(tpm);
    });

    test('NV: define, chunked write and read, read public, undefine', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      const index = 0x01500010;
      const data = new Uint8Array(randomBytes(1800));
      await tpm.nvDefine(index, data.length, { auth: new TextEncoder().encode('nv-pass') });
      try {
        const { public: pub, name } = await tpm.nvReadPublic(index);
        assert.equal(pub.value.dataSize, data.length);
        assert.equal(name.length, 34);
        await tpm.nvWrite(index, data, { auth: new TextEncoder().encode('nv-pass') });
        assert.deepStrictEqual(await tpm.nvRead(index, { auth: new TextEncoder().encode('nv-pass') }), data);
        assert.deepStrictEqual(await tpm.nvRead(index, { authHandle: TPM_RH.OWNER, offset: 1000, size: 700 }), data.subarray(1000, 1700));
        assert.equal((await tpm.nvReadPublic(index)).public.value.attributes.written, true);
        await assert.rejects(tpm.run(C.NV_DefineSpace, { authHandle: TPM_RH.OWNER, auth: new Uint8Array(0), publicInfo: pub }), (e: unknown) => {
          assert.ok(e instanceof TpmRcError);
          assert.equal(e.details.rcName, 'TPM_RC_NV_DEFINED');
          return true;
        });
      } finally {
        await tpm.nvUndefine(index);
      }
      await assert.rejects(tpm.nvReadPublic(index), { code: 'ERR_TPM_RC' });
    });

    test('policy: PolicyPCR digest matches the software prediction; PolicyGetDigest in a trial session', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      const sel = [{ hash: TPM_ALG.SHA256, pcrs: [0, 7, 16] }] as const;
      const values = await tpm.pcrRead(sel);
      const predicted = policyPcr(
        TPM_ALG.SHA256,
        policyStart(TPM_ALG.SHA256),
        [{ hash: TPM_ALG.SHA256, pcrSelect: new Uint8Array([0x81, 0x00, 0x01]) }],
        [0, 7, 16].map((p) => pcrBytes(values, 'sha256', p)),
      );
      for (const kind of ['trial', 'policy'] as const) {
        const digest: Uint8Array = await tpm.withSession(kind, TPM_ALG.SHA256, async (s) => {
          await tpm.policyPCR(s, sel);
          return tpm.policyGetDigest(s);
        });
        assert.deepStrictEqual(digest, predicted, kind);
      }
      await noTransients(tpm);
    });

    test('seal / unseal under a PCR policy; after an extend the TPM refuses with TPM_RC_POLICY_FAIL', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await using srk = await tpm.createSRK('ecc');
      const sel = [{ hash: TPM_ALG.SHA256, pcrs: [16] }] as const;
      const pcr16 = pcrBytes(await tpm.pcrRead(sel), 'sha256', 16);
      const policy = policyPcr(TPM_ALG.SHA256, policyStart(TPM_ALG.SHA256), [{ hash: TPM_ALG.SHA256, pcrSelect: new Uint8Array([0, 0, 1]) }], [pcr16]);
      const secret = new TextEncoder().encode('disk key for node 7');
      const sealed = await tpm.create(srk.ref, sealedTemplate(policy), { data: secret });
      await using item = await tpm.load(srk.ref, sealed.private, sealed.public);
      const unseal = () =>
        tpm.withSession('policy', TPM_ALG.SHA256, async (s) => {
          await tpm.policyPCR(s, sel);
          return tpm.unseal(item.ref, s);
        });
      assert.deepStrictEqual(await unseal(), secret);
      await tpm.pcrExtend(16, [{ hashAlg: TPM_ALG.SHA256, digest: sha(TPM_ALG.SHA256, secret) }]);
      await assert.rejects(unseal(), (e: unknown) => {
        assert.ok(e instanceof TpmRcError);
        assert.equal(e.code, 'ERR_TPM_RC');
        assert.equal(e.details.rcName, 'TPM_RC_POLICY_FAIL');
        assert.equal(e.details.session, 1);
        return true;
      });
      await assert.rejects(tpm.unseal(item.ref), { code: 'ERR_TPM_RC' }, 'no password route when userWithAuth is clear');
      await item.flush();
      await srk.flush();
      await noTransients(tpm);
    });

    test('authorization: HMAC session with cpHash/rpHash; wrong auth is TPM_RC_BAD_AUTH for session 1', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await using srk = await tpm.createSRK('ecc');
      const auth = new TextEncoder().encode('object password');
      const secret = new TextEncoder().encode('sealed with a password');
      const sealed = await tpm.create(srk.ref, sealedTemplate(), { userAuth: auth, data: secret });
      await using item = await tpm.load(srk.ref, sealed.private, sealed.public);
      assert.deepStrictEqual(await tpm.unseal(item.ref, passwordSession(auth)), secret);
      const hmac = await tpm.startSession('hmac', TPM_ALG.SHA256);
      hmac.authValue = auth;
      // Two commands in one session: the nonces roll and the response HMACs verify.
      assert.deepStrictEqual(await tpm.unseal(item.handle, hmac), secret);
      assert.deepStrictEqual(await tpm.unseal(item.ref, hmac), secret);
      hmac.authValue = new TextEncoder().encode('wrong');
      await assert.rejects(tpm.unseal(item.ref, hmac), (e: unknown) => {
        assert.ok(e instanceof TpmRcError);
        assert.equal(e.details.rcName, 'TPM_RC_BAD_AUTH');
        assert.equal(e.details.session, 1);
        assert.match(e.message, /TPM2_Unseal failed: TPM_RC_BAD_AUTH \(session 1\)/);
        return true;
      });
      await tpm.flush(hmac.handle).catch(() => undefined);
      await assert.rejects(tpm.unseal(item.ref, passwordSession(new TextEncoder().encode('wrong'))), { code: 'ERR_TPM_RC' });
      await item.flush();
      await srk.flush();
      await noTransients(tpm);
    });

    test('salted (RSA-OAEP and ECDH) and bound HMAC sessions', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await using srk = await tpm.createSRK('ecc');
      const auth = new TextEncoder().encode('item auth');
      const secret = new TextEncoder().encode('salted secret');
      const sealed = await tpm.create(srk.ref, sealedTemplate(), { userAuth: auth, data: secret });
      await using item = await tpm.load(srk.ref, sealed.private, sealed.public);
      // ECC SRK: the salt travels as an ephemeral ECDH point.
      const eccSalted = await tpm.startSession('hmac', TPM_ALG.SHA256, { saltKey: srk });
      eccSalted.authValue = auth;
      assert.deepStrictEqual(await tpm.unseal(item.ref, eccSalted), secret);
      await tpm.flush(eccSalted.handle);
      // Bound to the item itself: its authValue is in the session key and left out of the HMAC key.
      const bound = await tpm.startSession('hmac', TPM_ALG.SHA256, { bind: { handle: item.handle, name: item.name, authValue: auth } });
      bound.authValue = auth;
      assert.deepStrictEqual(await tpm.unseal(item.ref, bound), secret);
      await tpm.flush(bound.handle);
      await item.flush();
      await srk.flush();
      // RSA key as salt target: RSA-OAEP with label "SECRET".
      await using rsaSrk = await tpm.createSRK('rsa');
      const rsaSalted = await tpm.startSession('hmac', TPM_ALG.SHA384, { saltKey: rsaSrk });
      const sealed2 = await tpm.create(rsaSrk.ref, sealedTemplate(), { data: secret }, [rsaSalted]);
      assert.ok(sealed2.private.length > 0, 'Create authorized through a salted SHA-384 session');
      await tpm.flush(rsaSalted.handle);
      await rsaSrk.flush();
      await noTransients(tpm);
    });

    test('more commands: SelfTest, ReadClock, TestParms, Hash, PCR_Event/Reset, NV_Extend, ContextSave/Load, Certify, Sign, HMAC', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      await tpm.run(C.SelfTest, { fullTest: true });
      const { currentTime } = await tpm.run(C.ReadClock, {});
      assert.equal(typeof currentTime.clockInfo.clock, 'bigint');
      await tpm.run(C.TestParms, {
        parameters: {
          type: TPM_ALG.ECC,
          parameters: {
            symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
            scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } },
            curveID: 0x0003,
            kdf: { scheme: TPM_ALG.NULL, details: null },
          },
        },
      });
      const data = new TextEncoder().encode('abc');
      const hashed = await tpm.run(C.Hash, { data, hashAlg: TPM_ALG.SHA256, hierarchy: TPM_RH.OWNER });
      assert.deepStrictEqual(hashed.outHash, sha(TPM_ALG.SHA256, data));
      assert.equal(hashed.validation.tag, TPM_ST.HASHCHECK);

      const event = await tpm.run(C.PCR_Event, { pcrHandle: 16, eventData: data });
      for (const d of event.digests) assert.deepStrictEqual(d.digest, sha(d.hashAlg, data));
      await tpm.run(C.PCR_Reset, { pcrHandle: 16 });
      assert.deepStrictEqual(pcrBytes(await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }]), 'sha256', 16), new Uint8Array(32));

      const nvIndex = 0x01500020;
      await tpm.nvDefine(nvIndex, 32, { attributes: { nt: 4 } });
      try {
        await tpm.run(C.NV_Extend, { authHandle: nvIndex, nvIndex, data });
        assert.deepStrictEqual(await tpm.nvRead(nvIndex), sha(TPM_ALG.SHA256, new Uint8Array(32), data));
      } finally {
        await tpm.nvUndefine(nvIndex);
      }

      const srk = await tpm.createSRK('ecc');
      const { context } = await tpm.run(C.ContextSave, { saveHandle: srk.handle });
      await srk.flush();
      const { loadedHandle } = await tpm.run(C.ContextLoad, { context });
      const reloaded = await tpm.readPublic(loadedHandle);
      assert.deepStrictEqual(reloaded.name, srk.name);
      const ak = await tpm.createAK(reloaded, 'ecc');
      const nonce = new Uint8Array(randomBytes(16));
      const cert = await tpm.run(
        C.Certify,
        { objectHandle: reloaded.handle, signHandle: ak.key.handle, qualifyingData: nonce, inScheme: { scheme: TPM_ALG.NULL, details: null } },
        { sessions: [passwordSession(), passwordSession()] },
      );
      assert.equal(cert.certifyInfo.value.type, TPM_ST.ATTEST_CERTIFY);
      assert.deepStrictEqual((cert.certifyInfo.value.attested as { name: Uint8Array }).name, srk.name);
      assert.ok(verifyTpmSignature(ak.public.value, cert.certifyInfo.bytes, cert.signature));
      await ak.key.flush();

      // An unrestricted signing key signs any digest (a NULL hashcheck ticket suffices).
      const signer = await tpm.create(reloaded.ref, {
        ...akTemplate('ecc'),
        objectAttributes: TPMA_OBJECT.make({ fixedTPM: true, fixedParent: true, sensitiveDataOrigin: true, userWithAuth: true, sign: true }),
      });
      const hmacKey = new Uint8Array(randomBytes(32));
      const keyed = await tpm.create(reloaded.ref, hmacTemplate(), { data: hmacKey });
      const signerLoaded = await tpm.load(reloaded.ref, signer.private, signer.public);
      const digest = sha(TPM_ALG.SHA256, data);
      const signed = await tpm.run(C.Sign, {
        keyHandle: signerLoaded.handle,
        digest,
        inScheme: { scheme: TPM_ALG.NULL, details: null },
        validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) },
      });
      assert.ok(verifyTpmSignature(signer.public.value, data, signed.signature));
      await signerLoaded.flush();
      const hmacLoaded = await tpm.load(reloaded.ref, keyed.private, keyed.public);
      const mac = await tpm.run(C.HMAC, { handle: hmacLoaded.handle, buffer: data, hashAlg: TPM_ALG.NULL });
      assert.deepStrictEqual(mac.outHMAC, new Uint8Array(createHmac('sha256', hmacKey).update(data).digest()));
      await hmacLoaded.flush();
      await reloaded.flush();
      await noTransients(tpm);
    });

    test('policies: CommandCode + AuthValue, Password, Restart, Authorize with a VerifySignature ticket', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      const H = TPM_ALG.SHA256;
      await using srk = await tpm.createSRK('ecc');
      const auth = new TextEncoder().encode('policy auth');
      const secret = new TextEncoder().encode('released by policy');
      const policy = policyAuthValue(H, policyCommandCode(H, policyStart(H), TPM_CC.Unseal));
      const sealed = await tpm.create(srk.ref, sealedTemplate(policy), { userAuth: auth, data: secret });
      await using item = await tpm.load(srk.ref, sealed.private, sealed.public);
      for (const route of ['authValue', 'password'] as const) {
        const out: Uint8Array = await tpm.withSession('policy', H, async (s) => {
          await tpm.run(C.PolicyCommandCode, { policySession: s.handle, code: TPM_CC.Unseal });
          if (route === 'authValue') {
            await tpm.run(C.PolicyAuthValue, { policySession: s.handle });
            s.policyAuthValue = true;
          } else {
            await tpm.run(C.PolicyPassword, { policySession: s.handle });
            s.policyPassword = true;
          }
          assert.deepStrictEqual(await tpm.policyGetDigest(s), policy);
          s.authValue = auth;
          return tpm.unseal(item.ref, s);
        });
        assert.deepStrictEqual(out, secret, route);
      }
      await tpm.withSession('trial', H, async (s) => {
        await tpm.policyPCR(s, [{ hash: H, pcrs: [0] }]);
        await tpm.run(C.PolicyRestart, { sessionHandle: s.handle });
        assert.deepStrictEqual(await tpm.policyGetDigest(s), policyStart(H));
      });
      await item.flush();
      await srk.flush();

      // PolicyAuthorize: an authority's key approves a PolicyPCR digest; the TPM checks its signature.
      const authority = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const authorityPublic = tpmPublicFromKey(authority.publicKey, {
        ...akTemplate('ecc'),
        objectAttributes: TPMA_OBJECT.make({ userWithAuth: true, sign: true }),
      });
      await using keySign = await tpm.loadExternal(authorityPublic, TPM_RH.OWNER);
      const sel = [{ hash: H, pcrs: [0, 1] }] as const;
      const approvedPolicy: Uint8Array = await tpm.withSession('trial', H, async (s) => {
        await tpm.policyPCR(s, sel);
        return tpm.policyGetDigest(s);
      });
      const policyRef = new TextEncoder().encode('vouch-test');
      const signature = cryptoSign('sha256', Buffer.concat([approvedPolicy, policyRef]), { key: authority.privateKey, dsaEncoding: 'ieee-p1363' });
      const ticket = await tpm.run(C.VerifySignature, {
        keyHandle: keySign.handle,
        digest: sha(H, approvedPolicy, policyRef),
        signature: { sigAlg: TPM_ALG.ECDSA, signature: { hash: H, signatureR: signature.subarray(0, 32), signatureS: signature.subarray(32) } },
      });
      const authorized: Uint8Array = await tpm.withSession('policy', H, async (s) => {
        await tpm.policyPCR(s, sel);
        await tpm.run(C.PolicyAuthorize, { policySession: s.handle, approvedPolicy, policyRef, keySign: keySign.name, checkTicket: ticket.validation });
        return tpm.policyGetDigest(s);
      });
      assert.deepStrictEqual(authorized, policyAuthorize(H, keySign.name, policyRef));
      await keySign.flush();
      await noTransients(tpm);
    });

    test('parameter encryption: Unseal output, NV_Write data and Create sensitive data never cross the wire in clear', async (t) => {
      const base = await factory(t);
      if (!base) return;
      // Watch the bytes on the wire.
      const wire: Uint8Array[] = [];
      const tpm = new Tpm({
        send: async (command) => {
          wire.push(command);
          const response = await base.transport.send(command);
          wire.push(response);
          return response;
        },
        close: () => base.close(),
      });
      const onWire = (needle: Uint8Array) => wire.some((b) => Buffer.from(b).includes(Buffer.from(needle)));
      await using srk = await tpm.createSRK('ecc');
      const secret = new TextEncoder().encode('disk key that must stay off the bus');
      for (const [label, symmetric] of [
        ['AES-128-CFB', SESSION_AES_128_CFB],
        ['XOR', SESSION_XOR(TPM_ALG.SHA256)],
      ] as const) {
        for (const userAuth of [new Uint8Array(0), new TextEncoder().encode('object auth')]) {
          wire.length = 0;
          const session = await tpm.startSession('hmac', TPM_ALG.SHA256, { saltKey: srk, symmetric });
          session.encryptsCommand = true;
          session.encryptsResponse = true;
          const sealed = await tpm.create(srk.ref, sealedTemplate(), { userAuth, data: secret }, [session]);
          session.encryptsCommand = false;
          const item = await tpm.load(srk.ref, sealed.private, sealed.public);
          session.authValue = userAuth;
          assert.deepStrictEqual(await tpm.unseal(item.ref, session), secret, `${label}, auth of ${userAuth.length} bytes`);
          assert.equal(onWire(secret), false, `${label}: the secret was seen on the wire`);
          await item.flush();
          await tpm.flush(session.handle);
        }
      }
      const index = 0x01500030;
      await tpm.nvDefine(index, secret.length);
      try {
        wire.length = 0;
        const session = await tpm.startSession('hmac', TPM_ALG.SHA256, { saltKey: srk, symmetric: SESSION_AES_128_CFB });
        session.encryptsCommand = true;
        await tpm.run(C.NV_Write, { authHandle: index, nvIndex: index, data: secret, offset: 0 }, { sessions: [session] });
        assert.equal(onWire(secret), false, 'NV_Write data was seen on the wire');
        session.encryptsCommand = false;
        session.encryptsResponse = true;
        const read = await tpm.run(C.NV_Read, { authHandle: index, nvIndex: index, size: secret.length, offset: 0 }, { sessions: [session] });
        assert.deepStrictEqual(read.data, secret);
        assert.equal(onWire(secret), false, 'NV_Read data was seen on the wire');
        await tpm.flush(session.handle);
      } finally {
        await tpm.nvUndefine(index);
      }
      await srk.flush();
      await noTransients(tpm);
    });

    test('EvictControl: persist the SRK, use it by its persistent handle, evict it', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      const persistent = 0x81000100;
      const srk = await tpm.createSRK('ecc');
      await tpm.evictControl(srk.handle, persistent);
      await srk.flush();
      try {
        assert.ok((await tpm.handles(TPM_HT.PERSISTENT)).includes(persistent));
        const p = await tpm.readPublic(persistent);
        assert.deepStrictEqual(p.name, srk.name);
        const ak = await tpm.createAK(p, 'ecc');
        await ak.key.flush();
      } finally {
        await tpm.evictControl(persistent, persistent);
      }
      assert.ok(!(await tpm.handles(TPM_HT.PERSISTENT)).includes(persistent));
      await noTransients(tpm);
    });

    test('credential activation: TPM MakeCredential to RSA and ECC EKs, ActivateCredential with the EK policy', async (t) => {
      const tpm = await factory(t);
      if (!tpm) return;
      // swtpm has three object slots: SRK, AK, EK and the EK's public copy do not fit at once.
      const srk = await tpm.createSRK('ecc');
      const ak = await tpm.createAK(srk, 'ecc');
      await srk.flush();
      try {
        for (const alg of ['rsa', 'ecc'] as KeyAlg[]) {
          await using ek = await tpm.createEK(alg);
          const credential = new Uint8Array(randomBytes(32));
          // MakeCredential needs only the EK's public part: load it as an external key, as a verifier would.
          const ekPublic = await tpm.loadExternal(ek.public);
          const made: CommandResponse<typeof C.MakeCredential> = await tpm.run(C.MakeCredential, {
            handle: ekPublic.handle,
            credential,
            objectName: ak.key.name,
          });
          const otherName = ak.key.name.slice();
          otherName[otherName.length - 1]! ^= 1;
          const forOther: CommandResponse<typeof C.MakeCredential> = await tpm.run(C.MakeCredential, {
            handle: ekPublic.handle,
            credential,
            objectName: otherName,
          });
          await ekPublic.flush();
          assert.deepStrictEqual(await tpm.activateCredential(ak.key, ek, made.credentialBlob, made.secret), credential);
          // Bound to Name(AK): a credential made for another key's Name does not activate with this AK.
          await assert.rejects(tpm.activateCredential(ak.key, ek, forOther.credentialBlob, forOther.secret), { code: 'ERR_TPM_RC' });
        }
      } finally {
        await ak.key.flush();
      }
      await noTransients(tpm);
    });
  });
}
