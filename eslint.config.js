// Flat config: typescript-eslint recommended rules plus the import boundaries of DESIGN.md §2.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const mysqlAndNative = ['mysql2', 'mysql2/*', '**/native/build/**', '**/native/lib/**', '**/net/native-*'];
const io = ['node:fs', 'node:net', 'node:tls', 'node:child_process', 'node:http', 'fs', 'net', 'tls', 'child_process', 'http'];

/** One boundary: files under `folder` may not import the given module patterns. */
const boundary = (folder, patterns, message) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
  },
});

export default tseslint.config(
  { ignores: ['dist/', 'build-check/', 'build-bench/', 'node_modules/', 'coverage/', '.shardline/', 'native/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'no wildcard exports: name what the module exports' }],
    },
  },
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' } },
  boundary('errors', ['../*', '!./*'], 'errors/ imports nothing (DESIGN.md §2)'),
  boundary('shard', [...mysqlAndNative, ...io, '**/net/**', '**/pool/**', '**/executor/**'], 'shard/ is pure: no I/O, no mysql2 (DESIGN.md §2)'),
  boundary('sql', [...mysqlAndNative, ...io, '**/net/**', '**/pool/**', '**/executor/**'], 'sql/ is pure: no I/O, no mysql2 (DESIGN.md §2)'),
  ...['config', 'devcluster', 'cli', 'log', 'metrics', 'pool', 'executor', 'router', 'cdc'].map((folder) =>
    boundary(folder, mysqlAndNative, 'only src/net/ imports mysql2 or the native binding (DESIGN.md §2)'),
  ),
  {
    files: ['src/cdc/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: [...mysqlAndNative, '**/router/**', '**/executor/**'], message: 'cdc/ never imports the router (DESIGN.md §2)' }] }],
    },
  },
  {
    files: ['src/router/**/*.ts', 'src/executor/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: [...mysqlAndNative, '**/cdc/**'], message: 'the router never imports cdc/ (DESIGN.md §2)' }] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/**', '../cli/*'], message: 'nothing imports cli/ (DESIGN.md §2)' }] }],
    },
  },
);
