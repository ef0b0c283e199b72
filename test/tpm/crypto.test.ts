// TPM software cryptography: KDFs against the reference implementation's self-test vectors,
// EK policy digests of the EK Credential Profile, credential/outer wrap round trips and tamper
// detection, key adapters, signatures against node:crypto, session crypto against the client's
// HMAC sessions, and malformed input (typed errors only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, publicEncrypt, sign, verify, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes/index.ts';
import { isVouchError } from '../../src/errors/index.ts';
import { TPM_ALG, TPM_CC, TPM_ECC_CURVE, TPM_RH } from '../../src/tpm/constants.ts';
import {
  TrialPolicy,
  createSalt,
  cpHash,
  ekPolicyA,
  hierarchyQualifiedName,
  kdfa,
  kdfe,
  makeCredential,
  objectName,
  outerUnwrap,
  outerWrap,
  parameterCfb,
  parameterXor,
  privateKeyFromTpm,
  publicKeyFromTpm,
  publicKeyPemFromTpm,
  qualifiedName,
  recoverSalt,
  rpHash,
  sensitiveFromPrivateKey,
  sessionHmac,
  sessionKey,
  signTpm,
  tpmPublicFromKey,
  unwrapCredential,
  verifyTpmSignature,
  type RandomSource,
  type SigningScheme,
} from '../../src/tpm/crypto/index.ts';
import { decode, encode, wrap } from '../../src/tpm/schema/index.ts';
import { AuthSession } from '../../src/tpm/session.ts';
import { TPMT_PUBLIC, TPMT_SENSITIVE, TPMT_SIGNATURE, type TPMT_PUBLIC as Public } from '../../src/tpm/structures.ts';
import { akTemplate, ekTemplate, srkTemplate } from '../../src/tpm/templates.ts';

const hashName = { [TPM_ALG.SHA1]: 'sha1', [TPM_ALG.SHA256]: 'sha256', [TPM_ALG.SHA384]: 'sha384', [TPM_ALG.SHA512]: 'sha512' } as Record<number, string>;

/** A reproducible RandomSource (SHA-256 in counter mode over a seed), as the seeded software TPM uses one. */
function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32)
      out.set(
        createHash('sha256')
          .update(`${seed}/${counter++}`)
          .digest()
          .subarray(0, Math.min(32, n - o)),
        o,
      );
    return out;
  };
}

/** The high-range EK template of swtpm_setup (EK Credential Profile H-3: P-384, SHA-384, AES-256, PolicyOR). */
const p384EkTemplate: Public = {
  ...ekTemplate('ecc'),
  nameAlg: TPM_ALG.SHA384,
  authPolicy: fromHex('b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12'),
  parameters: {
    symmetric: { algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.CFB },
    scheme: { scheme: TPM_ALG.NULL, details: null },
    curveID: TPM_ECC_CURVE.NIST_P384,
    kdf: { scheme: TPM_ALG.NULL, details: null },
  },
};

interface TestKey {
  readonly label: string;
  readonly publicArea: Public;
  readonly privateKey: KeyObject;
}
function ek(label: string, keys: { publicKey: KeyObject; privateKey: KeyObject }, template: Public): TestKey {
  return { label, publicArea: tpmPublicFromKey(keys.publicKey, template), privateKey: keys.privateKey };
}
const EKS: readonly TestKey[] = [
  ek('RSA-2048 EK', generateKeyPairSync('rsa', { modulusLength: 2048 }), ekTemplate('rsa')),
  ek('P-256 EK', generateKeyPairSync('ec', { namedCurve: 'P-256' }), ekTemplate('ecc')),
  ek('P-384 EK (SHA-384, AES-256)', generateKeyPairSync('ec', { namedCurve: 'P-384' }), p384EkTemplate),
];
const akPublic = wrap(TPMT_PUBLIC, tpmPublicFromKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, akTemplate('ecc')));
const akName = objectName(akPublic);

