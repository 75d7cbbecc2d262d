import { describe, expect, it } from 'vitest';
import { probeLingerMs } from '../../../src/layer2/announcer.js';
import type { NetInterface } from '../../../src/layer2/interfaces.js';
import { buildArp, arpRequest } from '../../../src/layer2/packet/arp.js';
import { formatIpv4, parseIpv4, parseMac } from '../../../src/layer2/packet/address.js';
import { broadcastMac } from '../../../src/layer2/packet/ethernet.js';
import { flushPromises } from '../../helpers/fake-clock.js';
import type { MemoryConn, MemoryOffload } from '../../helpers/memory-conns.js';
import { startTestAnnouncer, type TestAnnouncer } from '../../helpers/test-announcer.js';

// What a probe's end, an owned-set change and an interface poll must keep doing, whatever the
// announcer does to make a probe cheap while it owns many addresses (docs/layer2.md, "Cost of a probe").

const lan0: NetInterface = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false,
  prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 24 }], defaultRoute4: false, defaultRoute6: false,
};
const lan1: NetInterface = { ...lan0, name: 'eth1', index: 3, mac: '02:00:00:00:00:02', prefixes: [{ family: 4, bytes: parseIpv4('10.0.1.1')!, length: 24 }] };

const peer = parseMac('02:00:00:00:00:99')!;
const requestFor = (ip: string): Uint8Array =>
  buildArp({ ethDst: broadcastMac, ethSrc: peer, op: arpRequest, senderMac: peer, senderIp: parseIpv4('10.0.0.7')!, targetMac: new Uint8Array(6), targetIp: parseIpv4(ip)! });

/** Gratuitous ARP frames (request and reply) sent for `ip`: ARP with `ip` as the sender address. */
const gratuitous = (conn: MemoryConn, ip: string): number => conn.sent.filter((f) => f[12] === 0x08 && f[13] === 0x06 && formatIpv4(f, 28) === ip && formatIpv4(f, 38) === ip).length;

const offload = (conn: MemoryConn): MemoryOffload => {
  if (conn.arpOffload === undefined) throw new Error('conn without a fast path');
  return conn.arpOffload;
};

const setup = (ifaces: readonly NetInterface[] = [lan0]): TestAnnouncer => startTestAnnouncer(ifaces, undefined, { fastPath: true });

async function stop(t: TestAnnouncer): Promise<void> {
  t.stop.abort();
  await t.running;
}

