import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Workflow code is replayed: it must not do I/O or read the clock, so Node
// built-ins and database drivers are banned from workflows/.
const banned = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  'pg',
  'pg-*',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.godwit/**', 'dist/**', 'coverage/**', 'test/replay/histories/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // scripts/build.ts bundles the SDK's client side into the CLI as CommonJS, which import()
    // then sees as a default export only: named exports taken from import() are undefined there.
    files: ['src/**/*.ts', 'activities/**/*.ts', 'worker/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression[source.value=/^@temporalio\\/(client|common|proto|workflow)$/]",
          message: "the CLI bundles this package as CommonJS, so import() gives it a default export only: import it statically in a module that is itself loaded lazily (src/client/connect.ts re-exports the SDK's error classes)",
        },
      ],
    },
  },
  {
    // The contract and the error base class are imported by workflow code too.
    files: ['workflows/**/*.ts', 'src/lifecycle/**/*.ts', 'src/contract/**/*.ts', 'src/errors.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: banned.map((group) => ({ group: [group], message: 'workflow code must stay deterministic: no I/O, no Node built-ins, no pg' })) }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'setInterval', 'fetch'],
    },
  },
);
