import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InterfaceSession } from '../../../src/layer2/interface-session.js';
import { createLayer2Metrics } from '../../../src/layer2/metrics.js';
import { formatIpv4, ipv4Key, parseIp } from '../../../src/layer2/packet/address.js';
import type { ArpOffload, ArpOffloadCounters, FramesHandler, PacketConn, PacketConnFactory, PacketKind } from '../../../src/layer2/packet-conn.js';
import { arpRequest, buildArp, buildGratuitousArp } from '../../../src/layer2/packet/arp.js';
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
    const takeBacklogDrops = (): number => {
      const n = this.backlog;
      this.backlog = 0;
      return n;
    };
    return { send: () => true, joinGroup: () => undefined, leaveGroup: () => undefined, arpOffload: this.offload, takeBacklogDrops, close: () => undefined };
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

/** One socket per kind whose received frames the test delivers by hand. */
class HandFedConns implements PacketConnFactory {
  readonly feeds = new Map<PacketKind, FramesHandler>();
  open(_iface: { readonly name: string; readonly index: number }, kind: PacketKind, onFrames: FramesHandler): PacketConn {
    this.feeds.set(kind, onFrames);
    return { send: () => true, joinGroup: () => undefined, leaveGroup: () => undefined, arpOffload: undefined, takeBacklogDrops: () => 0, close: () => undefined };
  }
}

describe('InterfaceSession reports conflicts (the split-brain guard)', () => {
  const ours = hex('020000000001');
  const theirs = new Uint8Array([2, 0, 0, 0, 0, 2]);
  const ip = new Uint8Array([192, 0, 2, 10]);
  it.each([
    { name: 'gratuitous request from another MAC', frame: buildGratuitousArp(theirs, ip)[0], want: [['192.0.2.10', '02:00:00:00:00:02', 'eth0']] },
    { name: 'our own gratuitous ARP', frame: buildGratuitousArp(ours, ip)[0], want: [] },
    { name: 'an IP we do not announce', frame: buildGratuitousArp(theirs, new Uint8Array([192, 0, 2, 11]))[0], want: [] },
    {
      name: 'an ordinary request for our IP from a client',
      frame: buildArp({ op: arpRequest, ethSrc: theirs, ethDst: new Uint8Array(6).fill(255), senderMac: theirs, senderIp: new Uint8Array([192, 0, 2, 100]), targetMac: new Uint8Array(6), targetIp: ip }),
      want: [],
    },
    { name: 'a truncated frame', frame: new Uint8Array(20), want: [] },
  ])('$name', ({ frame, want }) => {
    const conns = new HandFedConns();
    const seen: string[][] = [];
    const s = new InterfaceSession('eth0', 2, ours, {
      conns,
      logger: pino({ level: 'silent' }),
      metrics: createLayer2Metrics(new Registry()),
      fastPath: true,
      onConflict: (...args) => { seen.push(args); },
    });
    s.setIps(ips('192.0.2.10'));
    conns.feeds.get('arp')?.([frame], []);
    expect(seen).toEqual(want);
  });
});
