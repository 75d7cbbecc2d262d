import { describe, expect, it } from 'vitest';
import { chooseInterfaces, type NetInterface } from '../../../src/layer2/interfaces.js';
import { parseIp, parseIpv4, parseIpv6 } from '../../../src/layer2/packet/address.js';
import { parseIpJson } from '../../../src/sys/net-interfaces.js';

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

describe('parseIpJson', () => {
  it('reads ip -j output: flags, MAC, prefixes, members, default routes', () => {
    const addrs = [
      { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [] },
      { ifindex: 3, ifname: 'eth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], link_type: 'ether', address: '02:00:00:00:00:03', addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }, { family: 'inet6', local: 'fd00::1', prefixlen: 64 }] },
      { ifindex: 4, ifname: 'eth1', flags: ['BROADCAST', 'UP'], link_type: 'ether', address: '02:00:00:00:00:04', master: 'bond0', linkinfo: { info_slave_kind: 'bond' } },
      { ifname: 'broken' },
    ];
    const list = parseIpJson(addrs, [{ dst: 'default', dev: 'eth0' }], []);
    expect(list.map((i) => [i.name, i.up, i.loopback, i.member, i.mac, i.defaultRoute4, i.defaultRoute6])).toEqual([
      ['lo', true, true, false, undefined, false, false],
      ['eth0', true, false, false, '02:00:00:00:00:03', true, false],
      ['eth1', false, false, true, '02:00:00:00:00:04', false, false],
    ]);
    expect(list[1]?.prefixes.map((p) => [p.family, p.length])).toEqual([[4, 24], [6, 64]]);
    expect(parseIpJson('garbage', null, undefined)).toEqual([]);
  });
});