test('KDFa matches the TPM reference implementation self-test vectors (KdfTestData.h) for SHA-1/256/384/512', () => {
  const key = fromHex('271fa08bbdc5060ec3dfa928ff9b73123a12da0c');
  const contextU = fromHex('ce244f395dca7391');
  const contextV = fromHex('da504031ddf12e83');
  const expected: Record<number, string> = {
    [TPM_ALG.SHA1]: '55b5a7184aa07423c47dae766c26a2377d7cf851',
    [TPM_ALG.SHA256]: 'bb0259e1c8ba607e6a2cd704b69a902e9ade84c4',
    [TPM_ALG.SHA384]: '1dce70c9113eb2dba47bd9cfc72bf46f45b09312',
    [TPM_ALG.SHA512]: '8be2c1b85b78569b9fa759f5857c56d684810fd3',
  };
  for (const [hash, out] of Object.entries(expected)) {
    // The vector's label is "KDFSELFTESTLABEL" with its terminating zero; both spellings derive the same key.
    assert.equal(toHex(kdfa(Number(hash), key, 'KDFSELFTESTLABEL', contextU, contextV, 160)), out);
    assert.equal(toHex(kdfa(Number(hash), key, new TextEncoder().encode('KDFSELFTESTLABEL\0'), contextU, contextV, 160)), out);
  }
});

test('KDFa/KDFe: output length, partial-byte masking, prefix property, bounds', () => {
  const key = fromHex('00112233');
  const long = kdfa(TPM_ALG.SHA256, key, 'STORAGE', new Uint8Array(0), new Uint8Array(0), 8 * 80);
  assert.equal(long.length, 80);
  // Bits not a multiple of 8: the top bits of the first byte are cleared (Part 1, 11.4.10.2).
  for (let bits = 1; bits < 16; bits++) {
    const k = kdfa(TPM_ALG.SHA256, key, 'X', new Uint8Array(0), new Uint8Array(0), bits);
    assert.equal(k.length, Math.ceil(bits / 8));
    assert.equal(k[0]! >> (bits % 8 || 8), 0);
  }
  const e1 = kdfe(TPM_ALG.SHA256, key, 'IDENTITY', fromHex('01'), fromHex('02'), 256);
  const e2 = kdfe(TPM_ALG.SHA256, key, 'IDENTITY', fromHex('01'), fromHex('02'), 512);
  assert.deepEqual(e2.subarray(0, 32), e1, 'counter mode: a longer output extends the shorter');
  assert.notDeepEqual(kdfe(TPM_ALG.SHA256, key, 'SECRET', fromHex('01'), fromHex('02'), 256), e1);
  for (const bits of [0, -8, 1.5, 8 * 1024 + 1]) assert.throws(() => kdfa(TPM_ALG.SHA256, key, 'X', key, key, bits), { code: 'ERR_TPM_CRYPTO_SIZE' });
  assert.throws(() => kdfa(TPM_ALG.SM3_256, key, 'X', key, key, 8), { code: 'ERR_TPM_CRYPTO_UNSUPPORTED' });
});

