// Type-level pins of the command API (checked by `tsc`; the runtime part only keeps the file a test):
// run(cmd, args) takes handles and parameters by name and infers the response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandArgs, CommandResponse } from '../../src/tpm/commands.ts';
import { CreatePrimary, PCR_Read, Quote, StartAuthSession } from '../../src/tpm/commands.ts';
import type { Infer, Sized } from '../../src/tpm/schema/index.ts';
import type { TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, TPMA_OBJECT } from '../../src/tpm/structures.ts';
import type { Equal, Expect } from '../helpers/type-equal.ts';

export type Pins = [
  Expect<Equal<keyof CommandResponse<typeof Quote>, 'quoted' | 'signature'>>,
  Expect<Equal<CommandResponse<typeof Quote>['quoted'], Sized<TPMS_ATTEST>>>,
  Expect<Equal<CommandResponse<typeof Quote>['signature'], TPMT_SIGNATURE>>,
  Expect<Equal<keyof CommandResponse<typeof CreatePrimary>, 'objectHandle' | 'outPublic' | 'creationData' | 'creationHash' | 'creationTicket' | 'name'>>,
  Expect<Equal<CommandResponse<typeof StartAuthSession>['sessionHandle'], number>>,
  Expect<Equal<keyof CommandArgs<typeof Quote>, 'signHandle' | 'qualifyingData' | 'inScheme' | 'PCRselect'>>,
  Expect<Equal<keyof CommandArgs<typeof PCR_Read>, 'pcrSelectionIn'>>,
  Expect<Equal<TPMT_PUBLIC['objectAttributes'], Infer<typeof import('../../src/tpm/structures.ts').TPMA_OBJECT>>>,
  Expect<Equal<TPMA_OBJECT['restricted'], boolean>>,
];

// @ts-expect-error the sign handle is required
export const missingHandle: CommandArgs<typeof Quote> = { qualifyingData: new Uint8Array(), inScheme: { scheme: 0x0010, details: null }, PCRselect: [] };

test('command API types are pinned by tsc', () => {
  assert.equal(Quote.authCount, 1);
  assert.deepStrictEqual(CreatePrimary.responseHandles, ['objectHandle']);
});
