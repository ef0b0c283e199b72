// The pure side of signed PCR policies: systemd's fingerprint and digest rules, phase values from a
// prediction, and hostile documents (a .pcrsig comes from a UKI section or a file) — each refused
// with a typed error, within its limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { toHex } from '../../src/bytes/index.ts';
import {
  MAX_PCRSIG_BYTES,
  MAX_PCRSIG_ENTRIES,
  keySigner,
  parsePcrSignature,
  parseSealedSecret,
  pcrPolicyDigest,
  phaseValues,
  policyKeyFingerprint,
  serializePcrSignature,
  signPcrPolicies,
  tpmSignature,
  verifyPcrSignature,
} from '../../src/sealing/index.ts';
import { TPM_ALG } from '../../src/tpm/constants.ts';
import { TrialPolicy } from '../../src/tpm/crypto/index.ts';
import { toPcrSelection } from '../../src/tpm/pcr-selection.ts';
import { haveStub, policyKey, predictUki, readStub } from './helpers.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const entry = { pcrs: [11], pkfp: 'a'.repeat(64), pol: 'b'.repeat(64), sig: 'AAAA' };

test('pcrPolicyDigest is TrialPolicy.pcr in a SHA-256 session, whatever the bank', () => {
  const sha1Value = randomBytes(20);
  const selection = toPcrSelection([{ hash: TPM_ALG.SHA1, pcrs: [11] }]);
  assert.equal(toHex(pcrPolicyDigest('sha1', [11], [sha1Value])), toHex(new TrialPolicy(TPM_ALG.SHA256).pcr(selection, [sha1Value]).digest));
});

test('phase values: PCR 11 after the UKI and after each pcrphase word, other PCRs at their final values', async (t) => {
  if (!haveStub(t)) return;
  const { prediction } = predictUki(await readStub(), { linux: randomBytes(512), cmdline: 'ro' }, ['enter-initrd', 'leave-initrd']);
  const phases = phaseValues(prediction, 'sha256', [7, 11]);
  assert.deepEqual(
    phases.map((p) => p.phase),
    ['enter-initrd', 'enter-initrd:leave-initrd'],
  );
  assert.equal(toHex(phases[1]!.values[1]!), prediction.banks.sha256!['11']);
  const step = createHash('sha256').update(phases[0]!.values[1]!).update(createHash('sha256').update('leave-initrd').digest()).digest();
  assert.equal(toHex(step), prediction.banks.sha256!['11']);
  assert.equal(toHex(phases[0]!.values[0]!), prediction.banks.sha256!['7']);
  const none = predictUki(await readStub(), { linux: randomBytes(512) }, []).prediction;
  assert.deepEqual(
    phaseValues(none, 'sha256', [11]).map((p) => [p.phase, toHex(p.values[0]!)]),
    [['', none.banks.sha256!['11']]],
  );
  assert.throws(() => phaseValues(prediction, 'sha384', [11]), { code: 'ERR_SEALING_PREDICTION' });
  assert.throws(() => phaseValues(prediction, 'sha256', [15]), { code: 'ERR_SEALING_PREDICTION' });
});

