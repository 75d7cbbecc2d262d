import { describe, expect, it } from 'vitest';
import type { InterfacePrefix, NetInterface } from '../../../src/layer2/interfaces.js';
import { parseIpv4 } from '../../../src/layer2/packet/address.js';
import { flushPromises } from '../../helpers/fake-clock.js';
import type { MemoryConn, MemoryOffload } from '../../helpers/memory-conns.js';
import { startTestAnnouncer, type TestAnnouncer } from '../../helpers/test-announcer.js';

// The work a probe costs must not grow with the number of owned addresses: a standby probes
// its owners every 500 ms and a speaker taking 1,000 addresses probes each (docs/layer2.md,
// "Cost of a probe"). Counted, not timed: reads of the interfaces' names and prefixes (placing
// owned addresses on interfaces reads them per address) and pushes of the native fast-path tables.

const lan0: NetInterface = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false,
  prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 16 }], defaultRoute4: false, defaultRoute6: false,
};
const lan1: NetInterface = { ...lan0, name: 'eth1', index: 3, mac: '02:00:00:00:00:02', prefixes: [{ family: 4, bytes: parseIpv4('10.1.0.1')!, length: 16 }] };

const offload = (conn: MemoryConn): MemoryOffload => {
  if (conn.arpOffload === undefined) throw new Error('conn without a fast path');
  return conn.arpOffload;
};

const setup = (ifaces: readonly NetInterface[]): TestAnnouncer => startTestAnnouncer(ifaces, undefined, { fastPath: true });

async function stop(t: TestAnnouncer): Promise<void> {
  t.stop.abort();
  await t.running;
}

/**
 * An interface that counts reads of its name and prefixes: choosing the interfaces of an address
 * reads every interface's prefixes, and sorting owned addresses by interface reads the chosen
 * interfaces' names, once per address.
 */
function counting(base: NetInterface): { iface: NetInterface; reads: () => number } {
  let reads = 0;
  const { name, prefixes } = base;
  const iface: NetInterface = {
    ...base,
    get name() {
      reads += 1;
      return name;
    },
    get prefixes(): readonly InterfacePrefix[] {
      reads += 1;
      return prefixes;
    },
  };
  return { iface, reads: () => reads };
}

describe('announcer: the cost of a probe does not grow with the owned set', () => {
  // Two LANs of 500 owned addresses each.
  const lanIps = (net: string): string[] => Array.from({ length: 500 }, (_, i) => `${net}.${String(Math.floor(i / 250))}.${String((i % 250) + 1)}`);
  const owned = [...lanIps('10.0'), ...lanIps('10.1')];

  it('a standby probe while owning 1,000 addresses chooses interfaces for its own address only and pushes no fast-path table', async () => {
    const eth0 = counting(lan0);
    const eth1 = counting(lan1);
    const t = setup([eth0.iface, eth1.iface]);
    await flushPromises();
    t.announcer.setOwned(owned);
    await t.clock.advance(10);
    const tables = [offload(t.conns.find('eth0', 'arp')), offload(t.conns.find('eth1', 'arp'))];
    const pushes = (): number => tables.reduce((n, o) => n + o.pushes, 0);
    const [reads0, pushes0] = [eth0.reads() + eth1.reads(), pushes()];
    const standby = t.announcer.probe('10.0.9.9', undefined, { answersOnly: true });
    await t.clock.advance(600);
    expect(await standby).toEqual({ kind: 'clear', interfaces: ['eth0'] });
    // One choice of interfaces for the probed address and its session found: a few reads, not some per owned address.
    expect(eth0.reads() + eth1.reads() - reads0).toBeLessThanOrEqual(10);
    expect(pushes() - pushes0).toBe(0);
    expect(tables.map((o) => o.size)).toEqual([500, 500]);
    await stop(t);
  });

  it('an interface poll that finds the same interfaces pushes no fast-path table', async () => {
    const t = setup([lan0, lan1]);
    await flushPromises();
    t.announcer.setOwned(owned);
    await t.clock.advance(10);
    const tables = [offload(t.conns.find('eth0', 'arp')), offload(t.conns.find('eth1', 'arp'))];
    const before = tables.map((o) => o.pushes);
    t.source.current = [{ ...lan0 }, { ...lan1 }];
    await t.clock.advance(6000);
    expect(tables.map((o) => o.pushes)).toEqual(before);
    expect(tables.map((o) => o.size)).toEqual([500, 500]);
    await stop(t);
  });
});
