import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMasterKeyFile, createPkcs11MasterKey, loadMasterKey, masterKeyFromBytes, parsePkcs11Uri, type MasterKey } from '../../src/broker/index.ts';
import { importAesKey, keyProtection, softHsmForTest, SOFTHSM_PIN } from '../helpers/softhsm.ts';

const aad = new TextEncoder().encode('["test"]');

function roundTrip(key: MasterKey): void {
  const dataKey = randomBytes(32);
  const wrapped = key.wrap(dataKey, aad);
  assert.equal(wrapped.length, 12 + 32 + 16);
  assert.deepEqual(key.unwrap(wrapped, aad), dataKey);
  assert.throws(() => key.unwrap(wrapped, new TextEncoder().encode('["other"]')), { code: 'ERR_BROKER_UNWRAP' });
  for (const at of [0, 12, 30, wrapped.length - 1]) {
    const bad = Uint8Array.from(wrapped);
    bad[at]! ^= 1;
    assert.throws(() => key.unwrap(bad, aad), { code: 'ERR_BROKER_UNWRAP' }, `flipped byte ${at}`);
  }
  assert.throws(() => key.unwrap(wrapped.subarray(0, 20), aad), { code: 'ERR_BROKER_UNWRAP' });
}

test('file and environment master keys: hex, base64 or raw; owner-only files; the same key has the same id from every source', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-mk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const raw = randomBytes(32);
  const forms = { hex: `${raw.toString('hex')}\n`, b64: raw.toString('base64'), raw };
  const ids = new Set<string>();
  for (const [name, content] of Object.entries(forms)) {
    const path = join(dir, name);
    await writeFile(path, content, { mode: 0o600 });
    const key = loadMasterKey(`file:${path}`);
    roundTrip(key);
    ids.add(key.id);
  }
  const fromEnv = loadMasterKey('env:VOUCH_TEST_KEY', { VOUCH_TEST_KEY: raw.toString('base64url') });
  ids.add(fromEnv.id);
  ids.add(masterKeyFromBytes(Uint8Array.from(raw)).id);
  assert.equal(ids.size, 1);
  assert.match([...ids][0]!, /^aes256:[0-9a-f]{32}$/);
  assert.notEqual(masterKeyFromBytes(randomBytes(32)).id, [...ids][0]);

  // A key file another user can read may have leaked: refused, as ssh refuses such private keys.
  await chmod(join(dir, 'hex'), 0o640);
  assert.throws(() => loadMasterKey(`file:${join(dir, 'hex')}`), { code: 'ERR_BROKER_MASTER_KEY', message: /chmod 600/ });
  await writeFile(join(dir, 'short'), randomBytes(31).toString('hex'), { mode: 0o600 });
  assert.throws(() => loadMasterKey(`file:${join(dir, 'short')}`), { code: 'ERR_BROKER_MASTER_KEY' });
  assert.throws(() => loadMasterKey(`file:${join(dir, 'missing')}`), { code: 'ERR_BROKER_MASTER_KEY' });
  assert.throws(() => loadMasterKey(`file:${dir}`), { code: 'ERR_BROKER_MASTER_KEY' });
  assert.throws(() => loadMasterKey('env:UNSET_VARIABLE', {}), { code: 'ERR_BROKER_MASTER_KEY', message: /not set/ });
  assert.throws(() => loadMasterKey('env:K', { K: 'zz' }), { code: 'ERR_BROKER_MASTER_KEY' });
  assert.throws(() => loadMasterKey('vault:secret/key'), { code: 'ERR_BROKER_MASTER_KEY' });

  const made = join(dir, 'made.key');
  createMasterKeyFile(made);
  roundTrip(loadMasterKey(`file:${made}`));
  assert.throws(() => createMasterKeyFile(made), { code: 'ERR_BROKER_MASTER_KEY' }, 'never overwrites a key');
  const bytes = randomBytes(32);
  masterKeyFromBytes(bytes);
  assert.deepEqual(bytes, Buffer.alloc(32), 'the caller’s copy of the key is zeroed');
});

