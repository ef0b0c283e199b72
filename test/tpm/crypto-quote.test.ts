// The pure quote verifier on quotes signed in software: every reason code, AK rules, and
// malformed input (random, truncated and mutated attestation bytes that carry a valid signature,
// so the parser itself is exercised) giving typed verdicts only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes/index.ts';
import type { PcrValues } from '../../src/hash/index.ts';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST } from '../../src/tpm/constants.ts';
import { signTpm, tpmPublicFromKey, type SigningScheme } from '../../src/tpm/crypto/index.ts';
import { encode } from '../../src/tpm/schema/index.ts';
import { TPMS_ATTEST, TPMT_SIGNATURE, type TPMS_ATTEST as Attest, type TPMT_PUBLIC } from '../../src/tpm/structures.ts';
import { akTemplate } from '../../src/tpm/templates.ts';
import { pcrValuesInOrder, toPcrSelection, type PcrSelection } from '../../src/tpm/pcr-selection.ts';
import { encodePcrsSerialized } from '../../src/tpm/tpm2-tools-files.ts';
import {
  checkQuote,
  pcrValuesFromRawFile,
  pcrValuesFromSerializedFile,
  pcrSelectionFromList,
  verifyQuote,
  type QuoteToVerify,
  type VerifiedQuote,
} from '../../src/verifier/index.ts';

const NONCE = fromHex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
const SELECTION: PcrSelection[] = [
  { hash: TPM_ALG.SHA256, pcrs: [0, 1, 7] },
  { hash: TPM_ALG.SHA1, pcrs: [7] },
];
const PCRS: PcrValues = {
  sha256: Object.fromEntries([0, 1, 7, 9].map((i) => [String(i), toHex(new Uint8Array(32).fill(i + 1))])),
  sha1: { '7': toHex(new Uint8Array(20).fill(0x77)) },
};

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function attest(overrides: Partial<Attest> = {}, selection = SELECTION, pcrs = PCRS): Attest {
  const pcrDigest = new Uint8Array(
    createHash('sha256')
      .update(Buffer.concat(pcrValuesInOrder(pcrs, selection)))
      .digest(),
  );
  return {
    magic: TPM_GENERATED_VALUE,
    type: TPM_ST.ATTEST_QUOTE,
    qualifiedSigner: fromHex('000b' + '42'.repeat(32)),
    extraData: NONCE,
    clockInfo: { clock: 123456n, resetCount: 1, restartCount: 0, safe: true },
    firmwareVersion: 0x2019_0121n,
    attested: { pcrSelect: toPcrSelection(selection), pcrDigest },
    ...overrides,
  };
}

function signed(message: Uint8Array, key: KeyObject, scheme: SigningScheme): Uint8Array {
  return encode(TPMT_SIGNATURE, signTpm(key, scheme, { message }));
}

function quote(key: KeyObject, scheme: SigningScheme, ak: QuoteToVerify['ak'], a: Attest = attest()): QuoteToVerify {
  const bytes = encode(TPMS_ATTEST, a);
  return { ak, untrustedAttest: bytes, untrustedSignature: signed(bytes, key, scheme), pcrs: PCRS, expectedExtraData: NONCE, expectedSelection: SELECTION };
}

const rsassa: SigningScheme = { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 };
const ecdsa: SigningScheme = { sigAlg: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 };
const rsaAk: TPMT_PUBLIC = tpmPublicFromKey(rsa.publicKey, akTemplate('rsa', 'rsassa'));
const ecAk: TPMT_PUBLIC = tpmPublicFromKey(ec.publicKey, akTemplate('ecc'));
const bare = (key: KeyObject | string): QuoteToVerify['ak'] => ({ barePublicKey: key });

function code(q: QuoteToVerify): string {
  const v = checkQuote(q);
  return v.verified ? 'verified' : v.code;
}

test('a genuine quote verifies with the AK as TPMT_PUBLIC, KeyObject or PEM and returns only the quoted PCRs', () => {
  for (const ak of [rsaAk, bare(rsa.publicKey), bare(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())]) {
    const v = verifyQuote(quote(rsa.privateKey, rsassa, ak));
    assert.deepEqual(v.scheme, rsassa);
    assert.deepEqual(v.selection, SELECTION);
    assert.deepEqual(Object.keys(v.pcrs.sha256!), ['0', '1', '7'], 'PCR 9 was supplied but not quoted');
    assert.equal(v.akAttributesChecked, ak === rsaAk, 'a bare public key carries no TPM attributes: the result says they went unchecked');
    assert.equal(v.fresh, true);
    assert.deepEqual(v.clock, { clock: 123456n, resetCount: 1, restartCount: 0, safe: true }, 'TPMS_CLOCK_INFO is returned');
  }
  assert.equal(code(quote(ec.privateKey, ecdsa, ecAk)), 'verified');
  assert.equal(
    code({ ...quote(ec.privateKey, ecdsa, ecAk), expectedSelection: [SELECTION[1]!, { hash: TPM_ALG.SHA256, pcrs: [7, 1, 0] }] }),
    'verified',
    'bank order and PCR order are irrelevant',
  );
});

