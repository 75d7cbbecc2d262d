import { describe, expect, it } from 'vitest';
import { runSourceCli as runCli, sourceCliTimeoutMs } from '../../helpers/cli.js';

describe('ironlb announce: usage errors (exit 2, one line, before any socket)', () => {
  it.each([
    { name: 'no --ip', args: ['--interface', 'lo'], message: '--ip: at least one address is required' },
    { name: 'no --interface', args: ['--ip', '10.0.0.1'], message: '--interface: at least one interface is required' },
    { name: 'bad address', args: ['--interface', 'lo', '--ip', '10.0.0.300'], message: '--ip: "10.0.0.300" is not an IPv4 or IPv6 address' },
    { name: 'negative interval', args: ['--interface', 'lo', '--ip', '10.0.0.1', '--reannounce-interval=-1'], message: '--reannounce-interval: -1 is below the minimum 0' },
  ])('$name', async ({ args, message }) => {
    const r = await runCli(['announce', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, sourceCliTimeoutMs);

  it('prints its flags for --help', async () => {
    const r = await runCli(['announce', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--reannounce-interval');
  }, sourceCliTimeoutMs);
});
