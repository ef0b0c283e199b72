// The software TPM never crashes on hostile command bytes: random bytes, random bodies behind
// valid headers, and mutated real commands (byte changes, truncation, with and without a fixed
// size field) all get a well-formed response, an error one of exactly 10 bytes, and never
// TPM_RC_FAILURE (which would mean an internal fault). The TPM keeps working afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Tpm } from '../../src/tpm/client.ts';
import * as C from '../../src/tpm/commands.ts';
import { TPM_ALG, TPM_RH, TPM_ST } from '../../src/tpm/constants.ts';
import { makeCredential } from '../../src/tpm/crypto/index.ts';
import { policyPcr, policyStart } from '../../src/tpm/policy.ts';
import { TPM_RC } from '../../src/tpm/rc.ts';
import { sealedTemplate } from '../../src/tpm/templates.ts';
import { createSimulator, MAX_LOADED_SESSIONS, MAX_TRANSIENT_OBJECTS, type SoftwareTpm } from '../../src/tpm/sim/index.ts';
import { pcrBytes } from '../helpers/pcrs.ts';

function checkResponse(sim: SoftwareTpm, rsp: Uint8Array, input: Uint8Array): void {
  const hex = Buffer.from(input).toString('hex');
  assert.ok(rsp.length >= 10, `short response to ${hex}`);
  const view = new DataView(rsp.buffer, rsp.byteOffset, rsp.byteLength);
  assert.equal(view.getUint32(2), rsp.length, `responseSize of the answer to ${hex}`);
  const rc = view.getUint32(6);
  assert.notEqual(rc, TPM_RC.FAILURE, `internal fault on ${hex}: ${String((sim.lastFault as Error | undefined)?.stack ?? sim.lastFault)}`);
  if (rc !== 0) {
    assert.equal(rsp.length, 10, `error responses carry no body (${hex})`);
    assert.equal(view.getUint16(0), TPM_ST.NO_SESSIONS);
  }
}

/**
 * Real commands of a short session: keys, a quote, a sealed object under a PCR policy, a salted
 * HMAC session, NV (ordinary and extend), credential activation with an ECC EK (an RSA one would
 * make every mutated CreatePrimary a prime search), Hash/Sign/VerifySignature, EvictControl.
 */
async function recordCommands(sim: SoftwareTpm): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  const tpm = new Tpm({ send: (c) => (frames.push(c.slice()), sim.send(c)), close: () => Promise.resolve() });
  const srk = await tpm.createSRK('ecc');
  const ak = await tpm.createAK(srk, 'ecc');
  await tpm.quote(ak.key.ref, new Uint8Array(16), [
    { hash: TPM_ALG.SHA256, pcrs: [0, 1, 2] },
    { hash: TPM_ALG.SHA1, pcrs: [7] },
  ]);
  await ak.key.flush();
  const pcr = pcrBytes(await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }]), 'sha256', 16);
  const policy = policyPcr(TPM_ALG.SHA256, policyStart(TPM_ALG.SHA256), [{ hash: TPM_ALG.SHA256, pcrSelect: new Uint8Array([0, 0, 1]) }], [pcr]);
  const sealed = await tpm.create(srk.ref, sealedTemplate(policy), { data: new Uint8Array([1, 2, 3]) });
  const item = await tpm.load(srk.ref, sealed.private, sealed.public);
  await tpm.withSession('policy', TPM_ALG.SHA256, async (s) => {
    await tpm.policyPCR(s, [{ hash: TPM_ALG.SHA256, pcrs: [16] }]);
    return tpm.unseal(item.ref, s);
  });
  await item.flush();
  const auth = new Uint8Array([7, 7, 7]);
  const withAuth = await tpm.create(srk.ref, sealedTemplate(), { userAuth: auth, data: new Uint8Array([4]) });
  const authItem = await tpm.load(srk.ref, withAuth.private, withAuth.public);
  const hmac = await tpm.startSession('hmac', TPM_ALG.SHA256, { saltKey: srk });
  hmac.authValue = auth;
  await tpm.unseal(authItem.ref, hmac);
  await tpm.flush(hmac.handle);
  await authItem.flush();
  await tpm.nvDefine(0x01500040, 64);
  await tpm.nvWrite(0x01500040, new Uint8Array(64).fill(9));
  await tpm.nvRead(0x01500040);
  await tpm.nvDefine(0x01500041, 32, { attributes: { nt: 4 } });
  await tpm.run(C.NV_Extend, { authHandle: 0x01500041, nvIndex: 0x01500041, data: new Uint8Array([1]) });
  await tpm.nvReadPublic(0x01500041);
  const signer = await tpm.createAK(srk, 'ecc');
  await srk.flush();
  const ek = await tpm.createEK('ecc');
  const made = makeCredential(ek.public.value, new Uint8Array(16).fill(1), signer.key.name);
  await tpm.activateCredential(signer.key, ek, made.credentialBlob, made.secret);
  await ek.flush();
  const hashed = await tpm.run(C.Hash, { data: new Uint8Array(8), hashAlg: TPM_ALG.SHA256, hierarchy: TPM_RH.OWNER });
  const { signature } = await tpm.run(C.Sign, {
    keyHandle: signer.key.handle,
    digest: hashed.outHash,
    inScheme: { scheme: TPM_ALG.NULL, details: null },
    validation: hashed.validation,
  });
  await tpm.run(C.VerifySignature, { keyHandle: signer.key.handle, digest: hashed.outHash, signature });
  await tpm.evictControl(signer.key.handle, 0x81000030);
  await tpm.evictControl(0x81000030, 0x81000030);
  await signer.key.flush();
  return frames;
}

