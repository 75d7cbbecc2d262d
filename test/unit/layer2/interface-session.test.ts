import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InterfaceSession } from '../../../src/layer2/interface-session.js';
import { createLayer2Metrics } from '../../../src/layer2/metrics.js';
import { formatIpv4, formatIpv6, ipv4Key, ipv6Key, parseIp } from '../../../src/layer2/packet/address.js';
import type { ArpOffload, ArpOffloadCounters, FramesHandler, NdpOffload, NdpOffloadCounters, PacketConn, PacketConnCounters, PacketConnFactory, PacketKind } from '../../../src/layer2/packet-conn.js';
import type { NeighborOffload, NeighborOffloadFactory, OffloadRefusal } from '../../../src/layer2/neighbor-offload.js';
import { err, ok, type Result } from '../../../src/shared/result.js';
import { arpRequest, buildArp, buildGratuitousArp } from '../../../src/layer2/packet/arp.js';
import type { DropReason } from '../../../src/layer2/responder.js';
import { hex } from './fixtures.js';

/** Records the table the session pushes; returns counters the test sets. */
class FakeOffload implements ArpOffload {
  table: string[] = [];
  enabled = false;
  /** Calls of set and disable: each copies or drops the whole table in the addon. */
  pushes = 0;
  next: ArpOffloadCounters = { answered: new Map(), notOwned: 0, sendErrors: 0 };
  set(_mac: Uint8Array, ipv4: readonly Uint8Array[]): void {
    this.pushes += 1;
    this.enabled = true;
    this.table = ipv4.map((ip) => formatIpv4(ip));
  }
  disable(): void {
    this.pushes += 1;
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
  private handler: FramesHandler | undefined;
  /** Hands `frames` to the session as the ARP socket's receiver would (not answered by the fast path). */
  deliver(frames: readonly Uint8Array[]): void {
    this.handler?.(frames.map((f) => Buffer.from(f)), []);
  }
  open(_iface: { readonly name: string; readonly index: number }, _kind: PacketKind, onFrames: FramesHandler): PacketConn {
    this.handler = onFrames;
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

  it.each([
    { name: 'a probe before announcing an address not owned here', probe: '10.0.0.9', answersOnly: false, off: true },
    { name: 'a standby checking its owner (answers only)', probe: '10.0.0.9', answersOnly: true, off: false },
    { name: 'a self-check of an owned address', probe: '10.0.0.100', answersOnly: false, off: false },
  ])('while $name runs, the fast path is off only if the probe needs the requests it drops', ({ probe, answersOnly, off }) => {
    const { conns, s } = session(true);
    s.setIps(ips('10.0.0.100'));
    const stop = s.startProbe(parseIp(probe)!, () => undefined, answersOnly);
    expect(conns.offload.enabled).toBe(!off);
    stop();
    expect(conns.offload).toMatchObject({ enabled: true, table: ['10.0.0.100'] });
  });

  it('still sees the owner\'s answer to a standby\'s probe with the fast path on', () => {
    const { conns, s } = session(true);
    s.setIps(ips('10.0.0.100'));
    const claims: string[] = [];
    s.startProbe(parseIp('10.0.0.9')!, (mac) => claims.push(mac), true);
    expect(conns.offload.enabled).toBe(true);
    // The owner's reply to the probe: 10.0.0.9 is-at 02:00:00:00:00:09, to us (op 2, sender 10.0.0.9).
    const owner = hex('020000000009');
    const reply = buildArp({ ethDst: hex('020000000001'), ethSrc: owner, op: 2, senderMac: owner, senderIp: hex('0a000009'), targetMac: hex('020000000001'), targetIp: hex('00000000') });
    conns.deliver([reply]);
    expect(claims).toEqual(['02:00:00:00:00:09']);
  });

  it('pushes the table only when it or the fast path\'s state changes: not for the same owned set, nor for a standby\'s probe', () => {
    const { conns, s } = session(true);
    s.setIps(ips('10.0.0.100', '10.0.0.101'));
    const pushed = conns.offload.pushes;
    expect(s.setIps(ips('10.0.0.101', '10.0.0.100'))).toEqual([]);
    s.startProbe(parseIp('10.0.0.9')!, () => undefined, true)();
    expect(conns.offload.pushes).toBe(pushed);
    // A probe before a first announcement turns the fast path off and, when it stops, back on with the table.
    const stop = s.startProbe(parseIp('10.0.0.9')!, () => undefined, false);
    expect(conns.offload).toMatchObject({ enabled: false, pushes: pushed + 1 });
    s.setIps(ips('10.0.0.100', '10.0.0.101', '10.0.0.102'));
    expect(conns.offload.pushes).toBe(pushed + 1); // off while the probe runs: nothing to push
    stop();
    expect(conns.offload).toMatchObject({ enabled: true, pushes: pushed + 2, table: ['10.0.0.100', '10.0.0.101', '10.0.0.102'] });
  });

  it('leaves the offload alone when the fast path is off (--js-arp)', () => {
    const { conns, s } = session(false);
    s.setIps(ips('10.0.0.100'));
    expect(conns.offload.enabled).toBe(false);
  });
});

/** The NDP counterpart of FakeOffload. */
class FakeNdpOffload implements NdpOffload {
  table: string[] = [];
  enabled = false;
  next: NdpOffloadCounters = { answered: new Map(), notOwned: 0, sendErrors: 0 };
  set(_mac: Uint8Array, ipv6: readonly Uint8Array[]): void {
    this.enabled = true;
    this.table = ipv6.map((ip) => formatIpv6(ip));
  }
  disable(): void {
    this.enabled = false;
  }
  take(): NdpOffloadCounters {
    const out = this.next;
    this.next = { answered: new Map(), notOwned: 0, sendErrors: 0 };
    return out;
  }
}

/** ARP conns without a fast path, NDP conns with FakeNdpOffload. */
class NdpOffloadConns implements PacketConnFactory {
  readonly offload = new FakeNdpOffload();
  open(_iface: { readonly name: string; readonly index: number }, kind: PacketKind): PacketConn {
    const ndp = kind === 'ndp' ? this.offload : undefined;
    const takeCounters = (): PacketConnCounters => ({ backlogDrops: 0, fastPath: undefined, ndpFastPath: ndp?.take() });
    return { send: () => true, joinGroup: () => undefined, leaveGroup: () => undefined, arpOffload: undefined, ndpOffload: ndp, takeCounters, close: () => undefined };
  }
}

describe('InterfaceSession with a native NDP offload', () => {
  function ndpSession(fastPath: boolean) {
    const conns = new NdpOffloadConns();
    const registry = new Registry();
    const s = new InterfaceSession('eth0', 2, hex('020000000001'), { conns, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry), fastPath });
    return { conns, registry, s };
  }

  it('pushes the owned IPv6 table on every change, before setIps returns', () => {
    const { conns, s } = ndpSession(true);
    s.setIps(ips('fd00::1', 'fd00::2', '10.0.0.100'));
    expect(conns.offload.table).toEqual(['fd00::1', 'fd00::2']);
    s.setIps(ips('fd00::2'));
    expect(conns.offload.table).toEqual(['fd00::2']);
  });

  it('is off while an IPv6 probe runs, so other hosts\' DAD probes reach the check', () => {
    const { conns, s } = ndpSession(true);
    s.setIps(ips('fd00::1'));
    const stop = s.startProbe(parseIp('fd00::9')!, () => undefined);
    expect(conns.offload.enabled).toBe(false);
    stop();
    expect(conns.offload).toMatchObject({ enabled: true, table: ['fd00::1'] });
  });

  it('folds the native counters into the metrics', async () => {
    const { conns, registry, s } = ndpSession(true);
    s.setIps(ips('fd00::1'));
    conns.offload.next = { answered: new Map([[ipv6Key(parseIp('fd00::1')!.bytes), 4]]), notOwned: 6, sendErrors: 1 };
    s.flushCounters();
    expect(await registry.getSingleMetricAsString('ironlb_layer2_responses_sent_total')).toContain('{ip="fd00::1",interface="eth0"} 4');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_requests_received_total')).toContain('{ip="fd00::1",interface="eth0"} 4');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_drops_total')).toContain('{reason="notOwned",interface="eth0"} 6');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_send_errors_total')).toContain('{interface="eth0"} 1');
  });

  it('leaves the offload alone when the fast path is off', () => {
    const { conns, s } = ndpSession(false);
    s.setIps(ips('fd00::1'));
    expect(conns.offload.enabled).toBe(false);
  });
});

