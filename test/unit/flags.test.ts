import { describe, expect, it } from 'vitest';
import { readFlags, type FlagSpec } from '../../src/cli/flags.js';
import { UsageError } from '../../src/shared/errors.js';

const spec = {
  'node-name': { type: 'string', description: 'node' },
  'metrics-port': { type: 'number', default: 7473, min: 0, max: 65535, description: 'port' },
  ip: { type: 'strings', description: 'ips' },
  dry: { type: 'boolean', description: 'dry' },
  output: { type: 'string', default: 'text', choices: ['text', 'json'], description: 'format' },
} as const satisfies Record<string, FlagSpec>;

describe('readFlags', () => {
  it.each([
    { name: 'defaults', argv: [], env: {}, want: { 'node-name': undefined, 'metrics-port': 7473, ip: [], dry: false, output: 'text' } },
    { name: 'flags', argv: ['--node-name', 'a', '--ip', '1.2.3.4', '--ip', '::1', '--dry'], env: {}, want: { 'node-name': 'a', 'metrics-port': 7473, ip: ['1.2.3.4', '::1'], dry: true, output: 'text' } },
    { name: 'env fallback', argv: [], env: { IRONLB_NODE_NAME: 'b', IRONLB_METRICS_PORT: '9', IRONLB_IP: '1.1.1.1, 2.2.2.2', IRONLB_DRY: 'true' }, want: { 'node-name': 'b', 'metrics-port': 9, ip: ['1.1.1.1', '2.2.2.2'], dry: true, output: 'text' } },
    { name: 'flag beats env', argv: ['--node-name=c'], env: { IRONLB_NODE_NAME: 'b' }, want: { 'node-name': 'c', 'metrics-port': 7473, ip: [], dry: false, output: 'text' } },
  ])('$name', ({ argv, env, want }) => {
    expect(readFlags(spec, argv, env).flags).toEqual(want);
  });

  it.each([
    { name: 'unknown flag', argv: ['--nope'], message: /nope/ },
    { name: 'not a number', argv: ['--metrics-port', 'x'], message: /--metrics-port: "x" is not a number/ },
    { name: 'out of range', argv: ['--metrics-port', '70000'], message: /above the maximum/ },
    { name: 'bad choice', argv: ['--output', 'xml'], message: /not one of text, json/ },
  ])('rejects $name', ({ argv, message }) => {
    expect(() => readFlags(spec, argv, {})).toThrow(UsageError);
    expect(() => readFlags(spec, argv, {})).toThrow(message);
  });

  it('keeps positionals', () => {
    expect(readFlags(spec, ['file.yaml', '--dry'], {}).positionals).toEqual(['file.yaml']);
  });
});
