import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import type { EndpointView, NodeView } from '../../src/election/views.js';
import { defaultExpiryGraceMs } from '../../src/election/liveness.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import type { EventSink, EventType, ObjectRef } from '../../src/shared/event-sink.js';
import { ok, type Result } from '../../src/shared/result.js';
import { toInterfacesRecord } from '../../src/speaker/interfaces-record.js';
import type { SpeakerLeaseView } from '../../src/speaker/lease-view.js';
import { createSpeakerMetrics } from '../../src/speaker/metrics.js';
import { createSpeaker, type ProbeOutcome, type ServiceRecord, type Speaker } from '../../src/speaker/speaker.js';
import { FakeClock } from '../helpers/fake-clock.js';

const n = (s: string): NodeName => s as NodeName;
const ready = (node: string): EndpointView => ({ nodeName: n(node), ready: true, serving: true, terminating: false });

function config(): Config {
  const parsed = parseConfigYaml('address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.0/24]\n');
  if (!parsed.ok) throw new Error('bad test config');
  return parsed.value;
}

function record(name: string, ips: string[], endpoints: EndpointView[], trafficPolicy: 'Local' | 'Cluster' = 'Cluster'): ServiceRecord {
  return {
    service: { key: `ns/${name}` as ServiceKey, ips, trafficPolicy, endpoints },
    ref: { apiVersion: 'v1', kind: 'Service', namespace: 'ns', name },
  };
}

class FakeInputs {
  services: ServiceRecord[] = [];
  nodes: NodeView[] = ['a', 'b', 'c'].map((x) => ({ name: n(x), labels: {}, conditions: {} }));
  cfg: Config | undefined = config();
  /** Set while the Lease watch is down (SpeakerInputs.leaseViewLostAt). */
  lostAt: number | undefined;
}

class FakeAnnouncer {
  sets: string[][] = [];
  probes: string[] = [];
  defended: string[] = [];
  /** ip -> MAC of a host that answers probes for it */
  rogues = new Map<string, string>();
  /** ip -> MAC of another node probing it at the same moment: heard unless the probe counts answers only */
  probers = new Map<string, string>();
  /** The options of each probe, in order. */
  probeOptions: ({ readonly answersOnly?: boolean } | undefined)[] = [];
  setOwned(ips: Iterable<string>): Result<void, { message: string }> {
    this.sets.push([...ips]);
    return ok(undefined);
  }
  probe(ip: string, _signal?: AbortSignal, options?: { readonly answersOnly?: boolean }): Promise<ProbeOutcome> {
    this.probes.push(ip);
    this.probeOptions.push(options);
    const mac = this.rogues.get(ip) ?? (options?.answersOnly === true ? undefined : this.probers.get(ip));
    return Promise.resolve(mac === undefined ? { kind: 'clear' } : { kind: 'conflict', mac, iface: 'eth0' });
  }
  defend(ip: string): void {
    this.defended.push(ip);
  }
  get current(): string[] {
    return this.sets.at(-1) ?? [];
  }
}

class FakeMembership {
  until: number | undefined = 1_000_000;
  records: string[][] = [];
  annotations = new Map<string, string>();
  aliveUntil(): number | undefined {
    return this.until;
  }
  setRecord(ips: readonly string[]): void {
    this.records.push([...ips]);
  }
  setAnnotation(key: string, value: string): void {
    this.annotations.set(key, value);
  }
}

class RecordingEvents implements EventSink {
  emitted: string[] = [];
  emit(ref: ObjectRef, type: EventType, reason: string, message: string): void {
    this.emitted.push(`${ref.namespace ?? ''}/${ref.name} ${type} ${reason}: ${message}`);
  }
}

const lease = (node: string, version: string, extra: Partial<SpeakerLeaseView> = {}): SpeakerLeaseView => ({
  node: n(node),
  version,
  holderIdentity: node,
  leaseDurationSeconds: 3,
  acquireTime: '2026-01-01T00:00:00.000Z',
  renewTime: '2026-01-01T00:01:00.000Z',
  announcing: [],
  ...extra,
});

