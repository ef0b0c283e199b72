// Boot profiles: what is accepted, what is refused (with the field named), and that no input —
// random values, random JSON — gets anything but a typed PredictError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PredictError, parseBootProfile, predict, profileArtifacts } from '../../src/predict/index.ts';
import { isVouchError } from '../../src/errors/index.ts';

function rejects(value: unknown, field: RegExp): void {
  assert.throws(
    () => parseBootProfile(value),
    (e: unknown) => e instanceof PredictError && e.code === 'ERR_PREDICT_PROFILE' && field.test(String(e.details.field)),
  );
}

test('a full profile parses with defaults filled in', () => {
  const p = parseBootProfile({
    firmware: { variableStore: 'OVMF_VARS.fd', variables: { dbx: { absent: true } } },
    chain: [
      { kind: 'shim', image: 'shimx64.efi', mokList: { hex: 'AB' } },
      { kind: 'grub', image: 'grubx64.efi', commands: ['set a=b'], files: [{ path: 'grub.cfg' }], dialect: 'rhel' },
      { kind: 'linux', image: { authenticode: { sha256: '00'.repeat(32) } }, authority: 'none', cmdline: 'ro', initrd: 'initrd.img' },
    ],
  });
  assert.deepEqual(p.banks, ['sha1', 'sha256']);
  assert.equal(p.firmware.secureBoot, true);
  assert.equal(p.firmware.earlierBootAttempts, 0);
  assert.deepEqual(p.chain[0], {
    kind: 'shim',
    image: { file: 'shimx64.efi' },
    authority: { kind: 'auto' },
    mokList: { hex: 'ab' },
    vendorCertAuthority: 'MokListRT',
  });
  assert.equal(p.chain[1]!.kind === 'grub' && p.chain[1]!.kernelLoadImage, true);
  assert.deepEqual(profileArtifacts(p).sort(), ['OVMF_VARS.fd', 'grub.cfg', 'grubx64.efi', 'initrd.img', 'shimx64.efi']);
  const uki = parseBootProfile({ chain: [{ kind: 'uki', image: 'a.efi' }] }).chain[0]!;
  assert.equal(uki.kind === 'uki' && uki.stubVersion, 252);
});

test('mistakes are refused with the field that is wrong', () => {
  rejects({ chain: [] }, /^chain$/);
  rejects({ chian: [] }, /^profile\.chian$/);
  rejects({ banks: ['md5'], chain: [{ kind: 'uki', image: 'a' }] }, /^banks$/);
  rejects({ chain: [{ kind: 'bios', image: 'a' }] }, /^chain\[0\]\.kind$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', cmdline: 'x' }] }, /^chain\[0\]\.cmdline$/);
  rejects({ chain: [{ kind: 'uki', image: { authenticode: {} } }] }, /^chain\[0\]\.image$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', phases: ['boot'] }] }, /^chain\[0\]\.phases$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', path: 'EFI/BOOT/BOOTX64.EFI' }] }, /^chain\[0\]\.path$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', path: `\\${'a'.repeat(2000)}` }] }, /^chain\[0\]\.path$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', path: 7 }] }, /^chain\[0\]\.path$/);
  rejects({ chain: [{ kind: 'uki', image: 'a', stubVersion: 249 }] }, /^chain\[0\]\.stubVersion$/);
  rejects({ chain: [{ kind: 'efi-application', image: { file: 'a', authenticode: {} } }] }, /^chain\[0\]\.image$/);
  rejects({ chain: [{ kind: 'linux', image: 'a', initrd: { hex: 'abc' } }] }, /^chain\[0\]\.initrd\.hex$/);
  rejects({ firmware: { earlierBootAttempts: -1 }, chain: [{ kind: 'uki', image: 'a' }] }, /^firmware\.earlierBootAttempts$/);
  rejects({ firmware: { variables: { PK: { file: 'a', hex: '00' } } }, chain: [{ kind: 'uki', image: 'a' }] }, /^firmware\.variables\.PK$/);
  rejects({ chain: [{ kind: 'shim', image: 'a', authority: { variable: 'db', vendorGuid: 'x', data: 'f' } }] }, /^chain\[0\]\.authority\.vendorGuid$/);
  rejects('chain: []', /^profile$/);
});

