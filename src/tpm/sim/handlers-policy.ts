/**
 * Sessions and policy commands (Part 3, 11 and 23). Each TPM2_PolicyXxx extends the session's
 * policyDigest exactly as src/tpm/policy.ts predicts it in software, after checking its assertion
 * (PCR values, the authorizing entity, an OR branch, a signed approval) — a trial session only
 * computes the digest without checking.
 */
import { bytesEqual } from '../../bytes/index.ts';
import * as C from '../commands.ts';
import { HASH_SIZE, TPM_ALG, TPM_CC, TPM_RH, TPM_SE, TPM_ST } from '../constants.ts';
import { TpmCryptoError, recoverSalt, sessionKey } from '../crypto/index.ts';
import { tpmHash } from '../names.ts';
import { policyAuthValue, policyAuthorize, policyCommandCode, policyOr, policySecret } from '../policy.ts';
import { encode } from '../schema/index.ts';
import { TPML_PCR_SELECTION } from '../structures.ts';
import { selectedValues } from './pcrs.ts';
import { on, resetPolicy, trimAuth, u32, type Handler, type SimSession } from './model.ts';
import { fail, failHandle, failParam } from './rc.ts';
import { checkTicket } from './tickets.ts';

const A = TPM_ALG;
const noTicket = { tag: TPM_ST.AUTH_SECRET, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) };

/**
 * PolicyAuthValue and PolicyPassword: the same digest update (Part 3, 23.18/23.19); the later one
 * decides whether the authValue comes as an HMAC key or in clear.
 */
function requireAuthValue(s: SimSession, how: 'hmac' | 'password'): object {
  s.authValueNeeded = how === 'hmac';
  s.passwordNeeded = how === 'password';
  s.policyDigest = policyAuthValue(s.authHash, s.policyDigest);
  return {};
}