interface Rig {
  clock: FakeClock;
  inputs: FakeInputs;
  announcer: FakeAnnouncer;
  membership: FakeMembership;
  events: RecordingEvents;
  registry: Registry;
  speaker: Speaker;
  stop(): Promise<void>;
}

/** A speaker for node `self` with peers a, b, c alive (the hash is sha256: owners come out as computed). */
async function rig(self: string, services: ServiceRecord[], opts: { logger?: Logger; leases?: SpeakerLeaseView[] } = {}): Promise<Rig> {
  const clock = new FakeClock(0);
  const inputs = new FakeInputs();
  inputs.services = services;
  const announcer = new FakeAnnouncer();
  const membership = new FakeMembership();
  const events = new RecordingEvents();
  const registry = new Registry();
  const speaker = createSpeaker({
    self: n(self),
    inputs: { services: () => inputs.services, nodes: () => inputs.nodes, config: () => inputs.cfg, leaseViewLostAt: () => inputs.lostAt },
    announcer,
    membership,
    events,
    metrics: createSpeakerMetrics(registry),
    clock,
    logger: opts.logger ?? pino({ level: 'silent' }),
    options: { ignoreExcludeLabel: false, holdDownMs: 0, debounceMs: 10 },
  });
  for (const l of opts.leases ?? ['a', 'b', 'c'].map((x) => lease(x, '1'))) speaker.observeLease(l);
  const ac = new AbortController();
  const running = speaker.run(ac.signal, Promise.resolve());
  await clock.advance(20);
  return { clock, inputs, announcer, membership, events, registry, speaker, stop: async () => { ac.abort(); await running; } };
}

/** The node that owns `ip` among `nodes` by sha256 rendezvous. */
async function hashOwner(ip: string, nodes: string[]): Promise<string> {
  const { rendezvousOwner, sha256Hex } = await import('../../src/election/rendezvous.js');
  return rendezvousOwner(nodes.map(n), ip, sha256Hex) ?? '';
}