test('prediction errors are typed: missing artifact, missing bank digest, digest-only image without authority, db that is not a signature list', () => {
  const byDigest = parseBootProfile({
    banks: ['sha384'],
    firmware: { secureBoot: false },
    chain: [{ kind: 'efi-application', image: { authenticode: { sha256: '00'.repeat(32) } } }],
  });
  assert.throws(
    () => predict(byDigest, new Map()),
    (e: unknown) => e instanceof PredictError && e.code === 'ERR_PREDICT_DIGEST_MISSING',
  );
  const needsFile = parseBootProfile({ chain: [{ kind: 'uki', image: 'missing.efi' }] });
  assert.throws(
    () => predict(needsFile, new Map()),
    (e: unknown) => e instanceof PredictError && e.code === 'ERR_PREDICT_ARTIFACT',
  );
  const digestNeedsAuthority = parseBootProfile({
    chain: [{ kind: 'efi-application', image: { authenticode: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } } }],
  });
  assert.throws(
    () => predict(digestNeedsAuthority, new Map()),
    (e: unknown) => e instanceof PredictError && e.code === 'ERR_PREDICT_NO_AUTHORITY',
  );
  const badDb = parseBootProfile({
    firmware: { variables: { db: { hex: '0102' } } },
    chain: [{ kind: 'efi-application', image: { authenticode: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } }, authority: 'none' }],
  });
  assert.throws(
    () => predict(badDb, new Map()),
    (e: unknown) => e instanceof PredictError && e.code === 'ERR_PREDICT_ARTIFACT',
  );
});

test('Secure Boot off: no authority events, SecureBoot measured as 00', () => {
  const p = predict(
    parseBootProfile({
      banks: ['sha256'],
      firmware: { secureBoot: false },
      chain: [{ kind: 'efi-application', image: { authenticode: { sha256: 'ab'.repeat(32) } } }],
    }),
    new Map(),
  );
  assert.equal(p.events.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY').length, 0);
  assert.match(p.events[0]!.data!, /^61dfe48bca93d211aa0d00e098032b8c0a00000000000000010000000000000053006500630075007200650042006f006f007400(00)$/);
});

test('fuzz: any JSON value is a profile or a typed error', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      try {
        parseBootProfile(value);
      } catch (e) {
        assert.ok(isVouchError(e) && e.code === 'ERR_PREDICT_PROFILE', String(e));
      }
    }),
    { numRuns: 500 },
  );
  const stage = fc.record(
    {
      kind: fc.constantFrom('efi-application', 'systemd-boot', 'shim', 'grub', 'linux', 'uki', 'other'),
      image: fc.oneof(
        fc.string(),
        fc.record({
          authenticode: fc.dictionary(fc.constantFrom('sha1', 'sha256', 'md5'), fc.string({ unit: fc.constantFrom(...'0123456789abcdefg'.split('')) })),
        }),
        fc.integer(),
      ),
      authority: fc.oneof(fc.constant('auto'), fc.constant('none'), fc.anything()),
      commands: fc.array(fc.string()),
      cmdline: fc.string(),
      phases: fc.array(fc.constantFrom('ready', 'sysinit', 'nope')),
    },
    { requiredKeys: ['kind'] },
  );
  fc.assert(
    fc.property(fc.record({ banks: fc.array(fc.constantFrom('sha1', 'sha256', 'sha512', 'crc')), chain: fc.array(stage, { maxLength: 4 }) }), (value) => {
      try {
        predict(parseBootProfile(value), new Map());
      } catch (e) {
        assert.ok(isVouchError(e) && e.code.startsWith('ERR_'), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
