// The one strict DER layer: X.690 cases for the reader (every BER leniency refused with a typed
// error), decode(encode(x)) = x for the writer, the X.509 field walk against node:crypto (OpenSSL)
// on certificates openssl made, and hostile input that may only give typed errors.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes/index.ts';
import {
  DER_NULL,
  DerCursor,
  DerError,
  DerTag,
  MAX_DER_DEPTH,
  decodeInteger,
  decodeOid,
  decodeSmallInteger,
  encodeBitString,
  encodeBoolean,
  encodeExplicit,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSetOf,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  encodeUtf8String,
  parseCertificateFields,
  parseDer,
  parseDerPadded,
  parseDerPrefix,
  type DerValue,
} from '../../src/der/index.ts';
import { createTestPki, run, type TestPki } from '../secureboot/fixtures.ts';
import { peer } from '../helpers/peers.ts';

const malformed = { code: 'ERR_DER_MALFORMED' };
const limit = { code: 'ERR_DER_LIMIT' };
const der = (hex: string): DerValue => parseDer(fromHex(hex));

test('lengths: definite and minimal only; indefinite, non-minimal, overlong, overrunning and trailing are refused', () => {
  assert.equal(toHex(der('0402aabb').content), 'aabb');
  const long = new Uint8Array(3 + 200);
  long.set([0x04, 0x81, 200]);
  assert.equal(parseDer(long).content.length, 200);
  assert.throws(() => der('30800000'), malformed); // indefinite (BER)
  assert.throws(() => der('048101aa'), malformed); // long form for a length under 128
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x82, 0x00, 0x81, ...new Uint8Array(0x81)])), malformed); // leading zero length byte
  assert.throws(() => der('04850100000000'), limit); // 5 length bytes
  assert.throws(() => der('3084ffffffff'), limit); // 4 GiB declared
  assert.throws(() => der('0403aa'), malformed); // runs past the input
  assert.throws(() => der('0401aa00'), malformed); // trailing byte
  assert.throws(() => der('04'), malformed); // no length
  assert.throws(() => der('1f810100'), malformed); // high tag number form
});

test('tags: universal types are primitive or constructed as X.690 fixes; end-of-contents is refused', () => {
  assert.throws(() => der('1000'), malformed); // primitive SEQUENCE
  assert.throws(() => der('2400'), malformed); // constructed OCTET STRING (BER only)
  assert.throws(() => der('2303000000'), malformed); // constructed BIT STRING
  assert.throws(() => der('0000'), malformed); // end-of-contents
  assert.equal(der('a0020500').tag, DerTag.context0); // context tags: the schema decides
  assert.equal(der('8000').tag, DerTag.contextPrimitive0);
});

test('canonical forms: BOOLEAN, INTEGER, BIT STRING, NULL, OID and times have one encoding each', () => {
  assert.equal(der('0101ff').content[0], 0xff);
  assert.throws(() => der('010101'), malformed); // TRUE must be 0xff
  assert.throws(() => der('01020000'), malformed);
  assert.throws(() => der('0200'), malformed); // empty INTEGER
  assert.throws(() => der('0202007f'), malformed); // redundant 0x00
  assert.throws(() => der('0202ff80'), malformed); // redundant 0xff
  assert.equal(toHex(decodeInteger(der('02020080'))), '0080'); // needed 0x00
  assert.equal(toHex(decodeInteger(der('0201ff'))), 'ff'); // -1
  assert.throws(() => der('0300'), malformed); // no unused-bits octet
  assert.throws(() => der('030108'), malformed); // unused bits in an empty string
  assert.throws(() => der('03020880'), malformed); // 8 unused bits
  assert.throws(() => der('03020581'), malformed); // unused bits not zero
  assert.equal(toHex(der('03020520').content), '0520'); // keyEncipherment
  assert.throws(() => der('050100'), malformed); // NULL with content
  assert.throws(() => der('170d3236303630313030303030305a00'), malformed); // trailing byte caught by the outer check
  assert.equal(der('170d3236303630313030303030305a').tag, DerTag.utcTime);
  assert.throws(() => der('170b323630363031303030305a'), malformed); // no seconds
  const time = (tag: string, text: string): DerValue => der(tag + text.length.toString(16).padStart(2, '0') + Buffer.from(text).toString('hex'));
  assert.throws(() => time('17', '260601000000+0100'), malformed); // offset instead of Z
  assert.throws(() => time('18', '20500601000000.5Z'), malformed); // fraction
  assert.equal(time('18', '20500601000000Z').tag, DerTag.generalizedTime);
});