describe('speaker loop', () => {
  it('the owner announces, records, emits nodeAssigned once and exports the metric; others stay silent', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    for (const self of ['a', 'b', 'c']) {
      const r = await rig(self, [record('web', [ip], [ready('a')])]);
      r.speaker.changed();
      await r.clock.advance(50);
      const owns = self === owner;
      expect(r.announcer.current).toEqual(owns ? [ip] : []);
      expect(r.membership.records.at(-1)).toEqual(owns ? [ip] : []);
      expect(r.events.emitted).toEqual(owns ? [`ns/web Normal nodeAssigned: announcing from node ${self} with protocol layer2`] : []);
      const metric = await r.registry.getSingleMetricAsString('ironlb_speaker_announced');
      expect(metric.includes(`ironlb_speaker_announced{service="ns/web",ip="${ip}"} 1`)).toBe(owns);
      await r.stop();
    }
  });

  it('takes over when the owner Lease stops changing, at the expiry by local time, without a watch event', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const next = await hashOwner(ip, ['a', 'b', 'c'].filter((x) => x !== owner));
    const r = await rig(next, [record('web', [ip], [ready('a'), ready('b'), ready('c')])]);
    expect(r.announcer.current).toEqual([]);
    // peers other than the owner keep renewing
    for (let t = 1; t <= 2; t++) {
      for (const x of ['a', 'b', 'c'].filter((y) => y !== owner && y !== next)) r.speaker.observeLease(lease(x, String(t + 1)));
      await r.clock.advance(1000);
      expect(r.announcer.current).toEqual([]);
    }
    // The owner's duration (3 s) has run out, the expiry grace has not.
    await r.clock.advance(1100);
    expect(r.announcer.current).toEqual([]);
    await r.clock.advance(defaultExpiryGraceMs);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });

  it('does not take over while its Lease watch is down: peers stand as they were when it went down', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const next = await hashOwner(ip, ['a', 'b', 'c'].filter((x) => x !== owner));
    const r = await rig(next, [record('web', [ip], [ready('a'), ready('b'), ready('c')])]);
    expect(r.announcer.current).toEqual([]);
    // The watch goes down; nobody is seen renewing for far longer than the 3 s duration.
    r.inputs.lostAt = r.clock.now();
    r.speaker.changed();
    await r.clock.advance(10_000);
    expect(r.announcer.current, 'frozen: the owner still counts as alive').toEqual([]);
    // The watch is back and the relist shows the other peer renewed, the owner did not.
    r.inputs.lostAt = undefined;
    for (const x of ['a', 'b', 'c'].filter((y) => y !== owner && y !== next)) r.speaker.observeLease(lease(x, '2'));
    r.speaker.changed();
    await r.clock.advance(20);
    // The relist may come before the owner's first renewal after the outage: it counts as
    // renewed when the watch came back, and dies one duration (3 s) later unless it renews.
    expect(r.announcer.current, 'the owner counts as renewed when the watch came back').toEqual([]);
    await r.clock.advance(3000 + defaultExpiryGraceMs + 50);
    expect(r.announcer.current, 'the owner is judged dead one duration after the watch came back').toEqual([ip]);
    await r.stop();
  });

  it('keeps announcing its own IPs while its Lease watch is down and it can still renew', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const r = await rig(owner, [record('web', [ip], [ready('a'), ready('b'), ready('c')])]);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([ip]);
    r.inputs.lostAt = r.clock.now();
    r.speaker.changed();
    await r.clock.advance(10_000);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });

  it('a released Lease hands the IP over at once', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const next = await hashOwner(ip, ['a', 'b', 'c'].filter((x) => x !== owner));
    const r = await rig(next, [record('web', [ip], [ready('a'), ready('b'), ready('c')])]);
    r.speaker.observeLease(lease(owner, '2', { holderIdentity: '' }));
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });

  it('keeps the recorded owner (stickiness) even when the hash prefers another node', async () => {
    const ip = '192.0.2.10';
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const other = ['a', 'b', 'c'].find((x) => x !== owner) ?? '';
    const r = await rig(other, [record('web', [ip], [ready('a'), ready('b'), ready('c')])]);
    r.speaker.observeLease(lease(other, '2', { announcing: [ip] }));
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });

  /** The hash owner of `ip` among a, b, c, announcing it. */
  async function announcingOwner(ip: string): Promise<Rig> {
    const r = await rig(await hashOwner(ip, ['a', 'b', 'c']), [record('web', [ip], [ready('a')])]);
    r.speaker.changed();
    await r.clock.advance(20);
    return r;
  }

  it('stops announcing when its own Lease can no longer be renewed (API partition)', async () => {
    const ip = '192.0.2.10';
    const r = await announcingOwner(ip);
    expect(r.announcer.current).toEqual([ip]);
    r.membership.until = r.clock.now() + 3000;
    r.speaker.changed();
    await r.clock.advance(2900);
    expect(r.announcer.current).toEqual([ip]);
    await r.clock.advance(200);
    expect(r.announcer.current).toEqual([]);
    await r.stop();
  });

  it('a lapse of its own renewals silences it but keeps its Lease record; renewed, it answers again', async () => {
    const ip = '192.0.2.10';
    const r = await announcingOwner(ip);
    r.membership.until = r.clock.now() + 100;
    r.speaker.changed();
    await r.clock.advance(200);
    expect(r.announcer.current).toEqual([]);
    // Peers that saw no lapse keep reading it as the owner; an empty record would have them hash afresh.
    expect(r.membership.records.at(-1)).toEqual([ip]);
    r.membership.until = r.clock.now() + 3000;
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([ip]);
    // From its first announcement on (before it, the probe ran and the record was empty).
    const records = r.membership.records;
    expect(records.slice(records.findIndex((x) => x.length > 0)).every((x) => x.length === 1 && x[0] === ip)).toBe(true);
    await r.stop();
  });

  it.each([
    { name: 'IP outside every layer2 pool', ips: ['198.51.100.1'], cfg: 'default' },
    { name: 'no valid config yet', ips: ['192.0.2.10'], cfg: 'none' },
  ])('announces nothing: $name', async ({ ips, cfg }) => {
    const r = await rig('a', [record('web', ips, [ready('a')], 'Local')]);
    if (cfg === 'none') r.inputs.cfg = undefined;
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([]);
    await r.stop();
  });

  it('silence stops answering at once and for good', async () => {
    const r = await rig('a', [record('web', ['192.0.2.10'], [ready('a')], 'Local')]);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual(['192.0.2.10']);
    r.speaker.silence();
    expect(r.announcer.current).toEqual([]);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([]);
    await r.stop();
  });

  it('a conflict for an owned IP is counted and elects again without an Event storm', async () => {
    const r = await rig('a', [record('web', ['192.0.2.10'], [ready('a')], 'Local')]);
    r.speaker.changed();
    await r.clock.advance(20);
    r.speaker.conflict('192.0.2.10', '02:00:00:00:00:99', 'eth0');
    r.speaker.conflict('192.0.2.99', '02:00:00:00:00:99', 'eth0');
    await r.clock.advance(20);
    const metric = await r.registry.getSingleMetricAsString('ironlb_speaker_ip_conflicts_total');
    expect(metric).toContain('ironlb_speaker_ip_conflicts_total{ip="192.0.2.10"} 1');
    expect(metric).not.toContain('192.0.2.99');
    expect(r.events.emitted).toHaveLength(1);
    expect(r.announcer.current).toEqual(['192.0.2.10']);
    await r.stop();
  });

  it('Local policy follows the endpoints; a resync that changes nothing emits no Event', async () => {
    const r = await rig('b', [record('web', ['192.0.2.10'], [ready('a')], 'Local')]);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([]);
    r.inputs.services = [record('web', ['192.0.2.10'], [ready('b')], 'Local')];
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual(['192.0.2.10']);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.events.emitted).toEqual(['ns/web Normal nodeAssigned: announcing from node b with protocol layer2']);
    await r.stop();
  });

  describe('address conflicts (speaker/conflicts.ts)', () => {
    const ip = '192.0.2.10';
    const rogue = '02:00:00:00:00:99';

    it('a burst of probe results is applied in one pass: 10,000 new IPs are announced within seconds, not minutes', async () => {
      // Every address of a new owner is probed at once and the results come back together. Applied
      // one at a time, each copied the address state (10,000 entries): 300 million set entries for
      // this burst, a minute of CPU (docs/speaker.md, "Memory").
      const count = 10_000;
      const ips = Array.from({ length: count }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      const r = await rig('a', ips.map((ip, i) => record(`s${String(i)}`, [ip], [ready('a')])), { leases: [lease('a', '1')] });
      const parsed = parseConfigYaml('address-pools:\n- name: big\n  protocol: layer2\n  addresses: [10.0.0.0/16]\n');
      if (!parsed.ok) throw new Error('bad test config');
      r.inputs.cfg = parsed.value;
      const started = performance.now();
      r.speaker.changed();
      for (let i = 0; i < 20 && r.announcer.current.length < count; i++) await r.clock.advance(20);
      const ms = performance.now() - started;
      expect(r.announcer.probes).toHaveLength(count);
      expect(r.announcer.current).toHaveLength(count);
      expect(ms, 'wall-clock time to apply the burst (one at a time: ~27 s here)').toBeLessThan(10_000);
      await r.stop();
    }, 60_000);

    it('probes an IP nobody announced before its first announcement; a takeover of a recorded IP is not probed', async () => {
      const owner = await hashOwner(ip, ['a', 'b', 'c']);
      const r = await rig(owner, [record('web', [ip], [ready('a')])]);
      r.speaker.changed();
      await r.clock.advance(20);
      expect(r.announcer.probes).toEqual([ip]);
      expect(r.announcer.current).toEqual([ip]);
      await r.stop();
      // Another node's record lists the IP: announced before, so taken over at once when it goes.
      const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
      const t = await rig(owner, []);
      t.speaker.observeLease(lease(other, '2', { announcing: [ip] }));
      t.inputs.services = [record('web', [ip], [ready('a')])];
      t.speaker.changed();
      await t.clock.advance(20);
      expect(t.announcer.current).toEqual([]);
      t.speaker.forgetLease(n(other));
      await t.clock.advance(20);
      expect(t.announcer.probes).toEqual([]);
      expect(t.announcer.current).toEqual([ip]);
      await t.stop();
    });

    it('an answered probe: not announced, a Warning Event, the gauge and the Lease record; a clear re-probe lifts it', async () => {
      const owner = await hashOwner(ip, ['a', 'b', 'c']);
      const r = await rig(owner, []);
      r.announcer.rogues.set(ip, rogue);
      r.inputs.services = [record('web', [ip], [ready('a')])];
      r.speaker.changed();
      await r.clock.advance(50);
      expect(r.announcer.current).toEqual([]);
      expect(r.events.emitted).toEqual([`ns/web Warning AddressConflict: IP ${ip} is in use by another host on the LAN (MAC ${rogue}, seen on eth0); not announced until it leaves`]);
      expect(await r.registry.getSingleMetricAsString('ironlb_address_conflicts')).toContain(`ironlb_address_conflicts{ip="${ip}"} 1`);
      expect(JSON.parse(r.membership.annotations.get('ironlb.io/conflicts') ?? '')).toEqual([{ ip, mac: rogue, interface: 'eth0', since: '2026-01-01T00:00:00Z' }]);
      // Still there at the next re-probe (30 s): still withheld, no second Event.
      await r.clock.advance(30_000);
      expect(r.announcer.probes).toEqual([ip, ip]);
      expect(r.announcer.current).toEqual([]);
      expect(r.events.emitted).toHaveLength(1);
      r.announcer.rogues.delete(ip);
      await r.clock.advance(30_000);
      expect(r.announcer.current).toEqual([ip]);
      expect(r.membership.annotations.get('ironlb.io/conflicts')).toBe('');
      expect(await r.registry.getSingleMetricAsString('ironlb_address_conflicts')).not.toContain(ip);
      await r.stop();
    });

    it('a quarantine lifts once the other host leaves, though another node re-probes the address at the same moments', async () => {
      const owner = await hashOwner(ip, ['a', 'b', 'c']);
      const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
      const peerMac = '02:00:00:00:00:0b';
      const r = await rig(owner, [], { leases: ['a', 'b', 'c'].map((x) => lease(x, '1', x === other ? { interfaces: toInterfacesRecord(`eth0=${peerMac};192.0.2.0/24`) } : {})) });
      r.announcer.rogues.set(ip, rogue);
      r.inputs.services = [record('web', [ip], [ready('a')])];
      r.speaker.changed();
      await r.clock.advance(50);
      expect(JSON.parse(r.membership.annotations.get('ironlb.io/conflicts') ?? '')).toMatchObject([{ ip, mac: rogue }]);
      // The controller moves the Service off the address; the quarantine stays. The other host
      // leaves, and the other node, which saw the conflict at the same moment, probes with us.
      r.inputs.services = [];
      r.speaker.changed();
      r.announcer.rogues.delete(ip);
      r.announcer.probers.set(ip, peerMac);
      await r.clock.advance(30_000);
      expect(r.announcer.probes).toEqual([ip, ip]);
      expect(r.announcer.probeOptions).toEqual([undefined, { answersOnly: true }]);
      expect(r.membership.annotations.get('ironlb.io/conflicts')).toBe('');
      expect(await r.registry.getSingleMetricAsString('ironlb_address_conflicts')).not.toContain(ip);
      await r.stop();
    });

    it('a claim while owning is defended once; a second one within 10 s is a conflict (no ARP war)', async () => {
      const r = await announcingOwner(ip);
      expect(r.announcer.current).toEqual([ip]);
      r.speaker.conflict(ip, rogue, 'eth0');
      await r.clock.advance(20);
      expect(r.announcer.defended).toEqual([ip]);
      expect(r.announcer.current).toEqual([ip]);
      r.speaker.conflict(ip, rogue, 'eth0');
      r.speaker.conflict(ip, rogue, 'eth0');
      await r.clock.advance(20);
      expect(r.announcer.defended).toEqual([ip]);
      expect(r.announcer.current).toEqual([]);
      expect(r.events.emitted.filter((e) => e.includes('AddressConflict'))).toHaveLength(1);
      await r.stop();
    });

    it('a claim by a known node\'s MAC is reported naming the node, and does not stop the announcement', async () => {
      const owner = await hashOwner(ip, ['a', 'b', 'c']);
      const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
      const clock = new FakeClock(0);
      const announcer = new FakeAnnouncer();
      const membership = new FakeMembership();
      const events = new RecordingEvents();
      const speaker = createSpeaker({
        self: n(owner),
        inputs: { services: () => [record('web', [ip], [ready('a')])], nodes: () => ['a', 'b', 'c'].map((x) => ({ name: n(x), labels: {}, conditions: {} })), config, leaseViewLostAt: () => undefined },
        announcer, membership, events, metrics: createSpeakerMetrics(new Registry()), clock, logger: pino({ level: 'silent' }),
        options: { ignoreExcludeLabel: false, holdDownMs: 0, debounceMs: 10 },
      });
      // the other node's speaker publishes the MAC in its interfaces record
      for (const x of ['a', 'b', 'c']) speaker.observeLease(lease(x, '1', x === other ? { interfaces: toInterfacesRecord('eth0=02:00:00:00:00:0b;192.0.2.0/24') } : {}));
      const ac = new AbortController();
      const running = speaker.run(ac.signal, Promise.resolve());
      await clock.advance(50);
      for (let i = 0; i < 2; i++) speaker.conflict(ip, '02:00:00:00:00:0b', 'eth0');
      await clock.advance(20);
      expect(announcer.current).toEqual([ip]);
      expect(events.emitted.at(-1)).toContain(`AddressConflict: IP ${ip} is also answered by node ${other}`);
      expect(JSON.parse(membership.annotations.get('ironlb.io/conflicts') ?? '')).toEqual([{ ip, mac: '02:00:00:00:00:0b', interface: 'eth0', node: other, since: '2026-01-01T00:00:00Z' }]);
      ac.abort();
      await running;
    });
  });
});

