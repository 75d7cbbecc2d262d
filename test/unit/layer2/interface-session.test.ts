import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InterfaceSession } from '../../../src/layer2/interface-session.js';
import { createLayer2Metrics } from '../../../src/layer2/metrics.js';
import { formatIpv4, ipv4Key, parseIp } from '../../../src/layer2/packet/address.js';
import type { ArpOffload, ArpOffloadCounters, PacketConn, PacketConnCounters, PacketConnFactory } from '../../../src/layer2/packet-conn.js';
import { hex } from './fixtures.js';

/** Records the table the session pushes; returns counters the test sets. */
class FakeOffload implements ArpOffload {
  table: string[] = [];
  enabled = false;
  next: ArpOffloadCounters = { answered: new Map(), notOwned: 0, sendErrors: 0 };
  set(_mac: Uint8Array, ipv4: readonly Uint8Array[]): void {
    this.enabled = true;
    this.table = ipv4.map((ip) => formatIpv4(ip));
  }
  disable(): void {
    this.enabled = false;
  }
  /** The counts since the previous take; the session reads them through the conn. */
  take(): ArpOffloadCounters {
    const out = this.next;
    this.next = { answered: new Map(), notOwned: 0, sendErrors: 0 };
    return out;
  }
}

class OffloadConns implements PacketConnFactory {
  readonly offload = new FakeOffload();
  opened = 0;
  /** Frames each socket reports dropped at the next take. */
  backlog = 0;
  open(): PacketConn {
    this.opened += 1;
    const takeCounters = (): PacketConnCounters => {
      const n = this.backlog;
      this.backlog = 0;
      return { backlogDrops: n, fastPath: this.offload.take() };
    };
    return { send: () => true, joinGroup: () => undefined, leaveGroup: () => undefined, arpOffload: this.offload, takeCounters, close: () => undefined };
  }
}

function session(fastPath: boolean) {
  const conns = new OffloadConns();
  const registry = new Registry();
  const s = new InterfaceSession('eth0', 2, hex('020000000001'), { conns, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry), fastPath });
  return { conns, registry, s };
}

const ips = (...texts: string[]) => texts.map((t) => parseIp(t)!);

describe('InterfaceSession with a native ARP offload', () => {
  it('pushes the owned IPv4 table on every change, before setIps returns', () => {
    const { conns, s } = session(true);
    s.setIps(ips('10.0.0.100', '10.0.0.101', 'fd00::1'));
    expect(conns.offload.table).toEqual(['10.0.0.100', '10.0.0.101']);
    s.setIps(ips('10.0.0.101'));
    expect(conns.offload.table).toEqual(['10.0.0.101']);
    expect(conns.opened).toBe(2);
  });

  it('folds the native counters into the metrics', async () => {
    const { conns, registry, s } = session(true);
    s.setIps(ips('10.0.0.100'));
    conns.offload.next = { answered: new Map([[ipv4Key(hex('0a000064')), 5]]), notOwned: 7, sendErrors: 2 };
    s.flushCounters();
    expect(await registry.getSingleMetricAsString('ironlb_layer2_responses_sent_total')).toContain('{ip="10.0.0.100",interface="eth0"} 5');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_drops_total')).toContain('{reason="notOwned",interface="eth0"} 7');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_send_errors_total')).toContain('{interface="eth0"} 2');
  });

  it('counts frames the sockets dropped because JS fell behind, also with the fast path off', async () => {
    const { conns, registry, s } = session(false);
    s.setIps(ips('10.0.0.100'));
    conns.backlog = 3;
    s.flushCounters();
    expect(await registry.getSingleMetricAsString('ironlb_layer2_drops_total')).toContain('{reason="backlog",interface="eth0"} 3');
  });

  it('leaves the offload alone when the fast path is off (--js-arp)', () => {
    const { conns, s } = session(false);
    s.setIps(ips('10.0.0.100'));
    expect(conns.offload.enabled).toBe(false);
  });
});
