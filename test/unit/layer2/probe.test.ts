import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAnnouncer, probeLingerMs } from '../../../src/layer2/announcer.js';
import type { NetInterface } from '../../../src/layer2/interfaces.js';
import { createLayer2Metrics } from '../../../src/layer2/metrics.js';
import { buildArp, buildArpProbe, buildGratuitousArp, arpReply, arpRequest } from '../../../src/layer2/packet/arp.js';
import { formatMac, parseIp, parseIpv4, parseMac } from '../../../src/layer2/packet/address.js';
import { broadcastMac } from '../../../src/layer2/packet/ethernet.js';
import { buildDadSolicitation, buildUnsolicitedAdvertisement, parseNeighborSolicitation } from '../../../src/layer2/packet/ndp.js';
import { claimant } from '../../../src/layer2/probe.js';
import { respondNdp } from '../../../src/layer2/responder.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { startTestAnnouncer, type TestAnnouncer } from '../../helpers/test-announcer.js';

const ours = parseMac('02:00:00:00:00:01')!;
const other = parseMac('02:00:00:00:00:99')!;
const ip4 = parseIp('10.0.0.100')!;
const ip6 = parseIp('fd00::100')!;
const zero4 = new Uint8Array(4);
const zeroMac = new Uint8Array(6);

const arpFrom = (op: number, mac: Uint8Array, sender: Uint8Array, target: Uint8Array): Uint8Array =>
  buildArp({ ethDst: broadcastMac, ethSrc: mac, op, senderMac: mac, senderIp: sender, targetMac: zeroMac, targetIp: target });

describe('claimant: which frames mean another host uses the address (RFC 5227 2.1.1, RFC 4862 5.4)', () => {
  it.each([
    { name: 'an ARP reply from the address (the answer to our probe)', frame: arpFrom(arpReply, other, ip4.bytes, zero4), want: '02:00:00:00:00:99' },
    { name: 'a gratuitous ARP request for the address', frame: buildGratuitousArp(other, ip4.bytes)[0], want: '02:00:00:00:00:99' },
    { name: 'an ordinary request from a host using the address', frame: arpFrom(arpRequest, other, ip4.bytes, parseIpv4('10.0.0.1')!), want: '02:00:00:00:00:99' },
    { name: 'another host probing for the address', frame: buildArpProbe(other, ip4.bytes), want: '02:00:00:00:00:99' },
    { name: 'our own probe (a loop)', frame: buildArpProbe(ours, ip4.bytes), want: undefined },
    { name: 'our own gratuitous ARP', frame: buildGratuitousArp(ours, ip4.bytes)[1], want: undefined },
    { name: 'a request for the address from a host with another address', frame: arpFrom(arpRequest, other, parseIpv4('10.0.0.7')!, ip4.bytes), want: undefined },
    { name: 'a probe for another address', frame: buildArpProbe(other, parseIpv4('10.0.0.101')!), want: undefined },
  ])('IPv4: $name', ({ frame, want }) => {
    expect(claimant(frame, ip4, ours)).toBe(want);
  });

  it.each([
    { name: 'an NA for the address (the answer to our DAD probe)', frame: buildUnsolicitedAdvertisement(other, ip6.bytes), want: '02:00:00:00:00:99' },
    { name: 'another host\'s DAD probe for the address', frame: buildDadSolicitation(other, ip6.bytes), want: '02:00:00:00:00:99' },
    { name: 'our own NA', frame: buildUnsolicitedAdvertisement(ours, ip6.bytes), want: undefined },
    { name: 'our own DAD probe', frame: buildDadSolicitation(ours, ip6.bytes), want: undefined },
    { name: 'an NA for another address', frame: buildUnsolicitedAdvertisement(other, parseIp('fd00::101')!.bytes), want: undefined },
  ])('IPv6: $name', ({ frame, want }) => {
    expect(claimant(frame, ip6, ours)).toBe(want);
  });

  it.each([
    { name: 'another host probing for it is a question, not a claim', frame: buildArpProbe(other, ip4.bytes), ip: ip4, want: undefined },
    { name: 'another host\'s DAD probe likewise', frame: buildDadSolicitation(other, ip6.bytes), ip: ip6, want: undefined },
    { name: 'a host answering for it still claims it', frame: arpFrom(arpReply, other, ip4.bytes, zero4), ip: ip4, want: '02:00:00:00:00:99' },
    { name: 'an NA for it from another MAC still claims it', frame: buildUnsolicitedAdvertisement(other, ip6.bytes), ip: ip6, want: '02:00:00:00:00:99' },
  ])('self-check of an owned address (a standby probes it, docs/election.md): $name', ({ frame, ip, want }) => {
    expect(claimant(frame, ip, ours, true)).toBe(want);
  });

  it('the DAD probe is a valid solicitation from :: to the solicited-node group, without options (RFC 4861 7.1.1)', () => {
    const ns = parseNeighborSolicitation(buildDadSolicitation(ours, ip6.bytes));
    expect(ns.ok).toBe(true);
    if (!ns.ok) return;
    expect(ns.value.sourceLinkAddress).toBeUndefined();
    expect(formatMac(ns.value.ethSrc)).toBe('02:00:00:00:00:01');
  });

  it('the responder counts an NA from another MAC for an owned address as a conflict, and never answers an NA', () => {
    const view = { mac: ours, ownsIpv4: () => false, ownsIpv6: (k: string) => k === ip6.key };
    expect(respondNdp(buildUnsolicitedAdvertisement(other, ip6.bytes), view)).toEqual({ kind: 'drop', reason: 'conflict' });
    expect(respondNdp(buildUnsolicitedAdvertisement(ours, ip6.bytes), view)).toEqual({ kind: 'drop', reason: 'notRequest' });
    expect(respondNdp(buildUnsolicitedAdvertisement(other, parseIp('fd00::101')!.bytes), view)).toEqual({ kind: 'drop', reason: 'notRequest' });
  });
});