test('EK policies of the TCG EK Credential Profile (B.6 PolicyA; H-3 PolicyOR(A, C)) and the trial calculator', () => {
  assert.equal(toHex(ekPolicyA(TPM_ALG.SHA256)), '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
  assert.equal(toHex(ekPolicyA(TPM_ALG.SHA384)), '8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53');
  const endorsement = hierarchyQualifiedName(TPM_RH.ENDORSEMENT);
  assert.deepEqual(new TrialPolicy(TPM_ALG.SHA256).secret(endorsement).digest, ekPolicyA(TPM_ALG.SHA256));
  const policyC384 = fromHex('d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165');
  const highRange = new TrialPolicy(TPM_ALG.SHA384).secret(endorsement).or([ekPolicyA(TPM_ALG.SHA384), policyC384]).digest;
  assert.deepEqual(highRange, p384EkTemplate.authPolicy);
  assert.throws(() => new TrialPolicy(TPM_ALG.SHA256).or([ekPolicyA(TPM_ALG.SHA256)]), { code: 'ERR_TPM_CRYPTO_SIZE' });
  assert.throws(() => new TrialPolicy(TPM_ALG.SHA256).or([ekPolicyA(TPM_ALG.SHA256), policyC384]), { code: 'ERR_TPM_CRYPTO_SIZE' });
  // PolicyPassword and PolicyAuthValue extend identically; PolicyAuthorize resets the chain.
  assert.deepEqual(new TrialPolicy(TPM_ALG.SHA256).password().digest, new TrialPolicy(TPM_ALG.SHA256).authValue().digest);
  const keyName = objectName(akPublic);
  assert.deepEqual(
    new TrialPolicy(TPM_ALG.SHA256).commandCode(TPM_CC.Unseal).authorize(keyName).digest,
    new TrialPolicy(TPM_ALG.SHA256).authorize(keyName).digest,
  );
});

test('makeCredential / unwrapCredential round trip for RSA, P-256 and P-384 EKs; bound to the Name', () => {
  for (const k of EKS) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.uint8Array({ minLength: 34, maxLength: 34 }), (credential, name) => {
        const blob = makeCredential(k.publicArea, credential, name);
        assert.deepEqual(unwrapCredential(k.publicArea, k.privateKey, blob, name), credential);
        const other = name.slice();
        other[33]! ^= 1;
        assert.throws(() => unwrapCredential(k.publicArea, k.privateKey, blob, other), { code: 'ERR_TPM_CRYPTO_INTEGRITY' });
      }),
      { numRuns: 8 },
    );
  }
});