describe('speaker loop: joining once its own Lease is seen', () => {
  const ip = '192.0.2.10';
  it('takes nothing while its Lease watch has not shown its own Lease, however alone it looks', async () => {
    // All speakers of a DaemonSet start at once: a list taken before the others (and this node)
    // wrote their Leases shows nobody. Electing then, this node was the only candidate for every
    // IP (and, with no Lease times of its own, counted itself settled), probed them all, and took
    // over the IPs its peers announced meanwhile (1,000 members: two answers for hundreds of IPs).
    const r = await rig('a', [record('web', [ip], [ready('a')])], { leases: [] });
    expect(r.announcer.current).toEqual([]);
    expect(r.announcer.probes).toEqual([]);
    // Its own Lease comes, with the peers' written before it: it elects among them.
    for (const x of ['b', 'c', 'a']) r.speaker.observeLease(lease(x, '1'));
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual((await hashOwner(ip, ['a', 'b', 'c'])) === 'a' ? [ip] : []);
    // A Lease of its own that another holds (released, reaped) is not this node joining.
    const b = await rig('b', [record('web', [ip], [ready('a')])], { leases: [lease('b', '1', { holderIdentity: '' })] });
    expect(b.announcer.current).toEqual([]);
    await r.stop();
    await b.stop();
  });
});

