// Lint: mostly TypeScript's own checks, plus the layering rules of DESIGN.md.
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', '.cache/', 'renderer/dist/', 'resources/'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-debugger': 'error',
    },
  },
  {
    // app/ runs in plain Node: no Electron, no Svelte, no DOM.
    files: ['app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['electron', 'electron/*'], message: 'app/ must not import Electron (it runs in plain Node).' },
          { group: ['svelte', 'svelte/*', '*.svelte'], message: 'app/ must not import Svelte.' },
          { group: ['**/renderer/**', '**/main/**'], message: 'app/ must not import the UI or the Electron shell.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'window', message: 'app/ has no DOM.' },
        { name: 'document', message: 'app/ has no DOM.' },
        { name: 'localStorage', message: 'app/ has no DOM.' },
      ],
    },
  },
  ...svelte.configs.base,
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // The renderer talks to the back end only through the contract.
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte.ts', 'renderer/**/*.svelte'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/app/*', '!**/app/contract', '!**/app/contract/**'], message: 'renderer/ may import only app/contract.' },
          { group: ['electron', 'node:*', 'onnxruntime-node', 'better-sqlite3'], message: 'renderer/ runs in the browser.' },
        ],
      }],
    },
  },
);
