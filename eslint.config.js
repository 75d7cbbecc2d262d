// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that do I/O, keep time or hold global state: never in a pure core. */
const impureModules = [
  'node:net', 'node:dgram', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:http2',
  'node:child_process', 'node:timers', 'node:timers/promises', 'node:os', 'node:worker_threads',
  'net', 'dgram', 'fs', 'fs/promises', 'http', 'https', 'child_process', 'timers', 'os',
  '@kubernetes/client-node', 'prom-client', 'pino', 'raw-socket',
].map((name) => ({ name, message: 'Pure cores do no I/O: take a port or a value instead (DESIGN.md "Layout").' }));

/** Folder-level patterns: which of our layers a folder may not import. */
const layer = (/** @type {string[]} */ forbidden) =>
  forbidden.map((dir) => ({ group: [`**/${dir}/*`, `**/${dir}`], message: `This layer may not import ${dir}/ (dependencies point inward).` }));

const impureGlobals = ['setTimeout', 'setInterval', 'setImmediate', 'process', 'fetch'].map((name) => ({
  name,
  message: 'Pure cores take time and environment as parameters (Clock, flags), never from globals.',
}));

const outer = ['cli', 'sandbox', 'k8s', 'obs', 'sys', 'controller', 'speaker', 'layer2'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'coverage/**', '.bench/**', 'eslint.config.js', 'bin/**', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // client-node's models are classes that hold plain data; its API takes object literals for them.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      complexity: ['error', 10],
      'max-depth': ['error', 3],
      'no-restricted-imports': ['error', { patterns: layer(['cli']) }],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['ip', 'config', 'ipam', 'election', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/ip/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['config', 'ipam', 'election', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['ipam', 'election', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/ipam/**/*.ts', 'src/election/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(outer) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    // What a Service means to ironlb: pure, between the allocator's terms and the processes.
    files: ['src/service/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['config', 'election', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/layer2/packet/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['config', 'ipam', 'election', ...outer.filter((d) => d !== 'layer2')]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    // Only k8s/ speaks to the Kubernetes API client; controller/ and speaker/ declare ports.
    files: ['src/controller/**/*.ts', 'src/speaker/**/*.ts', 'src/layer2/**/*.ts', 'src/obs/**/*.ts', 'src/sys/**/*.ts'],
    ignores: ['src/layer2/packet/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@kubernetes/client-node', message: 'Only src/k8s/ imports the Kubernetes client.' }],
        patterns: layer(['cli', 'sandbox']),
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests use non-null assertions on fixtures they built themselves.
      '@typescript-eslint/no-non-null-assertion': 'off',
      complexity: 'off',
      'no-restricted-imports': 'off',
    },
  },
);
