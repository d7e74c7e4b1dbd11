// Lint with the TypeScript type checker (typescript-eslint's recommendedTypeChecked):
// floating and misused promises, awaits of non-promises and unsafe `any` are found from types.
// Layout is Prettier's job, so eslint-config-prettier (last) turns off every rule it owns.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // src/format/generated/, src/store/generated/: ajv's compiled validators, written by `npm run schema` (tests check they are current).
  { ignores: ['dist/', 'runs/', '.scratch/', 'src/format/generated/', 'src/store/generated/'] },
  {
    files: ['{src,test,bench,scripts}/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test runs a top-level test()/describe() whether or not its promise is awaited;
          // a subtest (t.test) is still reported, since its parent can finish without it.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      // `_name` marks a value left out on purpose (rest destructuring to drop a field, an unused callback argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `async` without `await` implements a Promise-returning interface (BatchSource.batch, a task executor):
      // dropping it would turn a rejection into a synchronous throw.
      '@typescript-eslint/require-await': 'off',
      // Passing on a caught error (`.catch((e: unknown) => ... Promise.reject(e))`) is not inventing a non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // String(value) turns commander's and JSON's `unknown` values into text, and TypeScript narrows a truthy `unknown`
      // to `{}`, which this rule always reports; objects in template literals stay caught by restrict-template-expressions.
      '@typescript-eslint/no-base-to-string': 'off',
      // tfjs ops are generic in their result, so its idiom `tf.op(...) as tf.Tensor4D` is reported here (wanting
      // `tf.op<...>(...)`), as is `import('@tensorflow/tfjs-node' as string)`, which keeps an optional module unresolved.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // The terminal-text sanitizer (and the tests of what it strips) match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read run folders back with JSON.parse (`any`) and hand deliberately malformed values to the
    // code under test; the assertions are the check there, so `any` flowing through them is expected.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  prettier,
);