test('pkcs11 URIs (RFC 7512): percent-encoding, PIN from a file, and clear errors for what is missing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-pin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'pin'), '1234\n');
  const loc = parsePkcs11Uri(`pkcs11:token=my%20token;object=master;id=%01%02?module-path=/usr/lib/x.so&pin-source=file:${join(dir, 'pin')}`);
  assert.deepEqual(loc, { modulePath: '/usr/lib/x.so', tokenLabel: 'my token', objectLabel: 'master', pin: '1234', objectId: new Uint8Array([1, 2]) });
  for (const [uri, why] of [
    ['pkcs11:token=t;object=o?pin-value=1', /module-path/],
    ['pkcs11:object=o?module-path=/x.so&pin-value=1', /token/],
    ['pkcs11:token=t?module-path=/x.so&pin-value=1', /object/],
    ['pkcs11:token=t;object=o?module-path=/x.so', /pin/],
    ['pkcs11:token=t;object=o;slot-id=1?module-path=/x.so&pin-value=1', /slot-id is not supported/],
    ['pkcs11:token=t;object=o;type=private?module-path=/x.so&pin-value=1', /secret-key/],
    ['pkcs11:token=%zz;object=o?module-path=/x.so&pin-value=1', /percent/],
  ] as const) {
    assert.throws(() => parsePkcs11Uri(uri), { code: 'ERR_BROKER_MASTER_KEY', message: why }, uri);
  }
  assert.throws(() => loadMasterKey('pkcs11:token=t;object=o?module-path=/nonexistent/lib.so&pin-value=1'), {
    code: 'ERR_BROKER_MASTER_KEY',
    message: /cannot load/,
  });
});

test('a SoftHSM2 key wraps and unwraps; it is made non-extractable; wrong PIN, token or label are ERR_BROKER_MASTER_KEY', (t) => {
  const hsm = softHsmForTest(t);
  if (!hsm) return;
  const key = createPkcs11MasterKey(hsm.uri('mk-basic'));
  t.after(() => key.close());
  assert.match(key.id, /^pkcs11:[0-9a-f]+:mk-basic$/);
  assert.deepEqual(keyProtection(hsm, 'mk-basic'), { sensitive: true, extractable: false });
  roundTrip(key);
  assert.throws(() => createPkcs11MasterKey(hsm.uri('mk-basic')), { code: 'ERR_BROKER_MASTER_KEY', message: /already holds/ });
  const again = loadMasterKey(hsm.uri('mk-basic'));
  t.after(() => again.close());
  assert.deepEqual(again.unwrap(key.wrap(Buffer.alloc(32, 7), aad), aad), Buffer.alloc(32, 7));
  assert.throws(() => loadMasterKey(hsm.uri('mk-basic').replace(`pin-value=${SOFTHSM_PIN}`, 'pin-value=000000')), {
    code: 'ERR_BROKER_MASTER_KEY',
    message: /CKR_PIN_INCORRECT/,
  });
  assert.throws(() => loadMasterKey(hsm.uri('mk-basic').replace('token=vouch-a', 'token=nope')), {
    code: 'ERR_BROKER_MASTER_KEY',
    message: /no PKCS#11 token/,
  });
  assert.throws(() => loadMasterKey(hsm.uri('mk-absent')), { code: 'ERR_BROKER_MASTER_KEY', message: /no secret key/ });
  // The same label on the other token is another key: its id names the token too.
  const other = createPkcs11MasterKey(hsm.uri('mk-basic', 'vouch-b'));
  t.after(() => other.close());
  assert.notEqual(other.id, key.id);
  assert.throws(() => other.unwrap(key.wrap(Buffer.alloc(32), aad), aad), { code: 'ERR_BROKER_UNWRAP' });
});

test('SoftHSM2 and Vouch’s software AES-GCM agree both ways on a key they share', (t) => {
  const hsm = softHsmForTest(t);
  if (!hsm) return;
  const shared = randomBytes(32);
  importAesKey(hsm, 'mk-shared', shared);
  const inHsm = loadMasterKey(hsm.uri('mk-shared'));
  t.after(() => inHsm.close());
  const inSoftware = masterKeyFromBytes(Uint8Array.from(shared));
  const dataKey = randomBytes(32);
  assert.deepEqual(inSoftware.unwrap(inHsm.wrap(dataKey, aad), aad), dataKey, 'HSM wraps, software unwraps');
  assert.deepEqual(inHsm.unwrap(inSoftware.wrap(dataKey, aad), aad), dataKey, 'software wraps, HSM unwraps');
  // And node:crypto directly, from the documented layout IV ‖ ciphertext ‖ tag.
  const wrapped = inHsm.wrap(dataKey, aad);
  const d = createDecipheriv('aes-256-gcm', shared, wrapped.subarray(0, 12));
  d.setAAD(aad);
  d.setAuthTag(wrapped.subarray(44));
  assert.deepEqual(Buffer.concat([d.update(wrapped.subarray(12, 44)), d.final()]), dataKey);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', shared, iv);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(dataKey), c.final()]);
  assert.deepEqual(inHsm.unwrap(Buffer.concat([iv, body, c.getAuthTag()]), aad), dataKey);
});
