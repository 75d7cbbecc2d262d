import { describe, expect, it } from 'vitest';
import { chooseInterfaces, matchesPatterns, patternMatcher, sameInterfaces, type NetInterface } from '../../../src/layer2/interfaces.js';
import { parseIp, parseIpv4, parseIpv6 } from '../../../src/layer2/packet/address.js';

function iface(name: string, over: Partial<NetInterface> = {}): NetInterface {
  return { name, index: 1, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false, prefixes: [], defaultRoute4: false, defaultRoute6: false, ...over };
}

const lan = iface('eth0', { prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 24 }, { family: 6, bytes: parseIpv6('fd00::1')!, length: 64 }] });
const wan = iface('eth1', { defaultRoute4: true, defaultRoute6: true, prefixes: [{ family: 4, bytes: parseIpv4('192.168.1.2')!, length: 24 }] });

describe('chooseInterfaces', () => {
  it.each([
    { name: 'prefix match', ip: '10.0.0.100', list: [lan, wan], patterns: [], explicit: false, want: ['eth0'] },
    { name: 'v6 prefix match', ip: 'fd00::100', list: [lan, wan], patterns: [], explicit: false, want: ['eth0'] },
    { name: 'no prefix: default route', ip: '172.16.0.1', list: [lan, wan], patterns: [], explicit: false, want: ['eth1'] },
    { name: 'pattern restricts', ip: '10.0.0.100', list: [lan, wan], patterns: ['eth1'], explicit: false, want: ['eth1'] },
    { name: 'glob', ip: '10.0.0.100', list: [lan, { ...lan, name: 'eth0.5' }], patterns: ['eth0*'], explicit: false, want: ['eth0', 'eth0.5'] },
    { name: 'down skipped', ip: '10.0.0.100', list: [{ ...lan, up: false }, wan], patterns: [], explicit: false, want: ['eth1'] },
    { name: 'NOARP skipped', ip: '10.0.0.100', list: [{ ...lan, noArp: true }], patterns: [], explicit: false, want: [] },
    { name: 'bond member skipped', ip: '10.0.0.100', list: [{ ...lan, member: true }], patterns: [], explicit: false, want: [] },
    { name: 'explicit: named interface regardless of prefixes', ip: '172.16.0.1', list: [lan, wan], patterns: ['eth0'], explicit: true, want: ['eth0'] },
  ])('$name', ({ ip, list, patterns, explicit, want }) => {
    expect(chooseInterfaces(parseIp(ip)!, list, { patterns, explicit }).map((i) => i.name)).toEqual(want);
  });
});

describe('patternMatcher', () => {
  it.each([
    { name: 'no patterns: any name', patterns: [], names: ['eth0', 'bond0'], want: [true, true] },
    { name: 'exact name', patterns: ['eth0'], names: ['eth0', 'eth01', 'xeth0'], want: [true, false, false] },
    { name: 'globs', patterns: ['eth*', 'bond?'], names: ['eth0.5', 'bond0', 'bond10', 'wlan0'], want: [true, true, false, false] },
    { name: 'regex characters are literal', patterns: ['br.0'], names: ['br.0', 'br-0'], want: [true, false] },
  ])('$name', ({ patterns, names, want }) => {
    const matches = patternMatcher(patterns);
    expect(names.map(matches)).toEqual(want);
    expect(names.map((n) => matchesPatterns(n, patterns))).toEqual(want);
  });
});

describe('sameInterfaces', () => {
  const copy = (i: NetInterface): NetInterface => ({ ...i, prefixes: i.prefixes.map((p) => ({ ...p, bytes: new Uint8Array(p.bytes) })) });
  it.each([
    { name: 'a fresh reading of the same interfaces', b: [copy(lan), copy(wan)], want: true },
    { name: 'an index changed', b: [{ ...lan, index: 9 }, wan], want: false },
    { name: 'a link went down', b: [{ ...lan, up: false }, wan], want: false },
    { name: 'a prefix changed', b: [{ ...lan, prefixes: [{ family: 4 as const, bytes: parseIpv4('10.0.1.1')!, length: 24 }] }, wan], want: false },
    { name: 'the default route moved', b: [lan, { ...wan, defaultRoute4: false }], want: false },
    { name: 'an interface went away', b: [lan], want: false },
    { name: 'another order', b: [wan, lan], want: false },
  ])('$name', ({ b, want }) => {
    expect(sameInterfaces([lan, wan], b)).toBe(want);
  });
});