/** Records what the session pushes into the datapath responder; refuses when told to. */
class FakeDatapath implements NeighborOffloadFactory {
  attached = 0;
  closed = 0;
  /** Calls of set: each rewrites the program's maps. */
  sets = 0;
  owned: string[] = [];
  answered = new Map<string, number>();
  drops = new Map<DropReason, number>();
  /** Which frames the datapath says it judged (and counted) before passing them up. */
  judges: (kind: PacketKind, frame: Uint8Array) => boolean = () => false;
  refuse: OffloadRefusal | undefined;
  attach(): Result<NeighborOffload, OffloadRefusal> {
    if (this.refuse !== undefined) return err(this.refuse);
    this.attached += 1;
    return ok({
      set: (_mac, owned) => {
        this.sets += 1;
        this.owned = owned.map((ip) => ip.text);
      },
      take: () => {
        const out = { answered: this.answered, drops: this.drops };
        this.answered = new Map();
        this.drops = new Map();
        return out;
      },
      judged: (kind, frame) => this.judges(kind, frame),
      close: () => {
        this.closed += 1;
      },
    });
  }
}

function datapathSession() {
  const offloads = new FakeDatapath();
  const registry = new Registry();
  const conns = new OffloadConns();
  const s = new InterfaceSession('eth0', 2, hex('020000000001'), { conns, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry), fastPath: true, offloads });
  return { offloads, registry, s, conns };
}