test('credential blobs: every flipped bit is detected; mutated secrets and random bytes give typed errors only', () => {
  const allowed = new Set(['ERR_TPM_CRYPTO_INTEGRITY', 'ERR_TPM_CRYPTO_DECRYPT', 'ERR_TPM_CRYPTO_SIZE']);
  for (const k of EKS) {
    const credential = new Uint8Array(32).fill(0x5a);
    const blob = makeCredential(k.publicArea, credential, akName);
    for (let bit = 0; bit < blob.credentialBlob.length * 8; bit++) {
      const mutated = blob.credentialBlob.slice();
      mutated[bit >> 3]! ^= 1 << (bit & 7);
      assert.throws(
        () => unwrapCredential(k.publicArea, k.privateKey, { ...blob, credentialBlob: mutated }, akName),
        (e: unknown) => isVouchError(e) && allowed.has(e.code),
      );
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: blob.secret.length * 8 - 1 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 120 }),
        (bit, randomSecret, randomBlob) => {
          const secret = blob.secret.slice();
          secret[bit >> 3]! ^= 1 << (bit & 7);
          for (const attempt of [
            { ...blob, secret },
            { credentialBlob: randomBlob, secret: randomSecret },
            { credentialBlob: blob.credentialBlob.subarray(0, randomBlob.length % blob.credentialBlob.length), secret: blob.secret },
          ]) {
            assert.throws(
              () => unwrapCredential(k.publicArea, k.privateKey, attempt, akName),
              (e: unknown) => isVouchError(e) && allowed.has(e.code),
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  }
});

test('seeded randomness makes MakeCredential reproducible (the software TPM relies on it)', () => {
  for (const k of EKS) {
    const a = makeCredential(k.publicArea, fromHex('01020304'), akName, seededRandom('seed'));
    const b = makeCredential(k.publicArea, fromHex('01020304'), akName, seededRandom('seed'));
    const c = makeCredential(k.publicArea, fromHex('01020304'), akName, seededRandom('other'));
    assert.deepEqual(a, b, k.label);
    assert.notDeepEqual(a.secret, c.secret, k.label);
  }
});

test('MakeCredential refuses keys that are not restricted decryption keys and oversized credentials', () => {
  const ak = { ...EKS[1]!.publicArea, objectAttributes: { ...EKS[1]!.publicArea.objectAttributes, decrypt: false, sign: true } };
  assert.throws(() => makeCredential(ak, fromHex('00'), akName), { code: 'ERR_TPM_CRYPTO_KEY' });
  assert.throws(() => makeCredential(EKS[0]!.publicArea, new Uint8Array(33), akName), { code: 'ERR_TPM_CRYPTO_SIZE' });
  assert.throws(() => makeCredential(EKS[0]!.publicArea, new Uint8Array(0), akName), { code: 'ERR_TPM_CRYPTO_SIZE' });
  assert.doesNotThrow(() => makeCredential(EKS[2]!.publicArea, new Uint8Array(48), akName), 'a SHA-384 EK takes 48-byte credentials');
});

test('outer wrap protects a private area under a parent seed (TPM2B_PRIVATE layout), bound to the object Name', () => {
  const parent = { hashAlg: TPM_ALG.SHA256, symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }, seed: new Uint8Array(32).fill(9) };
  const sensitive = encode(TPMT_SENSITIVE, {
    sensitiveType: TPM_ALG.KEYEDHASH,
    authValue: fromHex('aa'),
    seedValue: new Uint8Array(32),
    sensitive: fromHex('73656372657421'),
  });
  const plaintext = new Uint8Array([sensitive.length >> 8, sensitive.length & 0xff, ...sensitive]);
  const wrapped = outerWrap(parent, akName, plaintext);
  assert.equal((wrapped[0]! << 8) | wrapped[1]!, 32, 'integrity HMAC is a TPM2B_DIGEST of the parent nameAlg');
  assert.deepEqual(outerUnwrap(parent, akName, wrapped), plaintext);
  assert.throws(() => outerUnwrap({ ...parent, seed: new Uint8Array(32) }, akName, wrapped), { code: 'ERR_TPM_CRYPTO_INTEGRITY' });
  assert.throws(() => outerUnwrap(parent, akName, wrapped.subarray(0, 20)), { code: 'ERR_TPM_CRYPTO_SIZE' });
  assert.throws(() => outerWrap({ ...parent, symmetric: { algorithm: TPM_ALG.CAMELLIA, keyBits: 128, mode: TPM_ALG.CFB } }, akName, plaintext), {
    code: 'ERR_TPM_CRYPTO_UNSUPPORTED',
  });
});

test('TPMT_PUBLIC ↔ KeyObject ↔ PEM for RSA 2048/3072 and P-256/384/521, private areas too', () => {
  const rsaTemplate = (bits: 2048 | 3072): Public => ({
    ...srkTemplate('rsa'),
    parameters: { ...(srkTemplate('rsa').parameters as object), keyBits: bits } as Public['parameters'],
  });
  const eccTemplate = (curveID: number): Public => ({
    ...srkTemplate('ecc'),
    parameters: { ...(srkTemplate('ecc').parameters as object), curveID } as Public['parameters'],
  });
  const cases = [
    { keys: generateKeyPairSync('rsa', { modulusLength: 2048 }), template: rsaTemplate(2048) },
    { keys: generateKeyPairSync('rsa', { modulusLength: 3072 }), template: rsaTemplate(3072) },
    { keys: generateKeyPairSync('ec', { namedCurve: 'P-256' }), template: eccTemplate(TPM_ECC_CURVE.NIST_P256) },
    { keys: generateKeyPairSync('ec', { namedCurve: 'P-384' }), template: eccTemplate(TPM_ECC_CURVE.NIST_P384) },
    { keys: generateKeyPairSync('ec', { namedCurve: 'P-521' }), template: eccTemplate(TPM_ECC_CURVE.NIST_P521) },
  ];
  for (const { keys, template } of cases) {
    const pub = tpmPublicFromKey(keys.publicKey, template);
    const bytes = encode(TPMT_PUBLIC, pub);
    assert.deepEqual(decode(TPMT_PUBLIC, bytes), pub);
    assert.equal(publicKeyPemFromTpm(pub), keys.publicKey.export({ type: 'spki', format: 'pem' }));
    assert.ok(publicKeyFromTpm(pub).equals(keys.publicKey));
    const priv = privateKeyFromTpm(pub, {
      sensitiveType: pub.type,
      authValue: new Uint8Array(0),
      seedValue: new Uint8Array(0),
      sensitive: sensitiveFromPrivateKey(keys.privateKey),
    });
    assert.ok(verify('sha256', bytes, keys.publicKey, sign('sha256', bytes, priv)));
  }
  // A TPM may strip leading zero bytes of a coordinate; a point off the curve is refused.
  const p256 = tpmPublicFromKey(cases[2]!.keys.publicKey, cases[2]!.template);
  const point = p256.unique as { x: Uint8Array; y: Uint8Array };
  const yFlipped = point.y.slice();
  yFlipped[31]! ^= 1;
  assert.throws(() => publicKeyFromTpm({ ...p256, unique: { x: point.x, y: yFlipped } }), { code: 'ERR_TPM_CRYPTO_KEY' });
  assert.throws(() => publicKeyFromTpm({ ...p256, unique: { x: new Uint8Array(0), y: new Uint8Array(0) } }), { code: 'ERR_TPM_CRYPTO_KEY' });
  assert.throws(() => tpmPublicFromKey(cases[0]!.keys.publicKey, cases[2]!.template), { code: 'ERR_TPM_CRYPTO_KEY' });
  assert.throws(() => tpmPublicFromKey(cases[3]!.keys.publicKey, cases[2]!.template), { code: 'ERR_TPM_CRYPTO_KEY' });
  assert.throws(() => publicKeyFromTpm({ ...p256, parameters: { ...(p256.parameters as object), curveID: TPM_ECC_CURVE.BN_P256 } as Public['parameters'] }), {
    code: 'ERR_TPM_CRYPTO_UNSUPPORTED',
  });
  const rsa = tpmPublicFromKey(cases[0]!.keys.publicKey, cases[0]!.template);
  const wrongPrime = new Uint8Array(128).fill(3);
  assert.throws(
    () => privateKeyFromTpm(rsa, { sensitiveType: TPM_ALG.RSA, authValue: new Uint8Array(0), seedValue: new Uint8Array(0), sensitive: wrongPrime }),
    { code: 'ERR_TPM_CRYPTO_KEY' },
  );
});

test('signatures: Vouch-made RSASSA/RSAPSS/ECDSA verify with node:crypto, node-made verify with Vouch, over messages and digests', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = new TextEncoder().encode('TPMS_ATTEST as received');
  for (const hashAlg of [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384]) {
    const h = hashName[hashAlg]!;
    const digest = new Uint8Array(createHash(h).update(message).digest());
    for (const sigAlg of [TPM_ALG.RSASSA, TPM_ALG.RSAPSS] as const) {
      const scheme: SigningScheme = { sigAlg, hashAlg };
      const padding = sigAlg === TPM_ALG.RSAPSS ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
      const ours = signTpm(rsa.privateKey, scheme, { message });
      assert.ok(verify(h, message, { key: rsa.publicKey, padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, (ours.signature as { sig: Uint8Array }).sig));
      // PSS with the digest-length salt and with the maximum salt (both occur in real TPMs).
      for (const saltLength of [digest.length, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
        const theirs = {
          sigAlg,
          signature: { hash: hashAlg, sig: new Uint8Array(sign(h, message, { key: rsa.privateKey, padding, saltLength })) },
        } as TPMT_SIGNATURE;
        assert.deepEqual(verifyTpmSignature(rsa.publicKey, { message }, theirs), scheme);
        assert.deepEqual(verifyTpmSignature(rsa.publicKey, { digest }, theirs), scheme);
      }
      const tampered = {
        ...ours,
        signature: { hash: hashAlg, sig: (ours.signature as { sig: Uint8Array }).sig.map((b, i) => (i === 7 ? b ^ 4 : b)) },
      } as TPMT_SIGNATURE;
      assert.throws(() => verifyTpmSignature(rsa.publicKey, { message }, tampered), { code: 'ERR_TPM_CRYPTO_SIGNATURE' });
      assert.throws(() => verifyTpmSignature(rsa.publicKey, { digest }, tampered), { code: 'ERR_TPM_CRYPTO_SIGNATURE' });
    }
    for (const curve of ['P-256', 'P-384', 'P-521']) {
      const ec = generateKeyPairSync('ec', { namedCurve: curve });
      const ours = signTpm(ec.privateKey, { sigAlg: TPM_ALG.ECDSA, hashAlg }, { digest });
      const { signatureR, signatureS } = ours.signature as { signatureR: Uint8Array; signatureS: Uint8Array };
      assert.ok(verify(h, message, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([signatureR, signatureS])), curve);
      const p1363 = sign(h, message, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
      const half = p1363.length / 2;
      const theirs = {
        sigAlg: TPM_ALG.ECDSA,
        signature: { hash: hashAlg, signatureR: p1363.subarray(0, half), signatureS: p1363.subarray(half) },
      } as TPMT_SIGNATURE;
      verifyTpmSignature(ec.publicKey, { digest }, theirs);
      verifyTpmSignature(ec.publicKey, { message }, theirs);
      assert.throws(() => verifyTpmSignature(ec.publicKey, { digest: digest.map((b, i) => (i === 0 ? b ^ 1 : b)) }, theirs), {
        code: 'ERR_TPM_CRYPTO_SIGNATURE',
      });
      assert.throws(() => verifyTpmSignature(rsa.publicKey, { digest }, theirs), { code: 'ERR_TPM_CRYPTO_SIGNATURE' });
    }
  }
});

test('ECDSA over a message (DER for node:crypto) agrees with the digest path for any r and s: short, zero-led, high-bit, mutated', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(3), fc.nat(63), fc.integer({ min: 0, max: 255 }), (message, zeros, at, flip) => {
      const p1363 = sign('sha256', message, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
      const r = new Uint8Array(p1363.subarray(0, 32));
      const s = new Uint8Array(p1363.subarray(32));
      // Leading zeros forced into r (as a TPM may send r with its zero bytes stripped), then one byte of r‖s changed.
      r.fill(0, 0, zeros);
      const rs = new Uint8Array([...r, ...s]);
      rs[at]! ^= flip;
      const digest = new Uint8Array(createHash('sha256').update(message).digest());
      const rField = rs.subarray(0, 32);
      const firstNonZero = rField.findIndex((b) => b !== 0);
      for (const stripped of [false, true]) {
        const rBytes = stripped ? rField.subarray(firstNonZero === -1 ? 32 : firstNonZero) : rField;
        const sig = { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: rBytes, signatureS: rs.subarray(32) } } as TPMT_SIGNATURE;
        const outcome = (signed: { message: Uint8Array } | { digest: Uint8Array }): string => {
          try {
            verifyTpmSignature(ec.publicKey, signed, sig);
            return 'ok';
          } catch (e) {
            assert.ok(isVouchError(e), String(e));
            return e.code;
          }
        };
        const viaMessage = outcome({ message });
        assert.equal(viaMessage, outcome({ digest }));
        if (flip === 0 && zeros === 0) assert.equal(viaMessage, 'ok');
      }
    }),
    { numRuns: 60 },
  );
});