describe('speaker loop: a late takeover', () => {
  const ip = '192.0.2.10';
  it('probes first, counting answers only (not a standby\'s check of the leaving owner)', async () => {
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const previous = ['a', 'b', 'c'].find((x) => x !== owner)!;
    const excluded = { 'node.kubernetes.io/exclude-from-external-load-balancers': '' };
    const r = await rig(owner, [record('web', [ip], [ready('a')])], { leases: ['a', 'b', 'c'].map((x) => lease(x, '1', x === previous ? { announcing: [ip] } : {})) });
    // This node may not announce at first; the previous owner holds the IP, then releases it.
    r.inputs.nodes = ['a', 'b', 'c'].map((x) => ({ name: n(x), labels: x === owner ? excluded : {}, conditions: {} }));
    r.speaker.changed();
    await r.clock.advance(20);
    r.speaker.observeLease(lease(previous, '2', { holderIdentity: '' }));
    await r.clock.advance(20);
    expect(r.announcer.probes).toEqual([]);
    // Eligible again a second later: the IP left its owner longer ago than a takeover is trusted.
    await r.clock.advance(1000);
    r.inputs.nodes = ['a', 'b', 'c'].map((x) => ({ name: n(x), labels: {}, conditions: {} }));
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.announcer.probes).toEqual([ip]);
    expect(r.announcer.probeOptions).toEqual([{ answersOnly: true }]);
    await r.clock.advance(700);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });
});

