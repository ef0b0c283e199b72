// Differential test of what local sealing uses: NV counters (NV_DefineSpace of TPM_NT_COUNTER,
// NV_Increment, NV_Read), TPM2_PolicyNV, VerifySignature tickets taken by PolicyAuthorize,
// PolicyAuthValue, and sealed objects created, loaded and unsealed in policy sessions — on swtpm and
// on `sim:`, with the same successes and the same TPM_RC codes. Trial sessions also check that
// TrialPolicy computes each digest the TPM computes.
import { test, type TestContext } from 'node:test';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { fromHex, toHex } from '../../src/bytes/index.ts';
import type { Tpm } from '../../src/tpm/client.ts';
import * as C from '../../src/tpm/commands.ts';
import { TPM_ALG, TPM_CC, TPM_ECC_CURVE, TPM_EO, TPM_RH } from '../../src/tpm/constants.ts';
import { TrialPolicy, signTpm, tpmPublicFromKey } from '../../src/tpm/crypto/index.ts';
import { passwordSession, type AuthSession } from '../../src/tpm/session.ts';
import { TPM2B_NV_PUBLIC, TPMA_NV, type TPMT_PUBLIC, type TPMT_SIGNATURE } from '../../src/tpm/structures.ts';
import { sealedTemplate, srkTemplate, verificationKeyTemplate } from '../../src/tpm/templates.ts';
import { assertSameAsSwtpm, recorder, type Outcomes } from './differential.ts';

const SHA256 = TPM_ALG.SHA256;
const enc = (s: string) => new TextEncoder().encode(s);
const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
};

/** The same policy-signing keys in both runs: LoadExternal gives them the same Name on both TPMs. */
const ecKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

function verificationKey(key: KeyObject): TPMT_PUBLIC {
  return tpmPublicFromKey(
    key,
    key.asymmetricKeyType === 'rsa'
      ? verificationKeyTemplate({ kind: 'rsa', keyBits: 2048 })
      : verificationKeyTemplate({ kind: 'ecc', curveID: TPM_ECC_CURVE.NIST_P256 }),
  );
}

/** Signs aHash = H(approvedPolicy ‖ policyRef) as systemd-measure does: RSASSA or ECDSA with SHA-256. */
function approve(privateKey: KeyObject, approvedPolicy: Uint8Array, policyRef: Uint8Array = new Uint8Array(0)): TPMT_SIGNATURE {
  const sigAlg = privateKey.asymmetricKeyType === 'rsa' ? TPM_ALG.RSASSA : TPM_ALG.ECDSA;
  return signTpm(privateKey, { sigAlg, hashAlg: SHA256 }, { digest: sha256(approvedPolicy, policyRef) });
}

