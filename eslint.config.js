// Type-aware linting (typescript-eslint's strict-type-checked set on top of ESLint's recommended
// rules): floating promises, unsafe `any` flows and conditions that can never change hide real bugs
// in code that parses untrusted bytes. Formatting is prettier's job, not ESLint's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/**', 'test/vectors/**', 'build/**', 'dist/**', 'web/dist/**'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      // The two JavaScript files (this one and bin/vouch.js) are outside tsconfig.json, which takes
      // TypeScript only; the project service types them with its default program.
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/vouch.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // With noUncheckedIndexedAccess every indexed read is typed `T | undefined`; where a bounds
      // check or a parser invariant already proved presence, `!` states that at the site, and tsc
      // still makes each site decide. Forbidding it would force dead `if` branches instead.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans print as expected in messages; objects and nullish values do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `const { kind: _kind, ...rest } = x` is how a copy leaves a key out; the named key is unused by design.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // TypeScript resolves every name in these files (see above); ESLint's no-undef knows no Node globals.
    files: ['**/*.js'],
    rules: { 'no-undef': 'off' },
  },
);
