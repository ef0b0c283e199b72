// What `vouch verify quote --ak` accepts (TPM2B_PUBLIC, bare TPMT_PUBLIC, PEM or DER
// SubjectPublicKeyInfo), then used to check a real quote: key decoding, the AK attribute and
// scheme checks, and signature verification with whatever key the bytes describe.
import { attestationKey } from '../../src/cli/commands/verify.ts';
import { checkQuote } from '../../src/verifier/index.ts';
import type { QuoteToVerify } from '../../src/verifier/index.ts';

export { VouchError } from './typed.ts';

let quote: Omit<QuoteToVerify, 'ak'> | undefined;

export function prepare(setup: Omit<QuoteToVerify, 'ak'>): void {
  quote = setup;
}

export function fuzzOne(data: Uint8Array): void {
  checkQuote({ ...quote!, ak: attestationKey(data, 'ak.pub') });
}