test('OIDs decode (X.690 §8.19 examples and the Authenticode ones); malformed and overlong arcs are refused', () => {
  const oid = (hex: string): string => decodeOid(der(hex));
  assert.equal(oid('06062a864886f70d'), '1.2.840.113549');
  assert.equal(oid('06092a864886f70d010702'), '1.2.840.113549.1.7.2');
  assert.equal(oid('060a2b060104018237020104'), '1.3.6.1.4.1.311.2.1.4');
  assert.equal(oid('0603883703'), '2.999.3');
  assert.equal(oid('06056781050801'), '2.23.133.8.1');
  assert.throws(() => oid('06022a86'), malformed); // ends inside an arc
  assert.throws(() => oid('06032a8001'), malformed); // non-minimal arc
  assert.throws(() => oid('0600'), malformed);
  assert.throws(() => oid(`0641${'2a'.repeat(65)}`), limit);
  assert.throws(() => oid(`060a${'ff'.repeat(9)}7f`), limit); // arc beyond 2^53
});

test('cursors: tags checked per field, unread fields refused, SET OF counts and nesting depth bounded', () => {
  const seq = der('30050201050500');
  const c = new DerCursor(seq, 'S');
  assert.equal(c.optional('absent', DerTag.octetString), undefined);
  assert.equal(decodeSmallInteger(c.next('n', DerTag.integer)), 5);
  assert.throws(() => c.end(), malformed);
  assert.throws(() => c.next('wrong', DerTag.integer), { code: 'ERR_DER_MALFORMED', message: /S\.wrong .*expected tag 0x02, got 0x05/ });
  assert.throws(() => new DerCursor(der('0400'), 'x'), malformed); // a primitive has no children
  assert.throws(() => new DerCursor(der('3006020101020102'), 'S').rest('n', 1), limit);
  assert.throws(() => decodeSmallInteger(der('020180')), malformed); // negative version

  // A chain of SEQUENCEs one deeper than allowed: walking it fails at the bound, not the stack.
  let nested: Uint8Array = DER_NULL;
  for (let i = 0; i <= MAX_DER_DEPTH; i++) nested = encodeSequence(nested);
  let value = parseDer(nested);
  assert.throws(() => {
    for (;;) value = new DerCursor(value, 'deep').next('inner');
  }, limit);
});

test('padded and prefix reads: zero padding up to a bound after a signature; any tail after an NV certificate', () => {
  assert.equal(parseDerPadded(fromHex('3000000000'), 'p', DerTag.sequence, 7).raw.length, 2);
  assert.throws(() => parseDerPadded(fromHex('300000000001'), 'p', DerTag.sequence, 7), malformed);
  assert.throws(() => parseDerPadded(fromHex(`3000${'00'.repeat(8)}`), 'p', DerTag.sequence, 7), malformed);
  assert.equal(parseDerPrefix(fromHex('3003020101ffffff'), 'nv', DerTag.sequence).raw.length, 5);
  assert.throws(() => parseDerPrefix(fromHex('0403aabbcc'), 'nv', DerTag.sequence), malformed);
});