test("session crypto agrees with the client's HMAC sessions; salts round trip to RSA and ECC keys; parameter encryption inverts", () => {
  const nonceTPM = fromHex('11'.repeat(32));
  const nonceCaller0 = fromHex('22'.repeat(32));
  assert.equal(sessionKey(TPM_ALG.SHA256, new Uint8Array(0), new Uint8Array(0), nonceTPM, nonceCaller0).length, 0, 'unbound, unsalted');
  for (const k of EKS) {
    const { seed: salt, encryptedSecret } = createSalt(k.publicArea);
    assert.deepEqual(recoverSalt(k.publicArea, k.privateKey, encryptedSecret), salt, k.label);
    // The label keeps salts and credentials apart: a salt is no credential seed.
    assert.throws(() => unwrapCredential(k.publicArea, k.privateKey, { credentialBlob: new Uint8Array(40), secret: encryptedSecret }, akName));
    const key = sessionKey(TPM_ALG.SHA256, new Uint8Array(0), salt, nonceTPM, nonceCaller0);
    const session = new AuthSession({ handle: 0x02000000, kind: 'hmac', authHash: TPM_ALG.SHA256, nonceCaller: nonceCaller0, nonceTPM, sessionKey: key });
    session.authValue = fromHex('7365637265742d61757468');
    const params = fromHex('0001020304');
    const names = [akName];
    session.prepare(akName);
    const auth = session.commandAuth({ commandCode: TPM_CC.Unseal, names, paramBytes: params });
    const attrs = auth.sessionAttributes.continueSession ? 1 : 0;
    const expected = sessionHmac(
      TPM_ALG.SHA256,
      new Uint8Array([...key, ...session.authValue]),
      cpHash(TPM_ALG.SHA256, TPM_CC.Unseal, names, params),
      auth.nonce,
      nonceTPM,
      attrs,
    );
    assert.equal(toHex(auth.hmac), toHex(expected), k.label);
    // And the client accepts a response HMAC computed the TPM's way.
    const nonceTPM2 = fromHex('33'.repeat(32));
    const response = fromHex('abcdef');
    const rHmac = sessionHmac(
      TPM_ALG.SHA256,
      new Uint8Array([...key, ...session.authValue]),
      rpHash(TPM_ALG.SHA256, 0, TPM_CC.Unseal, response),
      nonceTPM2,
      auth.nonce,
      attrs,
    );
    session.responseAuth({ commandCode: TPM_CC.Unseal, paramBytes: response }, { nonce: nonceTPM2, sessionAttributes: auth.sessionAttributes, hmac: rHmac });
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(128, 192, 256), (data, bits) => {
      const value = fromHex('0102');
      const enc = parameterCfb(TPM_ALG.SHA256, value, bits, nonceCaller0, nonceTPM, data, 'encrypt');
      assert.deepEqual(parameterCfb(TPM_ALG.SHA256, value, bits, nonceCaller0, nonceTPM, enc, 'decrypt'), data);
      assert.deepEqual(parameterXor(TPM_ALG.SHA256, value, nonceCaller0, nonceTPM, parameterXor(TPM_ALG.SHA256, value, nonceCaller0, nonceTPM, data)), data);
    }),
    { numRuns: 50 },
  );
});

test('qualified names chain through the hierarchy: QN = nameAlg ‖ H(QN(parent) ‖ Name)', () => {
  const owner = hierarchyQualifiedName(TPM_RH.OWNER);
  assert.equal(toHex(owner), '40000001');
  const qn = qualifiedName(owner, akName);
  assert.equal(qn.length, 34);
  assert.equal(toHex(qn.subarray(2)), createHash('sha256').update(owner).update(akName).digest('hex'));
});

test("an RSA-encrypted seed longer than the key's name digest is refused, as a TPM refuses it", () => {
  const rsaEk = EKS[0]!;
  const oaep = (seed: Uint8Array): Uint8Array =>
    new Uint8Array(
      publicEncrypt(
        { key: publicKeyFromTpm(rsaEk.publicArea), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('SECRET\0') },
        seed,
      ),
    );
  assert.equal(recoverSalt(rsaEk.publicArea, rsaEk.privateKey, oaep(new Uint8Array(32).fill(7))).length, 32);
  assert.throws(() => recoverSalt(rsaEk.publicArea, rsaEk.privateKey, oaep(new Uint8Array(33).fill(7))), { code: 'ERR_TPM_CRYPTO_DECRYPT' });
});
