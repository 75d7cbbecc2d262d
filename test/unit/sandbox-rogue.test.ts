import { describe, expect, it } from 'vitest';
import { runSourceCli, sourceCliTimeoutMs } from '../helpers/cli.js';
import { lanLayout, type LanPlan } from '../../src/sandbox/lan.js';
import { parseRogueAddress, rogueAddressesOf } from '../../src/sandbox/rogue.js';

const plan: LanPlan = { prefix: 'ironlb', nodes: 3, v4Net: '172.31.213', v6Net: 'fd00:213::' };

describe('sandbox rogue: the address argument', () => {
  it.each([
    { name: 'a pool address', arg: '172.31.213.201', want: { ip: '172.31.213.201', family: 4, withPrefix: '172.31.213.201/24' } },
    { name: 'IPv6, written long', arg: 'FD00:213:0::00c9', want: { ip: 'fd00:213::c9', family: 6, withPrefix: 'fd00:213::c9/64' } },
  ])('$name', ({ arg, want }) => {
    expect(parseRogueAddress(arg, plan)).toEqual({ ok: true, value: want });
  });

  it.each([
    { name: 'not an address', arg: 'printer', says: '"printer" is not an IPv4 or IPv6 address' },
    { name: 'off the LAN', arg: '10.0.0.5', says: '10.0.0.5 is not on the sandbox LAN (172.31.213.0/24)' },
    { name: 'off the LAN, IPv6', arg: 'fd00:214::5', says: 'fd00:214::5 is not on the sandbox LAN (fd00:213::/64)' },
    { name: 'a node\'s own address', arg: '172.31.213.12', says: '172.31.213.12 is the sandbox\'s own address of node-2' },
    { name: 'the client\'s own address', arg: 'fd00:213::100', says: 'fd00:213::100 is the sandbox\'s own address of client' },
    { name: 'the host link', arg: '172.31.213.1', says: 'own address of the host link' },
  ])('refuses $name, saying why', ({ arg, says }) => {
    const r = parseRogueAddress(arg, plan);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(says);
  });
});

describe('sandbox rogue: what the client holds', () => {
  it('lists global addresses other than the client\'s own, from `ip -j addr show`', () => {
    const json = JSON.stringify([{ ifname: 'eth0', addr_info: [
      { family: 'inet', local: '172.31.213.100', prefixlen: 24, scope: 'global' },
      { family: 'inet', local: '172.31.213.201', prefixlen: 24, scope: 'global' },
      { family: 'inet6', local: 'fd00:213::100', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fd00:213:0::c9', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ] }]);
    expect(rogueAddressesOf(json, lanLayout(plan))).toEqual(['172.31.213.201', 'fd00:213::c9']);
    expect(rogueAddressesOf('not json', lanLayout(plan))).toEqual([]);
  });
});

describe('ironlb sandbox rogue: usage', () => {
  it('a wrong word is a usage error (exit 2, one line); no sandbox running is exit 1, said plainly', async () => {
    const bad = await runSourceCli(['sandbox', 'rogue', 'steal', '172.31.213.201']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('ironlb sandbox rogue: expected add, remove or list, got "steal"; usage: ironlb sandbox rogue add IP | remove IP | list [--state-dir DIR]\n');
    const none = await runSourceCli(['sandbox', 'rogue', 'list', '--state-dir', '/nonexistent/ironlb-rogue-test']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('ironlb sandbox rogue: no sandbox running with state dir /nonexistent/ironlb-rogue-test (`ironlb sandbox up` starts one)\n');
  }, sourceCliTimeoutMs * 2);
});