test('random bytes, random bodies behind valid headers and mutated real commands get well-formed answers', async () => {
  const sim = await createSimulator({ seed: 'fuzz' });
  const frames = await recordCommands(sim);
  const codes = [...new Set(frames.map((f) => new DataView(f.buffer).getUint32(6)))];
  const send = (bytes: Uint8Array): void => checkResponse(sim, sim.execute(bytes), bytes);

  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => send(bytes)),
    { numRuns: 300, seed: 1 },
  );

  const withHeader = fc
    .tuple(fc.constantFrom(TPM_ST.NO_SESSIONS, TPM_ST.SESSIONS), fc.constantFrom(...codes), fc.uint8Array({ maxLength: 200 }))
    .map(([tag, code, body]) => {
      const out = new Uint8Array(10 + body.length);
      const v = new DataView(out.buffer);
      v.setUint16(0, tag);
      v.setUint32(2, out.length);
      v.setUint32(6, code);
      out.set(body, 10);
      return out;
    });
  fc.assert(
    fc.property(withHeader, (bytes) => send(bytes)),
    { numRuns: 400, seed: 2 },
  );

  const mutated = fc
    .tuple(
      fc.constantFrom(...frames),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.boolean(),
    )
    .map(([frame, edits, cut, fixSize]) => {
      let out = frame.slice();
      for (const [at, value] of edits) out[10 + (at % Math.max(1, out.length - 10))] = value;
      if (cut !== undefined) out = out.slice(0, cut % (out.length + 1));
      if (fixSize && out.length >= 6) new DataView(out.buffer).setUint32(2, out.length);
      return out;
    });
  fc.assert(
    fc.property(mutated, (bytes) => send(bytes)),
    { numRuns: 4000, seed: 3 },
  );

  const tpm = new Tpm(sim);
  assert.equal((await tpm.getRandom(16)).length, 16, 'still working');
  // Bounded memory: whatever the commands, the TPM holds no more than its slots and NV allow.
  assert.ok(
    sim.objects.size <= MAX_TRANSIENT_OBJECTS && sim.sessions.size <= MAX_LOADED_SESSIONS,
    `${sim.objects.size} objects, ${sim.sessions.size} sessions`,
  );
  assert.ok(
    sim.state.nv.size <= 64 && sim.state.persistent.size <= 16 && sim.state.rsaPrimaries.size <= 32,
    'NV, persistent objects and cached primaries stay within their limits',
  );
  await sim.close();
});
