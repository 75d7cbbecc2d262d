import { describe, expect, it } from 'vitest';
import type { NetInterface } from '../../../src/layer2/interfaces.js';
import { formatIpv4, formatIpv6, parseIpv4 } from '../../../src/layer2/packet/address.js';
import { flushPromises } from '../../helpers/fake-clock.js';
import { startTestAnnouncer, type TestAnnouncer } from '../../helpers/test-announcer.js';
import { packet } from './fixtures.js';

const eth0: NetInterface = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false,
  prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 24 }], defaultRoute4: false, defaultRoute6: false,
};

const setup = (ifaces: readonly NetInterface[] = [eth0]): TestAnnouncer => startTestAnnouncer(ifaces);

/** The IPs announced by gratuitous frames in `frames` (ARP sender IP or NA target). */
function announcedIps(frames: readonly Uint8Array[]): string[] {
  return frames.map((f) => (f[12] === 0x08 ? `arp:${formatIpv4(f, 28)}` : `na:${formatIpv6(f, 62)}`));
}

describe('announcer over an in-memory PacketConn', () => {
  it('announces a new IP three times over 2 s, then every 60 s', async () => {
    const t = setup();
    await flushPromises();
    expect(t.announcer.setOwned(['10.0.0.100'])).toEqual({ ok: true, value: undefined });
    await t.clock.advance(100);
    const arp = t.conns.find('eth0', 'arp');
    expect(announcedIps(arp.sent)).toEqual(['arp:10.0.0.100', 'arp:10.0.0.100']);
    await t.clock.advance(2000);
    expect(arp.sent).toHaveLength(6);
    await t.clock.advance(50_000);
    expect(arp.sent).toHaveLength(6);
    await t.clock.advance(10_000);
    expect(arp.sent).toHaveLength(8);
    t.stop.abort();
    await t.running;
    expect(arp.closed).toBe(true);
  });

  it('sends the first gratuitous frame of a newly owned IP within setOwned, before its loop runs again', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    const arp = t.conns.find('eth0', 'arp');
    // One announcement: a gratuitous request and reply (as the first test shows).
    expect(announcedIps(arp.sent)).toEqual(['arp:10.0.0.100', 'arp:10.0.0.100']);
    // IPs still owned are not announced again by a new set; the new one is.
    t.announcer.setOwned(['10.0.0.100', '10.0.0.101']);
    expect(announcedIps(arp.sent)).toEqual(['arp:10.0.0.100', 'arp:10.0.0.100', 'arp:10.0.0.101', 'arp:10.0.0.101']);
    t.stop.abort();
    await t.running;
  });

  it('answers ARP for owned IPs only, and stops the moment ownership ends', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(100);
    const arp = t.conns.find('eth0', 'arp');
    const request = packet('arp-request');
    expect(arp.deliver(request)).toHaveLength(1);
    t.announcer.setOwned(['10.0.0.101']);
    expect(arp.deliver(request)).toHaveLength(0);
    const metrics = await t.registry.getSingleMetricAsString('ironlb_layer2_drops_total');
    expect(metrics).toContain('reason="notOwned",interface="eth0"} 1');
    expect(await t.registry.getSingleMetricAsString('ironlb_layer2_responses_sent_total')).toContain('ip="10.0.0.100",interface="eth0"} 1');
    t.stop.abort();
    await t.running;
  });

  it('joins the solicited-node group, answers NS and sends unsolicited NA for IPv6', async () => {
    const t = setup([{ ...eth0, defaultRoute6: true }]);
    await flushPromises();
    t.announcer.setOwned(['fd00::100']);
    await t.clock.advance(100);
    const ndp = t.conns.find('eth0', 'ndp');
    expect([...ndp.groups]).toEqual(['33:33:ff:00:01:00']);
    expect(announcedIps(ndp.sent)).toEqual(['na:fd00::100']);
    expect(ndp.deliver(packet('ns-multicast'))).toHaveLength(1);
    t.announcer.setOwned([]);
    // Nothing owned on eth0 any more: its sockets close (the kernel drops the memberships).
    expect(ndp.closed).toBe(true);
    expect(ndp.deliver(packet('ns-multicast'))).toHaveLength(0);
    t.stop.abort();
    await t.running;
  });

  it('follows an interface going down and coming back, re-announcing on link up', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(2500);
    const first = t.conns.find('eth0', 'arp');
    t.source.current = [{ ...eth0, up: false }];
    await t.clock.advance(2000);
    expect(first.closed).toBe(true);
    expect(t.announcer.announced().size).toBe(0);
    t.source.current = [eth0];
    await t.clock.advance(2000);
    const second = t.conns.find('eth0', 'arp');
    expect(second).not.toBe(first);
    expect(announcedIps(second.sent).length).toBeGreaterThan(0);
    t.stop.abort();
    await t.running;
  });

  it('opens one socket per interface and family, not per IP', async () => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(Array.from({ length: 50 }, (_, i) => `10.0.0.${i + 10}`));
    await t.clock.advance(100);
    expect(t.conns.opened).toHaveLength(1);
    expect(t.announcer.announced().size).toBe(50);
    t.stop.abort();
    await t.running;
  });

  it.each([
    { name: 'garbage', ips: ['not-an-ip'] },
    { name: 'CIDR', ips: ['10.0.0.0/24'] },
  ])('refuses $name in the owned set and keeps the previous one', async ({ ips }) => {
    const t = setup();
    await flushPromises();
    t.announcer.setOwned(['10.0.0.100']);
    const r = t.announcer.setOwned(ips);
    expect(r.ok).toBe(false);
    await t.clock.advance(100);
    expect([...t.announcer.announced().keys()]).toEqual(['10.0.0.100']);
    t.stop.abort();
    await t.running;
  });
});
