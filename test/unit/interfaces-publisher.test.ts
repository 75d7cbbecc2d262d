import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { InterfacePrefix, NetInterface } from '../../src/layer2/interfaces.js';
import { parseIp } from '../../src/layer2/packet/address.js';
import { announceableInterfaces, createInterfacesPublisher } from '../../src/speaker/interfaces-publisher.js';
import { formatInterfacesRecord } from '../../src/speaker/interfaces-record.js';
import { FakeClock } from '../helpers/fake-clock.js';

function prefix(text: string): InterfacePrefix {
  const [addr = '', len = ''] = text.split('/');
  const ip = parseIp(addr);
  if (ip === undefined) throw new Error(text);
  return { family: ip.family, bytes: ip.bytes, length: Number(len) };
}

function iface(name: string, over: Partial<NetInterface> & { addrs?: string[] } = {}): NetInterface {
  const { addrs = [], ...rest } = over;
  return {
    name,
    index: 2,
    mac: '02:00:00:00:00:01',
    up: true,
    noArp: false,
    loopback: false,
    member: false,
    prefixes: addrs.map(prefix),
    defaultRoute4: false,
    defaultRoute6: false,
    ...rest,
  };
}

describe('announceableInterfaces: what a speaker publishes', () => {
  it.each([
    { name: 'an Ethernet link: its networks, host bits cleared', list: [iface('eth0', { addrs: ['192.0.2.11/24', '2001:db8::11/64'] })], patterns: [], want: 'eth0=02:00:00:00:00:01;192.0.2.0/24,2001:db8::/64' },
    { name: 'link-local prefixes left out', list: [iface('eth0', { addrs: ['fe80::1/64', '169.254.3.4/16', '10.1.2.3/8'] })], patterns: [], want: 'eth0=02:00:00:00:00:01;10.0.0.0/8' },
    { name: 'down links left out', list: [iface('eth0', { up: false, addrs: ['192.0.2.11/24'] })], patterns: [], want: '' },
    { name: 'NOARP links (dummy kube-ipvs0) left out', list: [iface('kube-ipvs0', { noArp: true, addrs: ['192.0.2.200/32'] })], patterns: [], want: '' },
    { name: 'bridge and bond members left out (MetalLB #597)', list: [iface('eth1', { member: true }), iface('br0', { mac: '02:00:00:00:00:0b', addrs: ['198.51.100.2/24'] })], patterns: [], want: 'br0=02:00:00:00:00:0b;198.51.100.0/24' },
    { name: 'loopback left out', list: [iface('lo', { loopback: true, mac: '00:00:00:00:00:00', addrs: ['127.0.0.1/8'] })], patterns: [], want: '' },
    { name: '--interfaces honoured', list: [iface('eth0', { addrs: ['192.0.2.11/24'] }), iface('eth1', { mac: '02:00:00:00:00:02', addrs: ['198.51.100.2/24'] })], patterns: ['eth1'], want: 'eth1=02:00:00:00:00:02;198.51.100.0/24' },
    { name: 'an up link without addresses is listed (its MAC names the node)', list: [iface('eth0')], patterns: [], want: 'eth0=02:00:00:00:00:01;' },
  ])('$name', ({ list, patterns, want }) => {
    expect(formatInterfacesRecord(announceableInterfaces(list, patterns))).toBe(want);
  });
});

describe('InterfacesPublisher', () => {
  it('publishes at once, again each poll, and keeps the last value when the kernel cannot be read', async () => {
    const clock = new FakeClock(0);
    let list: NetInterface[] | Error = [iface('eth0', { addrs: ['192.0.2.11/24'] })];
    const published: string[] = [];
    const publisher = createInterfacesPublisher({
      source: { list: async () => (list instanceof Error ? Promise.reject(list) : Promise.resolve(list)) },
      patterns: [],
      publish: (v) => published.push(v),
      clock,
      logger: pino({ level: 'silent' }),
      pollMs: 2000,
    });
    expect(await publisher.refresh()).toBe(true);
    expect(published).toEqual(['eth0=02:00:00:00:00:01;192.0.2.0/24']);
    const ac = new AbortController();
    const running = publisher.run(ac.signal);
    await clock.advance(1);
    list = [iface('eth0', { addrs: ['192.0.2.11/24'] }), iface('eth1', { mac: '02:00:00:00:00:02', addrs: ['2001:db8:1::2/64'] })];
    await clock.advance(2000);
    expect(published.at(-1)).toBe('eth0=02:00:00:00:00:01;192.0.2.0/24 eth1=02:00:00:00:00:02;2001:db8:1::/64');
    const count = published.length;
    list = new Error('sysfs is mounted from another network namespace');
    await clock.advance(2000);
    expect(published.length).toBe(count);
    ac.abort();
    await running;
  });
});