describe('announcer: probes, owned-set changes and polls keep what is announced', () => {
  it('keeps the burst schedule of an address that stays owned across probes, owned-set changes and interface polls', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(1500);
    const arp = t.conns.find('eth0', 'arp');
    expect(gratuitous(arp, '10.0.0.100')).toBe(4); // bursts at 0 and 1 s, two frames each
    const standby = t.announcer.probe('10.0.0.200', undefined, { answersOnly: true });
    await t.clock.advance(600);
    expect(await standby).toEqual({ kind: 'clear', interfaces: ['eth0'] });
    const self = t.announcer.probe('10.0.0.100', undefined, { answersOnly: true });
    await t.clock.advance(600);
    expect(await self).toEqual({ kind: 'clear', interfaces: ['eth0'] });
    t.announcer.setOwned(['10.0.0.100', '10.0.0.101']);
    t.source.current = [{ ...lan0, prefixes: [...lan0.prefixes] }]; // the same interface, read afresh
    await t.clock.advance(6000);
    // The third burst at 2 s and nothing more until the re-announcement: no schedule restarted.
    expect(gratuitous(arp, '10.0.0.100')).toBe(6);
    expect(gratuitous(arp, '10.0.0.101')).toBe(6);
    // At 62.1 s: the first re-announcement of the first address (60 s after its last burst), not yet of the second.
    await t.clock.advance(62_100 - 8700);
    expect(gratuitous(arp, '10.0.0.100')).toBe(8);
    expect(gratuitous(arp, '10.0.0.101')).toBe(6);
    expect(t.conns.opened).toHaveLength(1);
    await stop(t);
  });

  it('answers for owned addresses and never for probed ones, before, during and after a probe', async () => {
    const t = setup([lan0, lan1]);
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(10);
    const arp0 = t.conns.find('eth0', 'arp');
    const standby = t.announcer.probe('10.0.1.50', undefined, { answersOnly: true });
    await t.clock.advance(10);
    const arp1 = t.conns.find('eth1', 'arp');
    expect(arp1.deliver(requestFor('10.0.1.50'))).toHaveLength(0);
    expect(arp0.deliver(requestFor('10.0.0.100'))).toHaveLength(1);
    expect(t.announcer.announced()).toEqual(new Map([['10.0.0.100', ['eth0']]]));
    await t.clock.advance(600);
    expect(await standby).toEqual({ kind: 'clear', interfaces: ['eth1'] });
    expect(arp1.deliver(requestFor('10.0.1.50'))).toHaveLength(0);
    expect(arp0.deliver(requestFor('10.0.0.100'))).toHaveLength(1);
    expect(t.announcer.announced()).toEqual(new Map([['10.0.0.100', ['eth0']]]));
    expect(offload(arp0).size).toBe(1);
    expect(offload(arp1).size).toBe(0);
    await stop(t);
  });

  it('keeps a session that only probed open for probeLingerMs after its last probe, then closes it; owned ones stay', async () => {
    const t = setup([lan0, lan1]);
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    const standby = t.announcer.probe('10.0.1.50', undefined, { answersOnly: true });
    await t.clock.advance(600);
    await standby;
    const arp1 = t.conns.find('eth1', 'arp');
    // Probes on the other interface meanwhile do not keep it open.
    for (let i = 0; i < 8; i++) {
      const other = t.announcer.probe('10.0.0.200', undefined, { answersOnly: true });
      await t.clock.advance(1000);
      await other;
    }
    expect(arp1.closed).toBe(false);
    await t.clock.advance(probeLingerMs);
    expect(arp1.closed).toBe(true);
    expect(t.conns.find('eth0', 'arp').closed).toBe(false);
    expect(t.announcer.announced()).toEqual(new Map([['10.0.0.100', ['eth0']]]));
    await stop(t);
  });

  it('closes a session when its last owned address is released and no probe used it', async () => {
    const t = setup([lan0, lan1]);
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100', '10.0.1.100']);
    await t.clock.advance(10);
    const arp1 = t.conns.find('eth1', 'arp');
    t.announcer.setOwned(['10.0.0.100']);
    expect(arp1.closed).toBe(true);
    expect(t.announcer.announced()).toEqual(new Map([['10.0.0.100', ['eth0']]]));
    await stop(t);
  });

  it('reopens an interface whose index changed and announces its addresses afresh there', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(2500);
    const first = t.conns.find('eth0', 'arp');
    t.source.current = [{ ...lan0, index: 7 }];
    await t.clock.advance(2000);
    expect(first.closed).toBe(true);
    const second = t.conns.find('eth0', 'arp');
    expect(second).not.toBe(first);
    expect(gratuitous(second, '10.0.0.100')).toBeGreaterThan(0);
    expect(second.deliver(requestFor('10.0.0.100'))).toHaveLength(1);
    expect(offload(second).size).toBe(1);
    expect(t.announcer.announced()).toEqual(new Map([['10.0.0.100', ['eth0']]]));
    await stop(t);
  });

  it('leaves the fast path on through a standby probe; turns it off through a probe before a first announcement, then restores the whole table', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100', '10.0.0.101']);
    await t.clock.advance(10);
    const table = offload(t.conns.find('eth0', 'arp'));
    expect(table.size).toBe(2);
    const standby = t.announcer.probe('10.0.0.200', undefined, { answersOnly: true });
    await t.clock.advance(10);
    expect(table.size).toBe(2);
    await t.clock.advance(600);
    await standby;
    const first = t.announcer.probe('10.0.0.102');
    await t.clock.advance(10);
    expect(table.table).toBeUndefined();
    await t.clock.advance(600);
    expect(await first).toEqual({ kind: 'clear', interfaces: ['eth0'] });
    expect(table.size).toBe(2);
    await stop(t);
  });
});
