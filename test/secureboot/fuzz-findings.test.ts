// Regression tests for what `make fuzz` found in the Secure Boot parsers (fuzz/targets/), each with
// the input the fuzzer wrote, under fuzz-findings/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePe, peSectionContent, SecureBootError } from '../../src/secureboot/index.ts';

const finding = (name: string): Uint8Array => new Uint8Array(readFileSync(join(import.meta.dirname, 'fuzz-findings', name)));

test('fuzz pe: a 3 KiB image whose .sbat section claims a VirtualSize of 469 MB (past its SizeOfImage of 32 MB) is refused, not mapped and parsed', () => {
  const pe = parsePe(finding('sbat-virtual-size-469mb.efi'));
  assert.throws(
    () => peSectionContent(pe, '.sbat'),
    (e: unknown) => e instanceof SecureBootError && e.code === 'ERR_SECUREBOOT_PE_MALFORMED',
  );
});
