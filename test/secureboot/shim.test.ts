// SBAT metadata and shim's vendor certificate, from the real shim, GRUB and systemd binaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { parsePe, parseSbat, parseSbatLevel, peSbat, sbatRevocations, shimSbatLevels, shimVendorCertificates } from '../../src/secureboot/index.ts';
import { readReal, realBinaries, typedErrorsOnly } from './fixtures.ts';

test('.sbat of shim, GRUB and the systemd stub: the first record is the SBAT format version', (t) => {
  for (const [path, component] of [
    [realBinaries.shim, 'shim'],
    [realBinaries.grub, 'grub'],
    [realBinaries.linuxStub, 'systemd'],
  ] as const) {
    const bytes = readReal(t, path);
    if (!bytes) return;
    const sbat = peSbat(parsePe(bytes))!;
    assert.deepEqual(sbat[0], {
      component: 'sbat',
      generation: 1,
      vendorName: 'SBAT Version',
      vendorPackageName: 'sbat',
      vendorVersion: '1',
      vendorUrl: 'https://github.com/rhboot/shim/blob/main/SBAT.md',
    });
    assert.ok(
      sbat.some((e) => e.component === component || e.component.startsWith(`${component}.`)),
      `${path}: ${JSON.stringify(sbat)}`,
    );
  }
});

test("shim's .vendor_cert holds the Debian Secure Boot CA", (t) => {
  const bytes = readReal(t, realBinaries.shim);
  if (!bytes) return;
  const vendor = shimVendorCertificates(parsePe(bytes))!;
  const ca = new X509Certificate(Buffer.from(vendor.authorized));
  assert.equal(ca.subject, 'CN=Debian Secure Boot CA');
  assert.equal(ca.ca, true);
});

test('SBAT CSV: optional fields, CRLF, NUL padding; malformed lines are typed errors', () => {
  const text = 'sbat,1,SBAT Version,sbat,1,https://example/SBAT.md\r\nvouch,2\n\n';
  const padded = new Uint8Array(128);
  padded.set(Buffer.from(text));
  assert.deepEqual(parseSbat(padded)[1], { component: 'vouch', generation: 2 });
  const malformed = { code: 'ERR_SECUREBOOT_SBAT_MALFORMED' };
  assert.throws(() => parseSbat(Buffer.from('vouch\n')), malformed);
  assert.throws(() => parseSbat(Buffer.from('vouch,0\n')), malformed);
  assert.throws(() => parseSbat(Buffer.from('vouch,x\n')), malformed);
  assert.throws(() => parseSbat(Buffer.from('a,1,2,3,4,5,6\n')), malformed);
  assert.throws(() => parseSbat(new Uint8Array([0x61, 0x2c, 0x31, 0, 0x41])), malformed);
  assert.throws(() => parseSbat(new Uint8Array([0x61, 0x2c, 0x31, 0xff])), malformed);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      typedErrorsOnly(() => parseSbat(bytes));
      return true;
    }),
  );
});

test("SBAT levels: shim's built-in latest level does not revoke the current Debian GRUB; a lower generation is revoked", (t) => {
  const shim = readReal(t, realBinaries.shim);
  const grub = readReal(t, realBinaries.grub);
  if (!shim || !grub) return;
  const levels = shimSbatLevels(parsePe(shim))!;
  assert.match(levels.latest.datestamp ?? '', /^20[0-9]{8}$/);
  assert.ok(levels.latest.minimumGenerations.some((m) => m.component === 'grub'));
  const grubSbat = peSbat(parsePe(grub))!;
  assert.deepEqual(sbatRevocations(grubSbat, levels.latest), []);
  assert.deepEqual(sbatRevocations(grubSbat, levels.previous), []);
  const minimum = levels.latest.minimumGenerations.find((m) => m.component === 'grub')!.generation;
  const old = grubSbat.map((e) => (e.component === 'grub' ? { ...e, generation: minimum - 1 } : e));
  assert.deepEqual(sbatRevocations(old, levels.latest), [{ component: 'grub', generation: minimum - 1, minimumGeneration: minimum }]);
  assert.throws(() => parseSbatLevel(Buffer.from('grub,3\n')), { code: 'ERR_SECUREBOOT_SBAT_MALFORMED' });
});
