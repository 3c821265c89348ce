// Flat config: typescript-eslint recommended rules plus the import map of docs/ARCHITECTURE.md
// (docs/import-map.json, checked by lint/import-map-rule.js).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importMapRule } from './lint/import-map-rule.js';

const importMap = JSON.parse(readFileSync(new URL('./docs/import-map.json', import.meta.url), 'utf8'));
const srcDir = fileURLToPath(new URL('./src', import.meta.url));

export default tseslint.config(
  { ignores: ['dist/', 'build-check/', 'build-bench/', 'node_modules/', 'coverage/', '.shardline/', 'native/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'no wildcard exports: name what the module exports' }],
    },
  },
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' } },
  {
    files: ['src/**/*.ts'],
    plugins: { shardline: { rules: { 'import-map': importMapRule } } },
    rules: { 'shardline/import-map': ['error', { map: importMap, srcDir }] },
  },
);