test('writer: decode(encode(x)) = x for OIDs, integers, strings and nested sequences; every output is strict DER', () => {
  const arc = fc.nat({ max: 2 ** 40 });
  fc.assert(
    fc.property(fc.constantFrom(0, 1, 2), fc.nat({ max: 39 }), fc.array(arc, { maxLength: 8 }), (a, b, rest) => {
      const dotted = [a, b, ...rest].join('.');
      assert.equal(decodeOid(parseDer(encodeOid(dotted))), dotted);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (magnitude) => {
      const value = decodeInteger(parseDer(encodeUnsignedInteger(magnitude)));
      assert.equal(BigInt(`0x0${toHex(value)}`), BigInt(`0x0${toHex(magnitude)}`));
      assert.ok(value[0]! < 0x80, 'non-negative');
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), fc.nat(), fc.boolean(), (bytes, text, n, flag) => {
      const encoded = encodeSequence(encodeOctetString(bytes), encodeUtf8String(text), encodeSmallInteger(n), encodeBoolean(flag), encodeExplicit(1, DER_NULL));
      const c = new DerCursor(parseDer(encoded, 'S', DerTag.sequence), 'S');
      assert.deepEqual(c.next('bytes', DerTag.octetString).content, bytes);
      assert.equal(Buffer.from(c.next('text', DerTag.utf8String).content).toString('utf8'), text);
      assert.equal(decodeSmallInteger(c.next('n', DerTag.integer)), n);
      assert.equal(c.next('flag', DerTag.boolean).content[0], flag ? 0xff : 0);
      c.next('explicit', DerTag.context1);
      c.end();
    }),
  );
  // SET OF sorts by encoding (X.690 §11.6), whatever the input order.
  assert.equal(toHex(encodeSetOf([fromHex('0401bb'), fromHex('0401aa')])), '31060401aa0401bb');
  assert.equal(toHex(encodeTime(new Date('2049-12-31T23:59:59Z'))), '170d3439313233313233353935395a');
  assert.equal(toHex(encodeTime(new Date('2050-01-01T00:00:00Z'))), '180f32303530303130313030303030305a');
  assert.throws(() => encodeOid('1.40'), malformed);
  assert.throws(() => encodeOid('3.1'), malformed);
  assert.throws(() => encodeOid('1.2.-3'), malformed);
  assert.throws(() => encodeBitString(new Uint8Array([0x01]), 1), malformed);
  assert.throws(() => encodeTime(new Date(NaN)), malformed);
});

let sharedPki: TestPki | undefined;
/** One openssl-made PKI for the tests of this file (RSA key generation takes seconds). */
function testPki(t: TestContext): TestPki | undefined {
  const openssl = peer(t, 'openssl');
  if (!openssl) return undefined;
  if (!sharedPki) {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-der-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    sharedPki = createTestPki(dir, openssl);
  }
  return sharedPki;
}

test('X.509 fields agree with OpenSSL on certificates openssl made: serial, SPKI, and the TBS the issuer signed', (t) => {
  const openssl = peer(t, 'openssl');
  const pki = testPki(t);
  if (!openssl || !pki) return;
  for (const [cert, issuer] of [
    [pki.leaf, pki.intermediate],
    [pki.intermediate, pki.root],
    [pki.root, pki.root],
  ] as const) {
    const fields = parseCertificateFields(cert.der);
    const node = new X509Certificate(cert.der);
    assert.equal(toHex(fields.serialNumber).replace(/^00/, '').toUpperCase(), node.serialNumber.replace(/^00/, ''));
    assert.deepEqual(Buffer.from(fields.subjectPublicKeyInfo), node.publicKey.export({ type: 'spki', format: 'der' }));
    const signature = new DerCursor(parseDer(cert.der), 'C');
    signature.next('tbs');
    signature.next('alg');
    const bits = signature.next('sig', DerTag.bitString).content.subarray(1);
    assert.ok(verify('sha256', fields.tbs, new X509Certificate(issuer.der).publicKey, bits), 'the issuer signed exactly the TBS bytes');
  }
  // The DER that openssl prints as text reads back the same subject.
  const text = run(openssl, ['x509', '-in', pki.leaf.cert, '-noout', '-subject', '-nameopt', 'RFC2253']).stdout;
  assert.match(text, /CN=Vouch Test Signer/);
  assert.ok(Buffer.from(parseCertificateFields(pki.leaf.der).subject).includes(Buffer.from('Vouch Test Signer')));
});

test('X.509 walk refuses what OpenSSL refuses in the outer structure: a bad extension length (issue 7, fbx64 byte 117974)', (t) => {
  const pki = testPki(t);
  if (!pki) return;
  const cert = pki.leaf.der;
  const fields = parseCertificateFields(cert);
  // The first Extension SEQUENCE: grow its length so it runs past the Extensions list.
  const extensions = new DerCursor(new DerCursor(parseDer(fields.tbs), 'tbs').rest('f', 16).at(-1)!, 'ext').next('list', DerTag.sequence);
  const first = new DerCursor(extensions, 'list').next('e0', DerTag.sequence);
  const offset = Buffer.from(cert).indexOf(Buffer.from(first.raw));
  assert.ok(first.raw.length < 0x7f && offset > 0);
  const mutated = Uint8Array.from(cert);
  mutated[offset + 1] = 0x7f;
  assert.throws(() => parseCertificateFields(mutated), { code: 'ERR_DER_MALFORMED', message: /extension\[0\]/ });
  assert.throws(() => new X509Certificate(mutated).publicKey, 'OpenSSL refuses it too');
});

test('fuzz: random bytes, every truncation and random edits of a certificate give typed DER errors only', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
  const name = encodeSequence(encodeSetOf([encodeSequence(encodeOid('2.5.4.3'), encodeUtf8String('fuzz'))]));
  const tbs = encodeSequence(
    encodeExplicit(0, encodeSmallInteger(2)),
    encodeUnsignedInteger(createHash('sha1').update(spki).digest()),
    encodeSequence(encodeOid('1.2.840.10045.4.3.2')),
    name,
    encodeSequence(encodeTime(new Date('2026-01-01Z')), encodeTime(new Date('2036-01-01Z'))),
    name,
    spki,
    encodeExplicit(3, encodeSequence(encodeSequence(encodeOid('2.5.29.19'), encodeBoolean(true), encodeOctetString(encodeSequence())))),
  );
  const cert = encodeSequence(tbs, encodeSequence(encodeOid('1.2.840.10045.4.3.2')), encodeBitString(new Uint8Array(64).fill(1)));
  assert.equal(parseCertificateFields(cert).tbs.length, tbs.length);
  assert.ok(new X509Certificate(cert).subject.includes('fuzz'), 'OpenSSL reads what the writer made');
  const typedOnly = (bytes: Uint8Array): void => {
    try {
      parseCertificateFields(bytes);
    } catch (e) {
      assert.ok(e instanceof DerError, `untyped: ${String(e)}`);
    }
  };
  for (let n = 0; n < cert.length; n++)
    assert.throws(
      () => parseCertificateFields(cert.subarray(0, n)),
      (e) => e instanceof DerError,
    );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(cert.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), (edits) => {
      const copy = Uint8Array.from(cert);
      for (const [i, b] of edits) copy[i] = b;
      typedOnly(copy);
    }),
    { numRuns: 2000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), typedOnly), { numRuns: 1000 });
  // Hostile depth: 10,000 nested SEQUENCE headers end at the depth bound or the length check.
  const deep = new Uint8Array(20_000);
  for (let i = 0; i < deep.length; i += 2) deep.set([0x30, 0x80], i);
  assert.throws(() => parseCertificateFields(deep), malformed);
});

test('an empty subject and issuer (RFC 5280 §4.1.2.6, the TCG EK profile) are empty Names, not errors', () => {
  const pem = readFileSync(join(import.meta.dirname, '../secureboot/fixtures/empty-subject.pem'));
  const fields = parseCertificateFields(new Uint8Array(new X509Certificate(pem).raw));
  assert.equal(toHex(fields.subject), '3000');
  assert.equal(toHex(fields.issuer), '3000');
});
