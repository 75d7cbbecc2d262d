import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';

const fixture = (name: string): string => join(repoRoot, 'test', 'fixtures', 'config', name);
const scratch = mkdtempSync(join(tmpdir(), `ironlb-config-validate-${process.pid}-`));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const invalidBlue = 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: b, protocol: layer2, addresses: [10.0.1.0/24]}\n- {name: blue, protocol: layer2, addresses: [10.0.0.300/24]}\n';

describe('ironlb config validate (the real CLI)', () => {
  it.each([
    {
      name: 'valid raw config, text',
      args: [fixture('valid-two-pools.yaml')],
      code: 0,
      stdout: 'general: 287 addresses (layer2, auto-assign, avoid-buggy-ips; 10.20.0.0/24, 10.20.1.10 - 10.20.1.40)\nreserved: 16 addresses (layer2, on request only; 10.20.2.0/28)\n',
      stderr: '',
    },
    {
      name: 'valid ConfigMap manifest, json',
      args: ['--output', 'json', fixture('valid-configmap.yaml')],
      code: 0,
      stdout: `${JSON.stringify(JSON.parse(readFileSync(fixture('valid-configmap.golden'), 'utf8')))}\n`,
      stderr: '',
    },
    {
      name: 'the shipped ConfigMap',
      args: [join(repoRoot, 'config', 'metallb-style-config.yaml')],
      code: 0,
      stdout: 'default: 11 addresses (layer2, auto-assign; 192.168.1.240-192.168.1.250)\nreserved: 8 addresses (layer2, on request only; 192.168.1.232/29)\n',
      stderr: '',
    },
    {
      name: 'invalid config: one line per problem, exit 1',
      args: [fixture('invalid-metallb-bgp.yaml')],
      code: 1,
      stdout: '',
      stderr: readFileSync(fixture('invalid-metallb-bgp.golden'), 'utf8'),
    },
    {
      name: 'YAML syntax error names the line',
      args: [fixture('invalid-yaml-syntax.yaml')],
      code: 1,
      stdout: '',
      stderr: readFileSync(fixture('invalid-yaml-syntax.golden'), 'utf8'),
    },
    { name: 'missing file: exit 1, one line', args: [join(scratch, 'nope.yaml')], code: 1, stdout: '', stderr: `ironlb config validate: cannot read "${join(scratch, 'nope.yaml')}": no such file\n` },
    { name: 'a directory: exit 1, one line', args: [scratch], code: 1, stdout: '', stderr: `ironlb config validate: cannot read "${scratch}": it is a directory\n` },
    { name: 'no FILE: usage, exit 2', args: [], code: 2, stdout: '', stderr: 'ironlb config validate: expected exactly one FILE, or - for standard input\n' },
    { name: 'two FILEs: usage, exit 2', args: ['a.yaml', 'b.yaml'], code: 2, stdout: '', stderr: 'ironlb config validate: expected exactly one FILE, or - for standard input\n' },
    { name: 'bad --output: usage, exit 2', args: ['--output', 'xml', 'a.yaml'], code: 2, stdout: '', stderr: 'ironlb config validate: --output: "xml" is not one of text, json\n' },
    { name: 'unknown flag: usage, exit 2', args: ['--strict', 'a.yaml'], code: 2, stdout: '', stderr: /^ironlb config validate: .*--strict.*\n$/ },
  ])('$name', async ({ args, code, stdout, stderr }) => {
    const r = await runCli(['config', 'validate', ...args]);
    expect(r.stdout).toBe(stdout);
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
    expect(r.code).toBe(code);
  });

  it('reads standard input with -', async () => {
    const r = await runCli(['config', 'validate', '-'], { stdin: readFileSync(fixture('valid-dual-stack.yaml'), 'utf8') });
    expect(r).toEqual({ code: 0, stdout: 'dual: 18446744073709551712 addresses (layer2, auto-assign; 192.0.2.0/26, 2001:db8:100::/64, 2001:db8:200::10-2001:db8:200::2f)\n', stderr: '' });
  });

  it('names the pool and the value of the DESIGN example, on stdin, json', async () => {
    const r = await runCli(['config', 'validate', '--output', 'json', '-'], { stdin: invalidBlue });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('address-pools[2] "blue": addresses[0]: "10.0.0.300/24" is not a valid CIDR or range\n');
    expect(JSON.parse(r.stdout)).toEqual({ errors: [{ path: 'address-pools[2] "blue": addresses[0]', message: '"10.0.0.300/24" is not a valid CIDR or range' }] });
  });

  it('empty stdin is an invalid (empty) config', async () => {
    const r = await runCli(['config', 'validate', '-'], { stdin: '' });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'the config is empty: expected a map with address-pools\n' });
  });

  it('a collection used as a key is an unknown key, with no Node warning on stderr', async () => {
    const text = 'address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  ? [x]\n  : 1\n';
    const r = await runCli(['config', 'validate', '-'], { stdin: text });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'address-pools[0] "a": unknown key "[ x ]"; known keys: name, protocol, addresses, auto-assign, avoid-buggy-ips\n' });
  });

  it('refuses a file larger than a ConfigMap can hold', async () => {
    const big = join(scratch, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await runCli(['config', 'validate', big]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `ironlb config validate: "${big}" is larger than 1 MiB, the most a ConfigMap holds\n` });
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await runCli(['config', 'validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: ironlb config validate \[--output text\|json\] FILE\|-/);
    expect(r.stdout).toContain('--output <value>');
  });

  it('never prints a stack trace, whatever the input', async () => {
    const inputs = ['\u0000\u0001binary', 'a: !!binary "%%%"', '[[[[', 'address-pools: [{name: x, protocol: layer2, addresses: [{}]}]'];
    for (const stdin of inputs) {
      const r = await runCli(['config', 'validate', '-'], { stdin });
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split('\n').length).toBeGreaterThanOrEqual(1);
    }
  });
});
