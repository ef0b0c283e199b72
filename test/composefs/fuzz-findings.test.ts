// Regression tests for what `make fuzz` found in the composefs parsers (fuzz/targets/), each with
// the minimised input the fuzzer wrote, under fuzz-findings/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buildTreeFromTarLayers, ComposefsError } from '../../src/composefs/index.ts';

const finding = (name: string): Uint8Array => new Uint8Array(readFileSync(join(import.meta.dirname, 'fuzz-findings', name)));

for (const [name, what] of [
  ['corrupt-gzip-layer.bin', 'a gzip layer whose compressed data is corrupt'],
  ['corrupt-zstd-layer.bin', 'a zstd layer whose compressed data is corrupt'],
  ['truncated-gzip-layer.bin', 'a gzip layer cut short after its header'],
] as const) {
  test(`fuzz tar: ${what} is refused with ERR_COMPOSEFS_TAR_INVALID, not a bare zlib Error`, async () => {
    const layer = Readable.from([finding(name)]) as AsyncIterable<Uint8Array>;
    await assert.rejects(buildTreeFromTarLayers([layer]), (e: unknown) => e instanceof ComposefsError && e.code === 'ERR_COMPOSEFS_TAR_INVALID');
  });
}
