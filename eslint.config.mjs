// Lint: typescript-eslint with type information (no floating promises), and the layer rule:
// only src/host (and the composition root) imports vscode; src/core imports no other src/ folder.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['.probe-tmp/**', 'dist/**', 'out/**', 'node_modules/**', 'src/providers/codex/protocol/**', 'test/fixtures/helper-extension/dist/**', '**/*.mjs', '**/*.js'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Only src/host/, src/extension.ts and src/container.ts may import the editor.
    files: ['src/**/*.ts'],
    ignores: ['src/host/**', 'src/extension.ts', 'src/container.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Only src/host/ (and extension.ts, container.ts) may depend on the editor: put editor glue in src/host.' }] }],
    },
  },
  {
    // Core owns its ports and imports no other src/ folder (nor vscode).
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'core/ must not depend on the editor.' }],
          patterns: [{ regex: '^\\.\\./', message: 'core/ imports no other src/ folder: declare what it needs in core/ports.ts.' }],
        },
      ],
    },
  },
);