describe('speaker loop: a node heard answering an IP this node was elected for', () => {
  const ip = '192.0.2.10';
  it('is waited for (re-probed every second, answers only), not answered beside; taken once it is silent', async () => {
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
    const otherMac = '02:00:00:00:00:0b';
    // The other node announces the IP in its own view; ours has not seen its record yet.
    const r = await rig(owner, [], { leases: ['a', 'b', 'c'].map((x) => lease(x, '1', x === other ? { interfaces: toInterfacesRecord(`eth0=${otherMac};192.0.2.0/24`) } : {})) });
    r.announcer.rogues.set(ip, otherMac);
    r.inputs.services = [record('web', [ip], [ready('a')])];
    r.speaker.changed();
    await r.clock.advance(700);
    expect(r.announcer.probes).toEqual([ip]);
    expect(r.announcer.current).toEqual([]);
    await r.clock.advance(1000);
    expect(r.announcer.probes).toEqual([ip, ip]);
    expect(r.announcer.probeOptions.at(-1)).toEqual({ answersOnly: true });
    expect(r.announcer.current).toEqual([]);
    expect(r.events.emitted.filter((e) => e.includes('AddressConflict'))).toEqual([]);
    // It lets the IP go: the next probe hears nobody, and this node announces.
    r.announcer.rogues.delete(ip);
    await r.clock.advance(1100);
    expect(r.announcer.current).toEqual([ip]);
    await r.stop();
  });
});

