// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Layers that must not reach outward (see docs/ARCHITECTURE.md). */
const inwardOnly = (/** @type {string[]} */ forbidden, /** @type {string} */ why) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: forbidden.map((group) => ({ group: [group], message: why })),
    },
  ],
});

/** no-restricted-imports with these pattern groups. */
const restricted = (/** @type {{ group: string[], message: string }[]} */ patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

const adapterOutward = ['**/http/**', '**/services/**', '**/cli/**', '**/app/**', '**/config.js'];
const adaptersWhy = 'adapters implement ports and take their settings as arguments';
const engineWhy = 'one storage engine never imports the other: move what both use to adapters/storage/sql';

const newAppError = {
  selector: "NewExpression[callee.name='AppError']",
  message: 'build errors with errors.<CODE>(...) from src/contracts/errors.ts',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-artifacts/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['src/domain/**/*.ts', 'src/contracts/**/*.ts'],
    rules: inwardOnly(
      [
        '**/adapters/**',
        '**/http/**',
        '**/services/**',
        '**/engine/**',
        '**/jobs/**',
        '**/cli/**',
        '**/app/**',
        'node:fs',
        'node:fs/*',
        'node:http',
        'node:worker_threads',
        'fastify',
        'better-sqlite3',
        'kysely',
        'pg',
      ],
      'domain and contracts hold pure rules: no adapters, I/O or frameworks',
    ),
  },
  {
    files: ['src/services/**/*.ts', 'src/engine/**/*.ts', 'src/jobs/**/*.ts'],
    rules: inwardOnly(
      ['**/adapters/**', '**/http/**', '**/cli/**', '**/app/**', 'fastify', 'better-sqlite3', 'pg', 'kysely'],
      'services see storage only through src/ports; only src/app picks adapters',
    ),
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: inwardOnly(adapterOutward, adaptersWhy),
  },
  // No engine is built from the other's classes: what both share lives in adapters/storage/sql (issue 13).
  // These blocks replace the adapters' rule for their files, so they repeat its patterns.
  {
    files: ['src/adapters/storage/postgres/**/*.ts'],
    rules: restricted([
      { group: adapterOutward, message: adaptersWhy },
      { group: ['**/storage/sqlite/**', '../sqlite/*'], message: engineWhy },
    ]),
  },
  {
    files: ['src/adapters/storage/sqlite/**/*.ts'],
    rules: restricted([
      { group: adapterOutward, message: adaptersWhy },
      { group: ['**/storage/postgres/**', '../postgres/*'], message: engineWhy },
    ]),
  },
  {
    // The shared modules stay engine-neutral, or an engine would reach the other through them.
    files: ['src/adapters/storage/sql/**/*.ts'],
    rules: restricted([
      { group: adapterOutward, message: adaptersWhy },
      {
        group: ['**/storage/sqlite/**', '**/storage/postgres/**', '../sqlite/*', '../postgres/*'],
        message: 'adapters/storage/sql is shared by both engines: it takes their differences as options',
      },
    ]),
  },
  {
    // The SDK and the dashboard run in browsers too: only `fetch` and the web platform, no server code.
    files: ['src/sdk/**/*.ts', 'web/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fastify', '**/adapters/**', '**/services/**', '**/engine/**', '**/jobs/**'],
              message: 'the SDK and the dashboard run in browsers: no Node modules or server code',
            },
            {
              group: ['**/http/**', '**/app/**', '**/cli/**', '**/domain/**', '**/config.js'],
              message: 'no server code',
            },
            {
              group: ['typebox', '**/contracts/data-api.js', '**/contracts/backups-api.js'],
              allowTypeImports: true,
              message: 'schemas load typebox at run time: import their types only',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'configuration is parsed once in src/config.ts' },
      ],
    },
  },
  {
    // One error per code: its message and data are written once, in the registry (issue 13), and a job's
    // failure once per code in src/engine/job-failure.ts.
    files: ['src/**/*.ts'],
    ignores: ['src/contracts/errors.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        newAppError,
        {
          selector: "NewExpression[callee.name='JobFailure']",
          message: 'build job failures with jobFailures.<CODE>(...) from src/engine/job-failure.ts',
        },
      ],
    },
  },
  {
    files: ['src/engine/job-failure.ts'],
    rules: { 'no-restricted-syntax': ['error', newAppError] },
  },
  {
    // Tests read JSON response bodies (typed `any`) and use node:test's describe/it, whose promises the
    // runner itself awaits.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
  },
);