test('each reason code', () => {
  const good = quote(rsa.privateKey, rsassa, rsaAk);
  assert.equal(code({ ...good, ak: bare(ec.publicKey) }), 'ERR_QUOTE_SIGNATURE', 'another key type');
  assert.equal(code({ ...good, ak: bare(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey) }), 'ERR_QUOTE_SIGNATURE', 'another key');
  assert.equal(
    code(quote(rsa.privateKey, { sigAlg: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256 }, rsaAk)),
    'ERR_QUOTE_SIGNATURE',
    'scheme other than the AK template',
  );
  assert.equal(
    code(quote(rsa.privateKey, { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA384 }, rsaAk)),
    'ERR_QUOTE_SIGNATURE',
    'hash other than the AK template',
  );
  assert.equal(code(quote(rsa.privateKey, rsassa, rsaAk, attest({ magic: 0xff544348 }))), 'ERR_QUOTE_NOT_A_QUOTE');
  assert.equal(
    code(
      quote(rsa.privateKey, rsassa, rsaAk, {
        ...attest(),
        type: TPM_ST.ATTEST_CERTIFY,
        attested: { name: fromHex('000b' + '00'.repeat(32)), qualifiedName: fromHex('000b' + '00'.repeat(32)) },
      }),
    ),
    'ERR_QUOTE_NOT_A_QUOTE',
  );
  assert.equal(code({ ...good, expectedExtraData: NONCE.subarray(1) }), 'ERR_QUOTE_NONCE_MISMATCH');
  assert.equal(code({ ...good, expectedSelection: [{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 7] }] }), 'ERR_QUOTE_SELECTION_MISMATCH');
  assert.equal(code({ ...good, pcrs: { sha256: PCRS.sha256! } }), 'ERR_QUOTE_PCR_MISSING');
  const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  assert.equal(code({ ...good, pcrs: { ...PCRS, sha256: { ...PCRS.sha256, '1': flip(PCRS.sha256!['1']!) } } }), 'ERR_QUOTE_PCR_DIGEST_MISMATCH');
  assert.equal(code({ ...good, pcrs: { ...PCRS, sha256: { ...PCRS.sha256, '1': PCRS.sha256!['1']!.slice(2) } } }), 'ERR_QUOTE_PCR_DIGEST_MISMATCH');
  assert.equal(code({ ...good, untrustedSignature: good.untrustedSignature.subarray(0, 10) }), 'ERR_QUOTE_MALFORMED');
  assert.equal(code({ ...good, ak: bare('-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n') }), 'ERR_QUOTE_AK_INVALID');
  // An unrestricted signing key could sign a forged TPMS_ATTEST with TPM2_Sign: not an AK.
  const unrestricted = { ...rsaAk, objectAttributes: { ...rsaAk.objectAttributes, restricted: false } };
  assert.equal(code({ ...good, ak: unrestricted }), 'ERR_QUOTE_AK_INVALID');
  const v = checkQuote({ ...good, expectedExtraData: fromHex('00') });
  assert.ok(!v.verified && /expected nonce 00/.test(v.reason), 'the reason names expected and actual');
});

test("an AK without a fixed scheme is refused: each quote's caller could pick a weaker one", () => {
  const nullScheme = tpmPublicFromKey(rsa.publicKey, akTemplate('rsa', 'rsassa'));
  const parameters = { ...(nullScheme.parameters as object), scheme: { scheme: TPM_ALG.NULL, details: null } };
  assert.equal(code(quote(rsa.privateKey, rsassa, { ...nullScheme, parameters })), 'ERR_QUOTE_AK_INVALID');
});

test('SHA-1 quote signatures only where the caller allows them', () => {
  const sha1 = { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA1 } as const;
  // pcrDigest is in the signing scheme's hash.
  const pcrDigest = new Uint8Array(
    createHash('sha1')
      .update(Buffer.concat(pcrValuesInOrder(PCRS, SELECTION)))
      .digest(),
  );
  const sha1Attest = attest({ attested: { pcrSelect: toPcrSelection(SELECTION), pcrDigest } });
  const q = quote(rsa.privateKey, sha1, bare(rsa.publicKey), sha1Attest);
  assert.equal(code(q), 'ERR_QUOTE_SIGNATURE_HASH');
  assert.equal(code({ ...q, allowedSignatureHashes: ['sha1', 'sha256'] }), 'verified');
  const sha1Ak = tpmPublicFromKey(rsa.publicKey, akTemplate('rsa', 'rsassa', TPM_ALG.SHA1));
  assert.equal(code(quote(rsa.privateKey, sha1, sha1Ak, sha1Attest)), 'ERR_QUOTE_SIGNATURE_HASH', 'the AK form does not matter');
});

test('a quote without qualifying data verifies only against empty expected data, and says it is not fresh', () => {
  const q = quote(rsa.privateKey, rsassa, rsaAk, attest({ extraData: new Uint8Array(0) }));
  assert.equal(code(q), 'ERR_QUOTE_NONCE_MISMATCH');
  const v = verifyQuote({ ...q, expectedExtraData: new Uint8Array(0) });
  assert.equal(v.fresh, false);
});