test('signing: a signer with the wrong key, a key systemd cannot use, and documents that do not verify', async (t) => {
  if (!haveStub(t)) return;
  const { prediction } = predictUki(await readStub(), { linux: randomBytes(512) }, ['enter-initrd']);
  const key = policyKey('ec');
  const other = policyKey('ec');
  await assert.rejects(signPcrPolicies(prediction, { publicKey: key.publicKey, signer: keySigner(other.privateKey) }), {
    code: 'ERR_SEALING_PCRSIG_SIGNATURE',
  });
  assert.throws(() => keySigner(key.publicKey), { code: 'ERR_SEALING_KEY' });
  const { generateKeyPairSync } = await import('node:crypto');
  assert.throws(() => policyKeyFingerprint(generateKeyPairSync('ed25519').publicKey), { code: 'ERR_SEALING_KEY' });
  assert.throws(() => policyKeyFingerprint(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), { code: 'ERR_SEALING_KEY' });
  await assert.rejects(signPcrPolicies(prediction, { publicKey: key.publicKey, signer: keySigner(key.privateKey), pcrs: [11, 11] }), {
    code: 'ERR_SEALING_PREDICTION',
  });
  const { document } = await signPcrPolicies(prediction, { publicKey: key.publicKey, signer: keySigner(key.privateKey) });
  assert.equal(verifyPcrSignature(parsePcrSignature(serializePcrSignature(document)), key.publicKey), 1);
  assert.equal(verifyPcrSignature(document, other.publicKey), 0, "another key's entries are not this key's to check");
  const tampered = { sha256: [{ ...document.sha256![0]!, pol: 'c'.repeat(64) }] };
  assert.throws(() => verifyPcrSignature(tampered, key.publicKey), { code: 'ERR_SEALING_PCRSIG_SIGNATURE' });
  const ecdsa = tpmSignature(document.sha256![0]!, 'sha256', key.publicKey);
  assert.equal(ecdsa.sigAlg, TPM_ALG.ECDSA);
  assert.throws(() => tpmSignature({ ...document.sha256![0]!, sig: Buffer.from('3003020101').toString('base64') }, 'sha256', key.publicKey), {
    code: 'ERR_SEALING_PCRSIG_FORMAT',
  });
});

test('hostile .pcrsig documents are ERR_SEALING_PCRSIG_FORMAT', () => {
  const bad = [
    '',
    'not json',
    '[]',
    'null',
    '{"sha999":[]}',
    '{"sha256":{}}',
    '{"sha256":[1]}',
    JSON.stringify({ sha256: [{ ...entry, pcrs: [] }] }),
    JSON.stringify({ sha256: [{ ...entry, pcrs: [24] }] }),
    JSON.stringify({ sha256: [{ ...entry, pcrs: [11, 11] }] }),
    JSON.stringify({ sha256: [{ ...entry, pcrs: ['11'] }] }),
    JSON.stringify({ sha256: [{ ...entry, pkfp: 'A'.repeat(64) }] }),
    JSON.stringify({ sha256: [{ ...entry, pol: 'b'.repeat(62) }] }),
    JSON.stringify({ sha256: [{ ...entry, sig: 'not base64!' }] }),
    JSON.stringify({ sha256: [{ ...entry, sig: 'A'.repeat(4096) }] }),
    JSON.stringify({ sha256: [{ ...entry, counter: -1 }] }),
    JSON.stringify({ sha256: [{ ...entry, counter: 1.5 }] }),
    JSON.stringify({ sha256: Array.from({ length: MAX_PCRSIG_ENTRIES + 1 }, () => entry) }),
  ];
  for (const text of bad) assert.throws(() => parsePcrSignature(enc(text)), { code: 'ERR_SEALING_PCRSIG_FORMAT' }, text.slice(0, 80));
  assert.throws(() => parsePcrSignature(new Uint8Array([0xff, 0xfe])), { code: 'ERR_SEALING_PCRSIG_FORMAT' });
  assert.throws(() => parsePcrSignature(new Uint8Array(MAX_PCRSIG_BYTES + 1)), { code: 'ERR_SEALING_PCRSIG_FORMAT' });
  // What ukify leaves after the JSON: NUL padding to the section alignment.
  assert.deepEqual(parsePcrSignature(enc(`${JSON.stringify({ sha256: [entry] })}\0\0\0`)), { sha256: [entry] });
});

test('hostile sealed-secret documents are ERR_SEALING_BLOB', () => {
  const good = { version: 1, policyKey: 'a'.repeat(64), counterIndex: 0x01510001, pin: false, public: '', private: '' };
  const bad = [
    'x',
    '{}',
    JSON.stringify({ ...good, version: 2 }),
    JSON.stringify({ ...good, policyKey: 'zz' }),
    JSON.stringify({ ...good, counterIndex: 0x81000001 }),
    JSON.stringify({ ...good, pin: 'no' }),
    JSON.stringify({ ...good, public: '!!' }),
    JSON.stringify({ ...good, public: 'AAAA' }),
    'x'.repeat(20000),
  ];
  for (const text of bad) assert.throws(() => parseSealedSecret(enc(text)), { code: 'ERR_SEALING_BLOB' }, text.slice(0, 80));
});