export const policyHandlers: readonly (readonly [number, Handler])[] = [
  on(C.StartAuthSession, (tpm, h, p) => {
    if (p.nonceCaller.length < 16 || p.nonceCaller.length > HASH_SIZE[p.authHash]!) failParam('SIZE', 1, 'nonceCaller must be 16 bytes up to the digest size');
    const sym = p.symmetric;
    if (sym.algorithm !== A.NULL && !(sym.algorithm === A.AES && sym.mode === A.CFB) && sym.algorithm !== A.XOR)
      failParam('SYMMETRIC', 4, 'parameter encryption is AES-CFB or XOR');
    let salt: Uint8Array = new Uint8Array(0);
    if (h.tpmKey === TPM_RH.NULL) {
      if (p.encryptedSalt.length !== 0) failParam('VALUE', 2, 'encryptedSalt without a tpmKey');
    } else {
      const key = tpm.object(h.tpmKey, 1);
      if (!key.public.value.objectAttributes.decrypt) failHandle('ATTRIBUTES', 1, 'tpmKey must be a decryption key');
      if (!key.sensitive) failHandle('HANDLE', 1, 'tpmKey has only its public part loaded');
      if (p.encryptedSalt.length === 0) failParam('VALUE', 2, 'a tpmKey without encryptedSalt');
      try {
        salt = recoverSalt(key.public.value, tpm.privateKey(key), p.encryptedSalt);
      } catch (e) {
        if (e instanceof TpmCryptoError) failParam('VALUE', 2, e.message);
        throw e;
      }
    }
    const bindAuth = h.bind === TPM_RH.NULL ? new Uint8Array(0) : trimAuth(tpm.authEntity(h.bind, TPM_CC.StartAuthSession).authValue);
    const nonceTPM = tpm.random(HASH_SIZE[p.authHash]!);
    const session = tpm.addSession({
      kind: p.sessionType === TPM_SE.HMAC ? 'hmac' : p.sessionType === TPM_SE.POLICY ? 'policy' : 'trial',
      authHash: p.authHash,
      nonceTPM,
      nonceCaller: p.nonceCaller,
      sessionKey: sessionKey(p.authHash, bindAuth, salt, nonceTPM, p.nonceCaller),
      symmetric: { algorithm: p.symmetric.algorithm, keyBits: typeof p.symmetric.keyBits === 'number' ? p.symmetric.keyBits : null, mode: p.symmetric.mode },
      bindName: h.bind === TPM_RH.NULL ? undefined : tpm.nameOf(h.bind),
    });
    return { sessionHandle: session.handle, nonceTPM };
  }),
  on(C.PolicyRestart, (tpm, h) => {
    resetPolicy(tpm.policySession(h.sessionHandle, 1));
    return {};
  }),
  on(C.PolicyPCR, (tpm, h, p) => {
    const s = tpm.policySession(h.policySession, 1);
    const current = tpmHash(s.authHash, ...selectedValues(tpm, p.pcrs));
    if (s.kind === 'policy' && p.pcrDigest.length > 0 && !bytesEqual(p.pcrDigest, current))
      failParam('VALUE', 1, 'pcrDigest does not match the current PCR values');
    const digest = s.kind === 'trial' && p.pcrDigest.length > 0 ? p.pcrDigest : current;
    s.policyDigest = tpmHash(s.authHash, s.policyDigest, u32(TPM_CC.PolicyPCR), encode(TPML_PCR_SELECTION, p.pcrs), digest);
    if (s.kind === 'policy') s.pcrCounter = tpm.pcrUpdateCounter;
    return {};
  }),
  on(C.PolicySecret, (tpm, h, p) => {
    // authHandle was authorized by the command's session like any other handle: that is the assertion.
    const s = tpm.policySession(h.policySession, 2);
    if (p.nonceTPM.length > 0 && !bytesEqual(p.nonceTPM, s.nonceTPM)) failParam('NONCE', 1, "nonceTPM is not the policy session's current nonce");
    if (p.cpHashA.length > 0) {
      if (p.cpHashA.length !== HASH_SIZE[s.authHash]) failParam('SIZE', 2, 'cpHashA must be one digest of the session hash');
      if (s.cpHash !== undefined && !bytesEqual(s.cpHash, p.cpHashA)) fail('CPHASH', 'the session is already bound to another cpHash');
      s.cpHash = p.cpHashA;
    }
    s.policyDigest = policySecret(s.authHash, s.policyDigest, tpm.nameOf(h.authHandle), p.policyRef);
    return { timeout: new Uint8Array(0), policyTicket: noTicket };
  }),
  on(C.PolicyOR, (tpm, h, p) => {
    const s = tpm.policySession(h.policySession, 1);
    if (p.pHashList.length < 2) failParam('SIZE', 1, 'PolicyOR needs 2 to 8 branches');
    if (s.kind === 'policy' && !p.pHashList.some((d) => bytesEqual(d, s.policyDigest)))
      failParam('VALUE', 1, 'the current policyDigest is none of the branches');
    s.policyDigest = policyOr(s.authHash, p.pHashList);
    return {};
  }),
  on(C.PolicyGetDigest, (tpm, h) => ({ policyDigest: tpm.policySession(h.policySession, 1).policyDigest })),
  on(C.PolicyAuthorize, (tpm, h, p) => {
    const s = tpm.policySession(h.policySession, 1);
    if (p.keySign.length < 2) failParam('SIZE', 3, 'keySign is not a Name');
    const keyNameAlg = (p.keySign[0]! << 8) | p.keySign[1]!;
    if (!HASH_SIZE[keyNameAlg] || p.keySign.length !== 2 + HASH_SIZE[keyNameAlg]) failParam('SIZE', 3, 'keySign is not a Name');
    if (s.kind === 'policy') {
      if (!bytesEqual(p.approvedPolicy, s.policyDigest)) failParam('VALUE', 1, 'approvedPolicy is not the current policyDigest');
      const aHash = tpmHash(keyNameAlg, p.approvedPolicy, p.policyRef);
      if (!checkTicket(tpm, p.checkTicket, TPM_ST.VERIFIED, aHash, p.keySign))
        failParam('VALUE', 4, 'checkTicket does not prove keySign signed approvedPolicy ‖ policyRef');
    }
    s.policyDigest = policyAuthorize(s.authHash, p.keySign, p.policyRef);
    return {};
  }),
  on(C.PolicyCommandCode, (tpm, h, p) => {
    const s = tpm.policySession(h.policySession, 1);
    if (s.commandCode !== undefined && s.commandCode !== p.code) failParam('VALUE', 1, 'the session is already restricted to another command');
    s.commandCode = p.code;
    s.policyDigest = policyCommandCode(s.authHash, s.policyDigest, p.code);
    return {};
  }),
  on(C.PolicyAuthValue, (tpm, h) => requireAuthValue(tpm.policySession(h.policySession, 1), 'hmac')),
  on(C.PolicyPassword, (tpm, h) => requireAuthValue(tpm.policySession(h.policySession, 1), 'password')),
];