describe('speaker loop: the MAC -> node map follows the published records', () => {
  const ip = '192.0.2.10';
  it('a MAC a peer publishes after an earlier claim was read is attributed to that peer', async () => {
    const owner = await hashOwner(ip, ['a', 'b', 'c']);
    const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
    const r = await rig(owner, [record('web', [ip], [ready('a')])]);
    expect(r.announcer.current).toEqual([ip]);
    // A first claim reads the map while nobody publishes the MAC: defended once, nothing more.
    r.speaker.conflict(ip, '02:00:00:00:00:0b', 'eth0');
    await r.clock.advance(20);
    // The peer's record with the MAC arrives; the next claims name it.
    r.speaker.observeLease(lease(other, '2', { interfaces: toInterfacesRecord('eth0=02:00:00:00:00:0b;192.0.2.0/24') }));
    r.speaker.conflict(ip, '02:00:00:00:00:0b', 'eth0');
    await r.clock.advance(20);
    expect(r.events.emitted.at(-1)).toContain(`AddressConflict: IP ${ip} is also answered by node ${other}`);
    await r.stop();
  });
});

describe('speaker loop: reach (published interfaces)', () => {
  const ip = '192.0.2.10';
  const onLan = (node: string, version = '1'): SpeakerLeaseView => lease(node, version, { interfaces: toInterfacesRecord(`eth0=02:00:00:00:00:0${node === 'a' ? 1 : 2};192.0.2.0/24`) });
  const offLan = (node: string, version = '1'): SpeakerLeaseView => lease(node, version, { interfaces: toInterfacesRecord('eth0=02:00:00:00:00:03;198.51.100.0/24') });
  const metric = async (r: Rig, name: string): Promise<string> => (await r.registry.getSingleMetricAsString(name)).split('\n').filter((l) => l.startsWith(name)).join('\n');

  it('a node without an interface on the subnet does not announce, though the hash prefers it', async () => {
    expect(await hashOwner(ip, ['a', 'b', 'c'])).toBe('c');
    const c = await rig('c', [record('web', [ip], [ready('a')])], { leases: [onLan('a'), onLan('b'), offLan('c')] });
    expect(c.announcer.current).toEqual([]);
    expect(await metric(c, 'ironlb_speaker_no_interface_ips')).toBe('ironlb_speaker_no_interface_ips 1');
    await c.stop();
    const owner = await hashOwner(ip, ['a', 'b']);
    const o = await rig(owner, [record('web', [ip], [ready('a')])], { leases: [onLan('a'), onLan('b'), offLan('c')] });
    expect(o.announcer.current).toEqual([ip]);
    expect(await metric(o, 'ironlb_speaker_no_interface_ips')).toBe('ironlb_speaker_no_interface_ips 0');
    await o.stop();
  });

  it('a changed record elects again: the node that lost its interface stops announcing', async () => {
    const r = await rig('c', [record('web', [ip], [ready('a')])]);
    expect(r.announcer.current).toEqual([ip]);
    r.speaker.observeLease(offLan('c', '2'));
    r.speaker.observeLease(onLan('a', '2'));
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([]);
    await r.stop();
  });

  it('nobody on the subnet: the owner announces under the fallback, with one Warning Event and a log line', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const r = await rig('c', [record('web', [ip], [ready('a')])], { logger, leases: [offLan('a'), offLan('b'), offLan('c')] });
    expect(r.announcer.current).toEqual([ip]);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.events.emitted).toEqual([
      'ns/web Normal nodeAssigned: announcing from node c with protocol layer2',
      `ns/web Warning noInterfaceFallback: no node has an interface whose prefix contains ${ip}; announcing it from node c on its default-route interface, where clients may not reach it`,
    ]);
    expect(lines.filter((l) => l.includes('"event":"noInterfaceFallback"'))).toHaveLength(1);
    expect(await metric(r, 'ironlb_speaker_interface_fallback_ips')).toBe('ironlb_speaker_interface_fallback_ips 1');
    await r.stop();
  });

  it('an unreadable record is ignored with one line (the peer reaches everything); an absent one is said once', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const bad = (version: string): SpeakerLeaseView => lease('c', version, { interfaces: toInterfacesRecord('eth0=zz;') });
    const r = await rig('c', [record('web', [ip], [ready('a')])], { logger, leases: [onLan('a'), onLan('b'), bad('1')] });
    r.speaker.observeLease(bad('2'));
    r.speaker.observeLease(bad('3'));
    await r.clock.advance(20);
    expect(r.announcer.current).toEqual([ip]);
    const invalid = lines.filter((l) => l.includes('"event":"peerInterfacesInvalid"'));
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toContain('MAC \\"zz\\" is not of the form');
    r.speaker.observeLease(lease('c', '4'));
    r.speaker.observeLease(lease('c', '5'));
    r.speaker.observeLease(lease('d', '1'));
    r.speaker.observeLease(lease('d', '2'));
    expect(lines.filter((l) => l.includes('"event":"peerInterfacesUnknown"')).map((l) => (JSON.parse(l) as { peer: string }).peer)).toEqual(['c', 'd']);
    await r.stop();
  });
});