const eth0: NetInterface = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true, noArp: false, loopback: false, member: false,
  prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 24 }], defaultRoute4: false, defaultRoute6: true,
};

/** A FakeClock that runs `onWake` (once) as a sleep ends, before the sleeper continues: something that happened while the process was busy. */
class BusyClock extends FakeClock {
  onWake: (() => void) | undefined;
  /** How far behind the process runs: what its clock reads beyond the time its sleeps wake at. */
  lagMs = 0;
  override now(): number {
    return super.now() + this.lagMs;
  }
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    const hook = this.onWake;
    this.onWake = undefined;
    hook?.();
  }
}

const setup = <C extends FakeClock = FakeClock>(clock?: C): TestAnnouncer<C> => startTestAnnouncer([eth0], clock);

const isProbe = (f: Uint8Array): boolean => f[12] === 0x08 && f[13] === 0x06 && f.subarray(28, 32).every((b) => b === 0);

describe('announcer.probe over an in-memory PacketConn', () => {
  it('sends three ARP probes over 400 ms and finds the address clear after 600 ms, answering nothing meanwhile', async () => {
    const t = setup();
    await t.clock.advance(0);
    const result = t.announcer.probe('10.0.0.100');
    await t.clock.advance(10);
    const arp = t.conns.opened.find((c) => c.kind === 'arp')!;
    // A request for the probed address is not answered: we do not own it yet.
    expect(arp.deliver(arpFrom(arpRequest, other, parseIpv4('10.0.0.7')!, ip4.bytes))).toHaveLength(0);
    await t.clock.advance(590);
    expect(await result).toEqual({ kind: 'clear', interfaces: ['eth0'] });
    expect(arp.sent.filter(isProbe)).toHaveLength(3);
    expect(await t.registry.getSingleMetricAsString('ironlb_layer2_probes_sent_total')).toContain('interface="eth0"} 3');
    // Nothing owned or probed: the session lingers for the next probe, then goes.
    expect(arp.closed).toBe(false);
    await t.clock.advance(probeLingerMs + 2000);
    expect(arp.closed).toBe(true);
    t.stop.abort();
    await t.running;
  });

  it('a node that owns nothing keeps its socket across a standby\'s probe rounds (500 ms apart), answering nothing', async () => {
    const t = setup();
    await t.clock.advance(0);
    for (let round = 0; round < 4; round += 1) {
      const result = t.announcer.probe('10.0.0.100', undefined, { answersOnly: true });
      await t.clock.advance(600);
      expect(await result).toEqual({ kind: 'clear', interfaces: ['eth0'] });
      await t.clock.advance(100);
    }
    // One ARP socket for all four rounds, not one per round.
    const arps = t.conns.opened.filter((c) => c.kind === 'arp');
    expect(arps).toHaveLength(1);
    const arp = arps[0]!;
    expect(arp.closed).toBe(false);
    expect(arp.deliver(arpFrom(arpRequest, other, parseIpv4('10.0.0.7')!, ip4.bytes))).toHaveLength(0);
    // Owned and then released while it lingers: no longer answered.
    t.announcer.setOwned(['10.0.0.100']);
    await t.clock.advance(10);
    expect(arp.deliver(arpFrom(arpRequest, other, parseIpv4('10.0.0.7')!, ip4.bytes)).length).toBeGreaterThan(0);
    t.announcer.setOwned([]);
    await t.clock.advance(10);
    expect(arp.deliver(arpFrom(arpRequest, other, parseIpv4('10.0.0.7')!, ip4.bytes))).toHaveLength(0);
    t.stop.abort();
    await t.running;
  });

  it('hears an answer that reached the socket while the process was busy past the window, before judging it silent', async () => {
    const t = setup(new BusyClock());
    await t.clock.advance(0);
    const result = t.announcer.probe('10.0.0.100', undefined, { answersOnly: true });
    await t.clock.advance(410);
    const arp = t.conns.opened.find((c) => c.kind === 'arp')!;
    expect(arp.sent.filter(isProbe)).toHaveLength(3);
    // The owner answered in time, but this process only gets to it after the window's timer has
    // fired: the frame waits for the event loop's I/O phase, behind the expired timer.
    t.clock.onWake = () => {
      setImmediate(() => arp.deliver(buildArp({ ethDst: ours, ethSrc: other, op: arpReply, senderMac: other, senderIp: ip4.bytes, targetMac: ours, targetIp: zero4 })));
    };
    await t.clock.advance(190);
    expect(await result).toEqual({ kind: 'conflict', mac: '02:00:00:00:00:99', iface: 'eth0' });
    t.stop.abort();
    await t.running;
  });

  it('gives the last probe the rest of the window after it actually went out, when the process got the CPU late', async () => {
    const t = setup(new BusyClock());
    await t.clock.advance(0);
    const result = t.announcer.probe('10.0.0.100', undefined, { answersOnly: true });
    await t.clock.advance(200);
    // From here the process runs a second late: the third probe goes out at 1.4 s of its clock,
    // after the planned end of the window (0.6 s).
    t.clock.lagMs = 1000;
    await t.clock.advance(200);
    const arp = t.conns.opened.find((c) => c.kind === 'arp')!;
    expect(arp.sent.filter(isProbe)).toHaveLength(3);
    // The owner answers the late probe at once.
    arp.deliver(buildArp({ ethDst: ours, ethSrc: other, op: arpReply, senderMac: other, senderIp: ip4.bytes, targetMac: ours, targetIp: zero4 }));
    await t.clock.advance(200);
    expect(await result).toEqual({ kind: 'conflict', mac: '02:00:00:00:00:99', iface: 'eth0' });
    t.stop.abort();
    await t.running;
  });

  it('reports the first host that answers, at once', async () => {
    const t = setup();
    await t.clock.advance(0);
    const result = t.announcer.probe('10.0.0.100');
    await t.clock.advance(10);
    const arp = t.conns.opened.find((c) => c.kind === 'arp')!;
    arp.deliver(buildArp({ ethDst: ours, ethSrc: other, op: arpReply, senderMac: other, senderIp: ip4.bytes, targetMac: ours, targetIp: zero4 }));
    await t.clock.advance(0);
    expect(await result).toEqual({ kind: 'conflict', mac: '02:00:00:00:00:99', iface: 'eth0' });
    expect(arp.sent.filter(isProbe)).toHaveLength(1);
    t.stop.abort();
    await t.running;
  });

  it('IPv6: joins the solicited-node group while probing, and an NA from another host is a conflict', async () => {
    const t = setup();
    await t.clock.advance(0);
    const result = t.announcer.probe('fd00::100');
    await t.clock.advance(10);
    const ndp = t.conns.opened.find((c) => c.kind === 'ndp')!;
    expect([...ndp.groups]).toEqual(['33:33:ff:00:01:00']);
    expect(ndp.sent).toHaveLength(1);
    ndp.deliver(buildUnsolicitedAdvertisement(other, ip6.bytes));
    expect(await result).toEqual({ kind: 'conflict', mac: '02:00:00:00:00:99', iface: 'eth0' });
    t.stop.abort();
    await t.running;
  });

  it('an address no interface would carry is not probed', async () => {
    const t = setup();
    await t.clock.advance(0);
    const none = createAnnouncer({
      conns: t.conns, interfaces: { list: () => Promise.resolve([{ ...eth0, defaultRoute4: false, defaultRoute6: false }]) }, clock: t.clock, logger: pino({ level: 'silent' }),
      metrics: createLayer2Metrics(new Registry()), policy: { patterns: [], explicit: false }, timing: { burstOffsetsMs: [0], reannounceMs: 0, pollMs: 2000 }, fastPath: true,
    });
    expect(await none.probe('192.168.9.9')).toEqual({ kind: 'noInterface' });
    t.stop.abort();
    await t.running;
  });
});
