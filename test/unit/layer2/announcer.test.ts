import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAnnouncer, type InterfaceSource } from '../../../src/layer2/announcer.js';
import type { NetInterface } from '../../../src/layer2/interfaces.js';
import { createLayer2Metrics } from '../../../src/layer2/metrics.js';
import { formatIpv4, formatIpv6, parseIpv4 } from '../../../src/layer2/packet/address.js';
import { MemoryConns } from '../../helpers/memory-conns.js';
import type { Clock } from '../../../src/shared/clock.js';
import { packet } from './fixtures.js';

/** A clock that only moves when the test says so. */
class FakeClock implements Clock {
  private t = 0;
  private sleepers: { at: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  wallTime(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new Error('aborted');
    await new Promise<void>((resolve, reject) => {
      const entry = { at: this.t + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(new Error('aborted'));
      }, { once: true });
    });
  }
  /** Moves time forward in 100 ms steps, letting woken loops run. */
  async advance(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 100) {
      this.t += Math.min(100, left);
      const due = this.sleepers.filter((s) => s.at <= this.t);
      this.sleepers = this.sleepers.filter((s) => s.at > this.t);
      for (const s of due) s.resolve();
      await settle();
    }
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

class FixedInterfaces implements InterfaceSource {
  constructor(public list_: NetInterface[]) {}
  list(): Promise<readonly NetInterface[]> {
    return Promise.resolve(this.list_);
  }
}

const eth0: NetInterface = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false,
  prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 24 }], defaultRoute4: false, defaultRoute6: false,
};

function setup(ifaces: NetInterface[] = [eth0]) {
  const clock = new FakeClock();
  const conns = new MemoryConns();
  const source = new FixedInterfaces(ifaces);
  const registry = new Registry();
  const announcer = createAnnouncer({
    conns, interfaces: source, clock, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry),
    policy: { patterns: [], explicit: false }, timing: { burstOffsetsMs: [0, 1000, 2000], reannounceMs: 60_000, pollMs: 2000 }, fastPath: true,
  });
  const stop = new AbortController();
  const running = announcer.run(stop.signal);
  return { clock, conns, source, registry, announcer, stop, running };
}

/** The IPs announced by gratuitous frames in `frames` (ARP sender IP or NA target). */
function announcedIps(frames: readonly Uint8Array[]): string[] {
  return frames.map((f) => (f[12] === 0x08 ? `arp:${formatIpv4(f, 28)}` : `na:${formatIpv6(f, 62)}`));
}

describe('announcer over an in-memory PacketConn', () => {
  it('announces a new IP three times over 2 s, then every 60 s', async () => {
    const t = setup();
    await settle();
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

  it('answers ARP for owned IPs only, and stops the moment ownership ends', async () => {
    const t = setup();
    await settle();
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
    await settle();
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
    await settle();
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(2500);
    const first = t.conns.find('eth0', 'arp');
    t.source.list_ = [{ ...eth0, up: false }];
    await t.clock.advance(2000);
    expect(first.closed).toBe(true);
    expect(t.announcer.announced().size).toBe(0);
    t.source.list_ = [eth0];
    await t.clock.advance(2000);
    const second = t.conns.find('eth0', 'arp');
    expect(second).not.toBe(first);
    expect(announcedIps(second.sent).length).toBeGreaterThan(0);
    t.stop.abort();
    await t.running;
  });

  it('opens one socket per interface and family, not per IP', async () => {
    const t = setup();
    await settle();
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
    await settle();
    t.announcer.setOwned(['10.0.0.100']);
    const r = t.announcer.setOwned(ips);
    expect(r.ok).toBe(false);
    await t.clock.advance(100);
    expect([...t.announcer.announced().keys()]).toEqual(['10.0.0.100']);
    t.stop.abort();
    await t.running;
  });
});