test('RSA-PSS quotes verify with the digest-length salt and with the maximum salt (older TPMs)', () => {
  const pssAk = tpmPublicFromKey(rsa.publicKey, akTemplate('rsa', 'rsapss'));
  const bytes = encode(TPMS_ATTEST, attest());
  for (const saltLength of [32, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
    const sig = sign('sha256', bytes, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    const untrustedSignature = encode(TPMT_SIGNATURE, { sigAlg: TPM_ALG.RSAPSS, signature: { hash: TPM_ALG.SHA256, sig: new Uint8Array(sig) } });
    assert.equal(code({ ...quote(rsa.privateKey, rsassa, pssAk), untrustedSignature }), 'verified', `salt ${saltLength}`);
  }
});

test('malformed attestation bytes with a valid signature, and random signatures, give verdicts with ERR_QUOTE_* only', () => {
  const genuine = encode(TPMS_ATTEST, attest());
  const allowed = new Set([
    'ERR_QUOTE_MALFORMED',
    'ERR_QUOTE_NOT_A_QUOTE',
    'ERR_QUOTE_NONCE_MISMATCH',
    'ERR_QUOTE_PCR_MISSING',
    'ERR_QUOTE_PCR_DIGEST_MISMATCH',
    'ERR_QUOTE_SELECTION_MISMATCH',
    'verified',
  ]);
  const judge = (bytes: Uint8Array): void => {
    const c = code({
      ak: bare(ec.publicKey),
      untrustedAttest: bytes,
      untrustedSignature: signed(bytes, ec.privateKey, ecdsa),
      pcrs: PCRS,
      expectedExtraData: NONCE,
      expectedSelection: SELECTION,
    });
    assert.ok(allowed.has(c), c);
  };
  for (let n = 0; n < genuine.length; n++) judge(genuine.subarray(0, n));
  judge(new Uint8Array([...genuine, 0]));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: genuine.length - 1 }), fc.integer({ min: 0, max: 255 }), (random, at, value) => {
      judge(random);
      const mutated = genuine.slice();
      mutated[at] = value;
      judge(mutated);
    }),
    { numRuns: 150 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (sig) => {
      const c = code({
        ak: bare(rsa.publicKey),
        untrustedAttest: genuine,
        untrustedSignature: sig,
        pcrs: PCRS,
        expectedExtraData: NONCE,
        expectedSelection: SELECTION,
      });
      assert.ok(c === 'ERR_QUOTE_MALFORMED' || c === 'ERR_QUOTE_SIGNATURE', c);
    }),
    { numRuns: 200 },
  );
});

test('tpm2-tools PCR files: serialized and raw forms round trip; malformed files are ERR_QUOTE_PCR_FILE', () => {
  const ordered = pcrValuesInOrder(PCRS, SELECTION);
  const file = encodePcrsSerialized(toPcrSelection(SELECTION), ordered);
  const parsed = pcrValuesFromSerializedFile(file);
  assert.deepEqual(parsed.selection, SELECTION, 'the file names its own selection');
  assert.equal(code({ ...quote(rsa.privateKey, rsassa, rsaAk), pcrs: parsed.values }), 'verified');
  const raw = pcrValuesFromRawFile(Buffer.concat(ordered), SELECTION);
  assert.equal(code({ ...quote(rsa.privateKey, rsassa, rsaAk), pcrs: raw }), 'verified');
  assert.deepEqual(pcrSelectionFromList('sha256:0,1,7+sha1:7'), SELECTION);
  assert.throws(() => pcrSelectionFromList('md5:1'), { code: 'ERR_QUOTE_PCR_FILE' });
  assert.throws(() => pcrValuesFromRawFile(Buffer.concat(ordered).subarray(1), SELECTION), { code: 'ERR_QUOTE_PCR_FILE' });
  for (let n = 0; n < file.length; n += 7) assert.throws(() => pcrValuesFromSerializedFile(file.subarray(0, n)), { code: 'ERR_QUOTE_PCR_FILE' });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 800 }), fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 0, max: 255 }), (random, at, value) => {
      assert.throws(() => pcrValuesFromSerializedFile(random), { code: 'ERR_QUOTE_PCR_FILE' });
      const mutated = file.slice();
      mutated[at] = value;
      try {
        pcrValuesFromSerializedFile(mutated);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'ERR_QUOTE_PCR_FILE');
      }
    }),
    { numRuns: 200 },
  );
});

test('type level: only verifyQuote makes a VerifiedQuote', () => {
  const good = verifyQuote(quote(rsa.privateKey, rsassa, rsaAk));
  // @ts-expect-error a structurally similar plain object is not a VerifiedQuote (the brand is missing)
  const forged: VerifiedQuote = {
    attest: good.attest,
    scheme: good.scheme,
    pcrs: good.pcrs,
    selection: good.selection,
    pcrDigest: good.pcrDigest,
    clock: good.clock,
    firmwareVersion: good.firmwareVersion,
    fresh: good.fresh,
    akAttributesChecked: good.akAttributesChecked,
  };
  assert.ok(forged);
});
