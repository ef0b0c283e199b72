import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRc, describeRc, TPM_RC, TpmRcError } from '../../src/tpm/rc.ts';
import { TPM_CC } from '../../src/tpm/constants.ts';

test('format-1 codes name the parameter, handle or session', () => {
  // TPM_RC_VALUE + TPM_RC_P + TPM_RC_2 (Part 2, 6.6.3)
  assert.equal(describeRc(0x084 + 0x040 + 0x200), 'TPM_RC_VALUE (parameter 2)');
  // TPM_RC_BAD_AUTH + TPM_RC_S + TPM_RC_1: session 1
  assert.equal(describeRc(0x0a2 + 0x800 + 0x100), 'TPM_RC_BAD_AUTH (session 1)');
  // TPM_RC_HANDLE + TPM_RC_H + TPM_RC_1
  assert.equal(describeRc(0x08b + 0x100), 'TPM_RC_HANDLE (handle 1)');
  assert.equal(describeRc(0x09d), 'TPM_RC_POLICY_FAIL');
  assert.equal(decodeRc(0x98e).name, 'TPM_RC_AUTH_FAIL');
  assert.equal(decodeRc(0x98e).session, 1);
});

test('format-0 errors and warnings', () => {
  assert.equal(decodeRc(0x100).name, 'TPM_RC_INITIALIZE');
  assert.equal(decodeRc(0x14c).name, 'TPM_RC_NV_DEFINED');
  assert.equal(decodeRc(0x922).name, 'TPM_RC_RETRY');
  assert.equal(decodeRc(0x922).warning, true);
  assert.equal(decodeRc(0x902).name, 'TPM_RC_OBJECT_MEMORY');
  assert.equal(decodeRc(0x01e).name, 'TPM_RC_BAD_TAG');
  assert.equal(decodeRc(0x000b0005).layer, 0x0b);
  assert.equal(TPM_RC.POLICY_FAIL, 0x09d);
  assert.equal(TPM_RC.RETRY, 0x922);
});

test('every code decodes to a name and a base that re-decodes to itself', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), (rc) => {
      const d = decodeRc(rc);
      assert.match(d.name, /^TPM_(1\.2_)?RC_/);
      if (!d.tpm12) assert.equal(decodeRc(d.base).base, d.base);
    }),
  );
});

test('TpmRcError carries the decoded code for callers and the CLI', () => {
  const e = new TpmRcError(0x09d, TPM_CC.Unseal);
  assert.equal(e.code, 'ERR_TPM_RC');
  assert.equal(e.details.rcName, 'TPM_RC_POLICY_FAIL');
  assert.match(e.message, /TPM2_Unseal failed: TPM_RC_POLICY_FAIL/);
});
