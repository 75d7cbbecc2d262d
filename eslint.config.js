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
/** The I/O edges and the wiring: controller/, speaker/ and layer2/ reach them only through ports. */
const edges = ['cli', 'sandbox', 'k8s', 'obs', 'sys'];

/** client-node is imported by k8s/ (and the sandbox's own API clients) only: docs/architecture.md "Lint rules". */
const clientNode = { name: '@kubernetes/client-node', message: 'Only src/k8s/ (and src/sandbox/) import the Kubernetes client; declare a port instead.' };

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
      'no-restricted-imports': ['error', { paths: [clientNode], patterns: layer(['cli']) }],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['ip', 'config', 'ipam', 'election', 'service', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/ip/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['config', 'ipam', 'election', 'service', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['ipam', 'election', 'service', ...outer]) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/ipam/**/*.ts', 'src/election/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer(['service', ...outer]) }],
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
    // The codecs are the pure bottom of layer2/: nothing else of layer2/ (`../x.js`) above them.
    files: ['src/layer2/packet/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impureModules,
        patterns: [
          ...layer(['config', 'ipam', 'election', 'service', ...outer.filter((d) => d !== 'layer2')]),
          { regex: '^\\.\\./(?!\\.\\./)', message: 'layer2/packet/ imports nothing else of layer2/ (DESIGN.md "Layout").' },
        ],
      }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    // The processes' logic and the datapath declare ports; wiring to k8s/, sys/ and obs/ lives in cli/.
    files: ['src/controller/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [clientNode], patterns: layer([...edges, 'speaker', 'layer2']) }] },
  },
  {
    files: ['src/speaker/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [clientNode], patterns: layer([...edges, 'controller']) }] },
  },
  {
    files: ['src/layer2/**/*.ts'],
    ignores: ['src/layer2/packet/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [clientNode], patterns: layer([...edges, 'controller', 'speaker']) }] },
  },
  {
    // The pure files of the processes: decisions over values, no I/O, no clock, no globals.
    files: ['src/controller/decide.ts', 'src/controller/config-decision.ts', 'src/controller/ports.ts', 'src/controller/quarantine.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer([...edges, 'speaker', 'layer2']) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/speaker/desired.ts', 'src/speaker/lease-view.ts', 'src/speaker/layer2-pools.ts', 'src/speaker/membership.ts', 'src/speaker/conflicts.ts', 'src/speaker/interfaces-record.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: impureModules, patterns: layer([...edges, 'controller', 'layer2']) }],
      'no-restricted-globals': ['error', ...impureGlobals],
    },
  },
  {
    files: ['src/obs/**/*.ts', 'src/sys/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [clientNode], patterns: layer(['cli', 'sandbox', 'k8s', 'controller', 'speaker']) }] },
  },
  {
    // The Kubernetes API clients: k8s/ for the two processes, sandbox/ for the stand-in cluster's own agents.
    files: ['src/k8s/**/*.ts', 'src/sandbox/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: layer(['cli']) }] },
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
