// The policy examples in docs/policy.md are real policies: each YAML block compiles.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compileStoredPolicy } from '../../src/server/catalog.ts';
import { repoRoot } from '../helpers/cli.ts';

test('every policy in docs/policy.md compiles', () => {
  const doc = readFileSync(`${repoRoot}/docs/policy.md`, 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2);
  for (const block of blocks) assert.ok(compileStoredPolicy(block).document.rules.length > 0, block);
});