async function script(tpm: Tpm): Promise<Outcomes> {
  const { out, step } = recorder();
  const counter = 0x01500080;
  const ordinary = 0x01500081;

  // ---- NV counters ----
  await step(
    'NV_DefineSpace of a 4-byte counter',
    tpm.run(C.NV_DefineSpace, {
      authHandle: TPM_RH.OWNER,
      auth: new Uint8Array(0),
      publicInfo: TPM2B_NV_PUBLIC.wrap({
        nvIndex: counter,
        nameAlg: SHA256,
        attributes: TPMA_NV.make({ nt: 1, authRead: true, authWrite: true, ownerRead: true, ownerWrite: true, noDA: true }),
        authPolicy: new Uint8Array(0),
        dataSize: 4,
      }),
    }),
  );
  await step('NV_DefineSpace of a counter', tpm.nvDefineCounter(counter, { auth: enc('ctr') }));
  await step('NV_ReadPublic of a fresh counter', tpm.nvReadPublic(counter), (r) => `${toHex(r.public.bytes)} ${toHex(r.name)}`);
  await step('NV_Read of a counter never incremented', tpm.run(C.NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: counter, size: 8, offset: 0 }));
  await step('NV_Write to a counter', tpm.nvWrite(counter, new Uint8Array(8), { auth: enc('ctr') }));
  await step(
    'NV_Extend of a counter',
    tpm.run(C.NV_Extend, { authHandle: counter, nvIndex: counter, data: new Uint8Array(4) }, { sessions: [passwordSession(enc('ctr'))] }),
  );
  await step('NV_Increment with a wrong password', tpm.nvIncrement(counter, { auth: enc('nope') }));
  await step('NV_Increment by the index', tpm.nvIncrement(counter, { auth: enc('ctr') }));
  await step('NV_Increment by the owner', tpm.nvIncrement(counter, { authHandle: TPM_RH.OWNER }));
  await step('NV_Increment by the platform', tpm.nvIncrement(counter, { authHandle: TPM_RH.PLATFORM }));
  await step('NV_Read of the counter', tpm.nvReadCounter(counter, { auth: enc('ctr') }), String);
  await step('NV_ReadPublic of a written counter', tpm.nvReadPublic(counter), (r) => `${toHex(r.public.bytes)} ${toHex(r.name)}`);
  await tpm.nvDefine(ordinary, 8);
  await step('NV_Increment of an ordinary index', tpm.nvIncrement(ordinary));
  await step('NV_Read of 4 bytes of the counter at offset 4', tpm.nvRead(counter, { offset: 4, size: 4, auth: enc('ctr') }), toHex);

  // ---- PolicyNV ----
  const counterName = (await tpm.nvReadPublic(counter)).name;
  const trial = new TrialPolicy(SHA256);
  await step(
    'PolicyNV in a trial session equals TrialPolicy.nv',
    tpm.withSession('trial', SHA256, async (s) => {
      await tpm.policyNV(s, counter, u64(2n), TPM_EO.UNSIGNED_GE, { auth: enc('ctr') });
      const theirs = toHex(await tpm.policyGetDigest(s));
      const ours = toHex(trial.nv(counterName, u64(2n), 0, TPM_EO.UNSIGNED_GE).digest);
      return theirs === ours ? theirs : `TPM ${theirs}, TrialPolicy ${ours}`;
    }),
    String,
  );
  await step(
    'PolicyNV in a trial session with operation 0x0c',
    tpm.withSession('trial', SHA256, (s) => tpm.policyNV(s, counter, u64(2n), 0x0c, { auth: enc('ctr') })),
  );
  const policyNv = (
    label: string,
    operandB: Uint8Array,
    operation: number,
    options: { offset?: number; auth?: Uint8Array; authHandle?: number; index?: number } = {},
  ) =>
    step(
      label,
      tpm.withSession('policy', SHA256, (s) => tpm.policyNV(s, options.index ?? counter, operandB, operation, { auth: enc('ctr'), ...options })),
    );
  // The counter is 2 now (the index and the owner incremented it; the platform may not write it).
  await policyNv('PolicyNV counter >= 2', u64(2n), TPM_EO.UNSIGNED_GE);
  await policyNv('PolicyNV counter >= 3', u64(3n), TPM_EO.UNSIGNED_GE);
  await policyNv('PolicyNV counter == 2', u64(2n), TPM_EO.EQ);
  await policyNv('PolicyNV counter != 2', u64(2n), TPM_EO.NEQ);
  await policyNv('PolicyNV counter <= 1', u64(1n), TPM_EO.UNSIGNED_LE);
  await policyNv('PolicyNV counter < 3, signed', u64(3n), TPM_EO.SIGNED_LT);
  await policyNv('PolicyNV counter > -1, signed', u64(0xffffffffffffffffn), TPM_EO.SIGNED_GT);
  await policyNv('PolicyNV counter > -1, unsigned', u64(0xffffffffffffffffn), TPM_EO.UNSIGNED_GT);
  await policyNv('PolicyNV bit 0x02 set in the low byte', new Uint8Array([2]), TPM_EO.BITSET, { offset: 7 });
  await policyNv('PolicyNV bits 0x05 clear in the low byte', new Uint8Array([5]), TPM_EO.BITCLEAR, { offset: 7 });
  await policyNv('PolicyNV bits 0x03 set in the low byte', new Uint8Array([3]), TPM_EO.BITSET, { offset: 7 });
  await policyNv('PolicyNV of 9 bytes', new Uint8Array(9), TPM_EO.EQ);
  await policyNv('PolicyNV at offset 9', new Uint8Array(0), TPM_EO.EQ, { offset: 9 });
  await policyNv('PolicyNV of 2 bytes at offset 7', new Uint8Array(2), TPM_EO.EQ, { offset: 7 });
  await policyNv('PolicyNV with operation 0x0c', u64(2n), 0x0c);
  await policyNv('PolicyNV with a wrong index password', u64(2n), TPM_EO.EQ, { auth: enc('nope') });
  await policyNv('PolicyNV read by the owner', u64(2n), TPM_EO.EQ, { authHandle: TPM_RH.OWNER, auth: new Uint8Array(0) });
  await policyNv('PolicyNV of an index never written', u64(0n), TPM_EO.EQ, { index: ordinary, auth: new Uint8Array(0) });
  await policyNv('PolicyNV of an absent index', u64(0n), TPM_EO.EQ, { index: 0x01500089, authHandle: TPM_RH.OWNER, auth: new Uint8Array(0) });
  await tpm.nvUndefine(ordinary);

  // A counter deleted at 2 and defined again continues above it (no rollback by redefinition).
  await step('NV_UndefineSpace of the counter', tpm.nvUndefine(counter));
  await tpm.nvDefineCounter(counter, { auth: enc('ctr') });
  await step(
    'NV_Increment of a redefined counter, then NV_Read',
    tpm.nvIncrement(counter, { auth: enc('ctr') }).then(() => tpm.nvReadCounter(counter, { auth: enc('ctr') })),
    String,
  );
  const counterValue = await tpm.nvReadCounter(counter, { auth: enc('ctr') });
  const counterNameNow = (await tpm.nvReadPublic(counter)).name;

  // ---- VerifySignature, PolicyAuthorize, PolicyAuthValue and a sealed object ----
  const srk = await tpm.createPrimary(TPM_RH.OWNER, srkTemplate('ecc'));
  for (const [alg, pair] of [
    ['ECDSA', ecKey],
    ['RSASSA', rsaKey],
  ] as const) {
    const key = await tpm.loadExternal(verificationKey(pair.publicKey), TPM_RH.OWNER);
    const selection = [{ hash: SHA256, pcrs: [11] }] as const;
    const pcr11 = fromHex((await tpm.pcrRead(selection)).sha256![11]!);
    // What the release signs: PolicyPCR(11) then PolicyNV(counter <= the release's counter value).
    const approved = new TrialPolicy(SHA256)
      .pcr([{ hash: SHA256, pcrSelect: new Uint8Array([0, 8, 0]) }], [pcr11])
      .nv(counterNameNow, u64(counterValue), 0, TPM_EO.UNSIGNED_LE).digest;
    const sealedPolicy = new TrialPolicy(SHA256).authorize(key.name).authValue().digest;
    const blobs = await tpm.create(srk.ref, sealedTemplate(sealedPolicy), { data: enc(`sealed under ${alg}`), userAuth: enc('pin') });
    const item = await tpm.load(srk.ref, blobs.private, blobs.public);
    const signature = approve(pair.privateKey, approved);
    await step(
      `${alg}: VerifySignature of the approved policy`,
      tpm.verifySignature(key.ref, sha256(approved), signature),
      (v) => `tag 0x${v.tag.toString(16)} hierarchy 0x${v.hierarchy.toString(16)}`,
    );
    const ticket = await tpm.verifySignature(key.ref, sha256(approved), signature);
    const satisfy = async (s: AuthSession, options: { ticket?: typeof ticket; policyRef?: Uint8Array; pcrFirst?: boolean } = {}): Promise<void> => {
      await tpm.policyPCR(s, selection);
      await tpm.policyNV(s, counter, u64(counterValue), TPM_EO.UNSIGNED_LE, { auth: enc('ctr') });
      await tpm.policyAuthorize(s, approved, key.name, options.ticket ?? ticket, options.policyRef);
      await tpm.policyAuthValue(s);
      s.authValue = enc('pin');
    };
    await step(
      `${alg}: trial PolicyAuthorize + PolicyAuthValue equals the sealed object's authPolicy`,
      tpm.withSession('trial', SHA256, async (s) => {
        await tpm.policyAuthorize(s, approved, key.name, ticket);
        await tpm.run(C.PolicyAuthValue, { policySession: s.handle });
        return toHex(await tpm.policyGetDigest(s)) === toHex(sealedPolicy);
      }),
      String,
    );
    await step(
      `${alg}: Unseal after PolicyPCR, PolicyNV, PolicyAuthorize, PolicyAuthValue`,
      tpm.withSession('policy', SHA256, async (s) => {
        await satisfy(s);
        return tpm.unseal(item.ref, s);
      }),
      (r) => new TextDecoder().decode(r),
    );
    await step(
      `${alg}: Unseal with a wrong authValue`,
      tpm.withSession('policy', SHA256, async (s) => {
        await satisfy(s);
        s.authValue = enc('wrong');
        return tpm.unseal(item.ref, s);
      }),
    );
    await step(
      `${alg}: PolicyAuthorize with the ticket for another policyRef`,
      tpm.withSession('policy', SHA256, (s) => satisfy(s, { policyRef: enc('other') })),
    );
    await step(
      `${alg}: PolicyAuthorize when the session is not at the approved policy`,
      tpm.withSession('policy', SHA256, async (s) => {
        await tpm.policyPCR(s, selection);
        await tpm.policyAuthorize(s, approved, key.name, ticket);
      }),
    );
    await step(
      `${alg}: VerifySignature of a signature over another policy`,
      tpm.verifySignature(key.ref, sha256(approved), approve(pair.privateKey, new Uint8Array(32))),
    );
    await step(
      `${alg}: Unseal without PolicyAuthValue`,
      tpm.withSession('policy', SHA256, async (s) => {
        await tpm.policyPCR(s, selection);
        await tpm.policyNV(s, counter, u64(counterValue), TPM_EO.UNSIGNED_LE, { auth: enc('ctr') });
        await tpm.policyAuthorize(s, approved, key.name, ticket);
        return tpm.unseal(item.ref, s);
      }),
    );
    await step(`${alg}: Unseal with a password`, tpm.unseal(item.ref, passwordSession(enc('pin'))));
    await item.flush();
    // A key loaded in the NULL hierarchy: its ticket is the NULL ticket, which proves nothing.
    const nullKey = await tpm.loadExternal(verificationKey(pair.publicKey), TPM_RH.NULL);
    await step(
      `${alg}: VerifySignature with a key in the NULL hierarchy`,
      tpm.verifySignature(nullKey.ref, sha256(approved), signature),
      (v) => `tag 0x${v.tag.toString(16)} hierarchy 0x${v.hierarchy.toString(16)} ${v.digest.length} bytes`,
    );
    const nullTicket = await tpm.verifySignature(nullKey.ref, sha256(approved), signature);
    await step(
      `${alg}: PolicyAuthorize with the NULL hierarchy's ticket`,
      tpm.withSession('policy', SHA256, async (s) => {
        await tpm.policyPCR(s, [{ hash: SHA256, pcrs: [11] }]);
        await tpm.policyNV(s, counter, u64(counterValue), TPM_EO.UNSIGNED_LE, { auth: enc('ctr') });
        await tpm.policyAuthorize(s, approved, nullKey.name, nullTicket);
      }),
    );
    await nullKey.flush();
    const reloaded = await tpm.load(srk.ref, blobs.private, blobs.public);
    await step(
      `${alg}: Unseal after PCR 11 changed`,
      tpm.withSession('policy', SHA256, async (s) => {
        await satisfy(s);
        await tpm.pcrExtend(11, [{ hashAlg: SHA256, digest: new Uint8Array(32).fill(11) }]);
        return tpm.unseal(reloaded.ref, s);
      }),
    );
    await reloaded.flush();
    await key.flush();
    await step(
      `${alg}: PolicyPCR with the old PCR 11 value`,
      tpm.withSession('policy', SHA256, (s) => tpm.policyPCR(s, selection, sha256(pcr11))),
    );
  }
  await step(
    'PolicyCommandCode(Unseal) in a trial session',
    tpm.withSession('trial', SHA256, async (s) => {
      await tpm.run(C.PolicyCommandCode, { policySession: s.handle, code: TPM_CC.Unseal });
      return toHex(await tpm.policyGetDigest(s));
    }),
    String,
  );
  await srk.flush();
  await tpm.nvUndefine(counter);
  return out;
}

test('sealing commands answer on the software TPM as on swtpm: NV counters, PolicyNV, PolicyAuthorize, PolicyAuthValue, Unseal', (t: TestContext) =>
  assertSameAsSwtpm(t, 'differential-sealing', script));