describe('InterfaceSession with a datapath (XDP) responder', () => {
  it('attaches with the first owned IP and pushes every change before setIps returns', () => {
    const { offloads, s } = datapathSession();
    s.setIps([]);
    expect(offloads.attached).toBe(0);
    s.setIps(ips('10.0.0.100', 'fd00::1'));
    expect(offloads.owned).toEqual(['10.0.0.100', 'fd00::1']);
    s.setIps(ips('fd00::1'));
    expect(offloads.owned).toEqual(['fd00::1']);
    const sets = offloads.sets;
    s.setIps(ips('fd00::1'));
    expect(offloads.sets).toBe(sets); // the same set: the maps stay as they are
    s.setIps([]);
    expect(offloads.owned).toEqual([]);
    expect(offloads.attached).toBe(1);
    s.close();
    expect(offloads.closed).toBe(1);
  });

  it('counts its answers as requests received and responses sent', async () => {
    const { offloads, registry, s } = datapathSession();
    s.setIps(ips('10.0.0.100', 'fd00::1'));
    offloads.answered = new Map([['fd00::1', 4]]);
    s.flushCounters();
    expect(await registry.getSingleMetricAsString('ironlb_layer2_responses_sent_total')).toContain('{ip="fd00::1",interface="eth0"} 4');
    expect(await registry.getSingleMetricAsString('ironlb_layer2_requests_received_total')).toContain('{ip="fd00::1",interface="eth0"} 4');
  });

  it('counts the frames it judged and passed up as drops by reason, and the fast path does not count them again', async () => {
    const { conns, offloads, registry, s } = datapathSession();
    s.setIps(ips('10.0.0.100'));
    offloads.drops = new Map([['notOwned', 6], ['badHopLimit', 2]]);
    conns.offload.next = { answered: new Map(), notOwned: 6, sendErrors: 0 }; // the same six, seen again behind XDP
    s.flushCounters();
    const drops = await registry.getSingleMetricAsString('ironlb_layer2_drops_total');
    expect(drops).toContain('{reason="notOwned",interface="eth0"} 6');
    expect(drops).toContain('{reason="badHopLimit",interface="eth0"} 2');
  });

  it.each([
    { name: 'a frame the datapath judged is counted once, from its counters', judged: true, want: 0 },
    { name: 'a frame it left to userspace is counted by the AF_PACKET responder', judged: false, want: 1 },
  ])('$name', async ({ judged, want }) => {
    const offloads = new FakeDatapath();
    offloads.judges = () => judged;
    const conns = new HandFedConns();
    const registry = new Registry();
    const s = new InterfaceSession('eth0', 2, hex('020000000001'), { conns, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry), fastPath: true, offloads });
    s.setIps(ips('192.0.2.10'));
    const theirs = new Uint8Array([2, 0, 0, 0, 0, 2]);
    conns.feeds.get('arp')?.([buildArp({ op: arpRequest, ethSrc: theirs, ethDst: new Uint8Array(6).fill(255), senderMac: theirs, senderIp: new Uint8Array([192, 0, 2, 100]), targetMac: new Uint8Array(6), targetIp: new Uint8Array([192, 0, 2, 77]) })], []);
    const drops = (await registry.getMetricsAsJSON()).find((m) => m.name === 'ironlb_layer2_drops_total');
    expect(drops?.values.find((v) => v.labels.reason === 'notOwned')?.value ?? 0).toBe(want);
  });

  it('falls back to AF_PACKET once when the interface refuses it, and says so in the metrics', async () => {
    const { offloads, registry, s } = datapathSession();
    offloads.refuse = { reason: 'attach', message: 'EBUSY' };
    s.setIps(ips('10.0.0.100'));
    s.setIps(ips('10.0.0.100', '10.0.0.101'));
    expect(offloads.attached).toBe(0);
    expect(await registry.getSingleMetricAsString('ironlb_layer2_xdp_fallbacks_total')).toContain('{reason="attach"} 1');
  });
});

/** One socket per kind whose received frames the test delivers by hand. */
class HandFedConns implements PacketConnFactory {
  readonly feeds = new Map<PacketKind, FramesHandler>();
  open(_iface: { readonly name: string; readonly index: number }, kind: PacketKind, onFrames: FramesHandler): PacketConn {
    this.feeds.set(kind, onFrames);
    return { send: () => true, joinGroup: () => undefined, leaveGroup: () => undefined, arpOffload: undefined, takeCounters: () => ({ backlogDrops: 0, fastPath: undefined }), close: () => undefined };
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
