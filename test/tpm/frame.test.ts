// Command and response framing, both directions (the client and the software TPM share it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allCommandSchemas, GetRandom, Quote } from '../../src/tpm/commands.ts';
import { decodeCommand, decodeResponseFrame, decodeResponseParams, encodeCommandFrame, encodeErrorResponse, encodeResponseFrame } from '../../src/tpm/frame.ts';
import { encode, type AnySchema } from '../../src/tpm/schema/index.ts';
import { TPMS_AUTH_COMMAND, TPMS_AUTH_RESPONSE } from '../../src/tpm/structures.ts';
import { TpmError } from '../../src/tpm/errors.ts';
import { TpmRcError } from '../../src/tpm/rc.ts';
import { arbitraryOf } from './schema-arbitrary.ts';

const authCommand = arbitraryOf(TPMS_AUTH_COMMAND) as fc.Arbitrary<ReturnType<typeof TPMS_AUTH_COMMAND.read>>;
const authResponse = arbitraryOf(TPMS_AUTH_RESPONSE) as fc.Arbitrary<ReturnType<typeof TPMS_AUTH_RESPONSE.read>>;

test('every command: encodeCommandFrame → decodeCommand gives back handles, sessions and parameters', () => {
  for (const cmd of allCommandSchemas) {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: cmd.handles.length, maxLength: cmd.handles.length }),
        fc.array(authCommand, { maxLength: 3 }),
        arbitraryOf(cmd.params as AnySchema),
        (handles, sessions, params) => {
          const paramBytes = encode(cmd.params as AnySchema, params);
          const d = decodeCommand(encodeCommandFrame(cmd.code, handles, sessions, paramBytes));
          assert.equal(d.schema, cmd);
          assert.deepStrictEqual(d.handles, handles);
          assert.deepStrictEqual(d.sessions, sessions);
          assert.deepStrictEqual(d.paramBytes, paramBytes);
          assert.deepStrictEqual(d.params, params);
        },
      ),
      { numRuns: 15 },
    );
  }
});

test('every command: encodeResponseFrame → decodeResponseFrame/Params gives back the response', () => {
  for (const cmd of allCommandSchemas) {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: cmd.responseHandles.length, maxLength: cmd.responseHandles.length }),
        fc.array(authResponse, { maxLength: 3 }),
        arbitraryOf(cmd.response as AnySchema),
        (handles, sessions, params) => {
          const paramBytes = encode(cmd.response as AnySchema, params);
          const frame = decodeResponseFrame(cmd, encodeResponseFrame(handles, paramBytes, sessions.length ? sessions : null), sessions.length);
          assert.deepStrictEqual(frame.sessions, sessions);
          const r = decodeResponseParams(cmd, frame) as Record<string, unknown>;
          cmd.responseHandles.forEach((name, i) => assert.equal(r[name], handles[i]));
        },
      ),
      { numRuns: 15 },
    );
  }
});

test('an error response becomes ERR_TPM_RC with the decoded code', () => {
  assert.throws(
    () => decodeResponseFrame(Quote, encodeErrorResponse(0x09d + 0x100), 1),
    (e: unknown) => {
      assert.ok(e instanceof TpmRcError);
      assert.equal(e.details.rcName, 'TPM_RC_POLICY_FAIL');
      assert.equal(e.details.handle, 1);
      return true;
    },
  );
});

test('malformed commands and responses: typed errors only', () => {
  const valid = encodeCommandFrame(GetRandom.code, [], [], encode(GetRandom.params, { bytesRequested: 8 }));
  const goodResponse = encodeResponseFrame([], encode(GetRandom.response, { randomBytes: new Uint8Array(8) }), null);
  const mutate = (b: Uint8Array) =>
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
      const out = b.slice();
      for (const [at, v] of edits) out[at % out.length] = v;
      return out;
    });
  const typedOnly = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof TpmError, `untyped error ${(e as Error).message}`);
    }
  };
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutate(valid)), (b) => typedOnly(() => decodeCommand(b))));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutate(goodResponse)), (b) =>
      typedOnly(() => decodeResponseParams(GetRandom, decodeResponseFrame(GetRandom, b, 0))),
    ),
  );
  for (let n = 0; n < valid.length; n++) assert.throws(() => decodeCommand(valid.subarray(0, n)), TpmError);
  assert.throws(() => decodeCommand(encodeCommandFrame(0x12345678, [], [], new Uint8Array())), { code: 'ERR_TPM_UNKNOWN_COMMAND' });
});
