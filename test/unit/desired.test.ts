import { describe, expect, it } from 'vitest';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { LivenessTracker } from '../../src/election/liveness.js';
import type { HashFn } from '../../src/election/rendezvous.js';
import type { ElectionService, EndpointView, NodeView } from '../../src/election/views.js';
import {
  desiredAnnouncements,
  diffAnnouncements,
  noAnnouncements,
  type DesiredAnnouncements,
  type SpeakerSnapshot,
} from '../../src/speaker/desired.js';

const n = (name: string): NodeName => name as NodeName;
const node = (name: string): NodeView => ({ name: n(name), labels: {}, conditions: {} });
const ready = (name: string): EndpointView => ({ nodeName: n(name), ready: true, serving: true, terminating: false });
const svc = (key: string, ips: string[], endpoints: EndpointView[], trafficPolicy: 'Local' | 'Cluster' = 'Cluster'): ElectionService => ({
  key: key as ServiceKey,
  ips,
  endpoints,
  trafficPolicy,
});
/** Node `a` hashes lowest for every IP, then `b`, then `c`. */
const alphabetical: HashFn = (s) => s;

function snapshot(self: string, services: ElectionService[], extra: Partial<SpeakerSnapshot> = {}): SpeakerSnapshot {
  const nodes = [node('a'), node('b'), node('c')];
  return {
    self: n(self),
    services,
    nodes,
    alive: new Set(nodes.map((x) => x.name)),
    settled: new Set(nodes.map((x) => x.name)),
    currentOwners: new Map(),
    isLayer2: (ip) => !ip.startsWith('198.51.100.'),
    options: { ignoreExcludeLabel: false },
    ...extra,
  };
}

const summary = (d: DesiredAnnouncements): Record<string, string> =>
  Object.fromEntries([...d.ips].map(([ip, x]) => [ip, `${x.reason}:${x.owner ?? '-'}:${x.serviceKeys.join(',')}`]));

describe('desiredAnnouncements', () => {
  it.each([
    {
      name: 'owner announces',
      snap: snapshot('a', [svc('ns/web', ['192.0.2.1'], [ready('b')])]),
      want: { '192.0.2.1': 'owner:a:ns/web' },
      owned: ['192.0.2.1'],
    },
    {
      name: 'non-owner knows the owner',
      snap: snapshot('b', [svc('ns/web', ['192.0.2.1'], [ready('b')])]),
      want: { '192.0.2.1': 'notOwner:a:ns/web' },
      owned: [],
    },
    {
      name: 'Local moves the IP to the endpoint node',
      snap: snapshot('b', [svc('ns/web', ['192.0.2.1'], [ready('b')], 'Local')]),
      want: { '192.0.2.1': 'owner:b:ns/web' },
      owned: ['192.0.2.1'],
    },
    {
      name: 'no endpoints: nobody announces',
      snap: snapshot('a', [svc('ns/web', ['192.0.2.1'], [])]),
      want: { '192.0.2.1': 'noEndpoints:-:ns/web' },
      owned: [],
    },
    {
      name: 'no eligible node',
      snap: snapshot('a', [svc('ns/web', ['192.0.2.1'], [ready('a')])], { alive: new Set() }),
      want: { '192.0.2.1': 'noEligibleNode:-:ns/web' },
      owned: [],
    },
    {
      name: 'IP outside layer2 pools is reported, not elected',
      snap: snapshot('a', [svc('ns/web', ['198.51.100.7', '2001:db8::7'], [ready('b')])]),
      want: { '198.51.100.7': 'notLayer2:-:ns/web', '2001:db8::7': 'owner:a:ns/web' },
      owned: ['2001:db8::7'],
    },
    {
      name: 'shared IP lists every Service',
      snap: snapshot('a', [svc('ns/b', ['192.0.2.1'], [ready('a')]), svc('ns/a', ['192.0.2.1'], [ready('a')])]),
      want: { '192.0.2.1': 'owner:a:ns/a,ns/b' },
      owned: ['192.0.2.1'],
    },
    {
      name: 'recorded owner is kept (anti-flap)',
      snap: snapshot('a', [svc('ns/web', ['192.0.2.1'], [ready('a')])], { currentOwners: new Map([['192.0.2.1', n('c')]]) }),
      want: { '192.0.2.1': 'notOwner:c:ns/web' },
      owned: [],
    },
  ])('$name', ({ snap, want, owned }) => {
    const d = desiredAnnouncements(snap, alphabetical);
    expect(summary(d)).toEqual(want);
    expect([...d.owned]).toEqual(owned);
  });

  it('explains a missing owner node by node', () => {
    const d = desiredAnnouncements(snapshot('a', [svc('ns/web', ['192.0.2.1'], [ready('a')], 'Local')], { alive: new Set([n('b'), n('c')]) }));
    expect(d.ips.get('192.0.2.1')?.ineligible).toEqual([
      { node: 'a', reason: 'speakerDead' },
      { node: 'b', reason: 'noLocalEndpoints' },
      { node: 'c', reason: 'noLocalEndpoints' },
    ]);
  });
});

describe('diffAnnouncements', () => {
  const web = svc('ns/web', ['192.0.2.1'], [ready('a')]);
  const api = svc('ns/api', ['192.0.2.1'], [ready('a')]);
  const db = svc('ns/db', ['192.0.2.2'], [ready('a')]);
  const on = (self: string, services: ElectionService[], extra: Partial<SpeakerSnapshot> = {}): DesiredAnnouncements =>
    desiredAnnouncements(snapshot(self, services, extra), alphabetical);

  it.each([
    { name: 'start from nothing', prev: noAnnouncements, next: on('a', [web]), started: ['192.0.2.1'], stopped: [], assigned: ['192.0.2.1 ns/web'] },
    { name: 'resync without change emits nothing (MetalLB #1682)', prev: on('a', [web, db]), next: on('a', [db, web]), started: [], stopped: [], assigned: [] },
    { name: 'losing ownership', prev: on('a', [web]), next: on('a', [web], { alive: new Set([n('b')]) }), started: [], stopped: ['192.0.2.1'], assigned: [] },
    { name: 'a Service joins an owned shared IP', prev: on('a', [web]), next: on('a', [web, api]), started: [], stopped: [], assigned: ['192.0.2.1 ns/api'] },
    { name: 'owner elsewhere: nothing for this node', prev: noAnnouncements, next: on('b', [web, db]), started: [], stopped: [], assigned: [] },
    { name: 'one IP in, another out', prev: on('a', [web]), next: on('a', [db]), started: ['192.0.2.2'], stopped: ['192.0.2.1'], assigned: ['192.0.2.2 ns/db'] },
  ])('$name', ({ prev, next, started, stopped, assigned }) => {
    const diff = diffAnnouncements(prev, next);
    expect(diff.started).toEqual(started);
    expect(diff.stopped).toEqual(stopped);
    expect(diff.assigned.map((x) => `${x.ip} ${x.serviceKey}`)).toEqual(assigned);
  });
});

describe('failover scenario: three speakers, each with its own Lease tracker', () => {
  // Each step changes the world; after each, every speaker computes its desired state from
  // the same API state and the invariant "exactly one owner per IP, all agree" is checked.
  const ips = ['192.0.2.1', '192.0.2.2', '2001:db8::3'];
  const services = [
    svc('ns/one', ['192.0.2.1'], [ready('a'), ready('b'), ready('c')]),
    svc('ns/dual', ['192.0.2.2', '2001:db8::3'], [ready('a')]),
  ];
  const minute = '2026-01-01T00:';
  type Lease = { acquired: number; renewed: number; holder: string };
  const steps: { name: string; leases: Record<string, Lease>; want: Record<string, string> }[] = [
    {
      name: 'all up and settled: a wins every IP (alphabetical hash)',
      leases: { a: { acquired: 0, renewed: 20, holder: 'a' }, b: { acquired: 0, renewed: 20, holder: 'b' }, c: { acquired: 0, renewed: 20, holder: 'c' } },
      want: { '192.0.2.1': 'a', '192.0.2.2': 'a', '2001:db8::3': 'a' },
    },
    {
      name: 'a releases its Lease (SIGTERM): b takes over at once',
      leases: { a: { acquired: 0, renewed: 21, holder: '' }, b: { acquired: 0, renewed: 21, holder: 'b' }, c: { acquired: 0, renewed: 21, holder: 'c' } },
      want: { '192.0.2.1': 'b', '192.0.2.2': 'b', '2001:db8::3': 'b' },
    },
    {
      name: 'a rejoins: b keeps the IPs (no flap back, MetalLB #561)',
      leases: { a: { acquired: 30, renewed: 31, holder: 'a' }, b: { acquired: 0, renewed: 31, holder: 'b' }, c: { acquired: 0, renewed: 31, holder: 'c' } },
      want: { '192.0.2.1': 'b', '192.0.2.2': 'b', '2001:db8::3': 'b' },
    },
    {
      name: 'a has settled: b still keeps the IPs while eligible',
      leases: { a: { acquired: 30, renewed: 45, holder: 'a' }, b: { acquired: 0, renewed: 45, holder: 'b' }, c: { acquired: 0, renewed: 45, holder: 'c' } },
      want: { '192.0.2.1': 'b', '192.0.2.2': 'b', '2001:db8::3': 'b' },
    },
    {
      name: 'a flaps again and b dies while a is in hold-down: c, not a, takes over',
      leases: { a: { acquired: 50, renewed: 52, holder: 'a' }, b: { acquired: 0, renewed: 45, holder: '' }, c: { acquired: 0, renewed: 52, holder: 'c' } },
      want: { '192.0.2.1': 'c', '192.0.2.2': 'c', '2001:db8::3': 'c' },
    },
    {
      name: 'c dies after a settled: a takes over',
      leases: { a: { acquired: 50, renewed: 59, holder: 'a' }, b: { acquired: 0, renewed: 45, holder: '' }, c: { acquired: 0, renewed: 59, holder: '' } },
      want: { '192.0.2.1': 'a', '192.0.2.2': 'a', '2001:db8::3': 'a' },
    },
  ];

  it('keeps one agreed owner per IP at every step', () => {
    const speakers = ['a', 'b', 'c'].map((self) => ({ self, tracker: new LivenessTracker() }));
    let recorded = new Map<string, NodeName>();
    let version = 0;
    for (const [i, step] of steps.entries()) {
      const now = i * 1000;
      const views = speakers.map((sp) => {
        for (const [name, lease] of Object.entries(step.leases)) {
          sp.tracker.observe({
            node: n(name),
            version: String(++version),
            holderIdentity: lease.holder,
            leaseDurationSeconds: 15,
            acquireTime: `${minute}00:${String(lease.acquired).padStart(2, '0')}Z`,
            renewTime: `${minute}00:${String(lease.renewed).padStart(2, '0')}Z`,
            observedAt: now,
          });
        }
        return desiredAnnouncements(
          snapshot(sp.self, services, { alive: sp.tracker.alive(now), settled: sp.tracker.settled(now), currentOwners: recorded }),
          alphabetical,
        );
      });
      for (const ip of ips) {
        const owners = speakers.filter((_, j) => views[j]!.owned.has(ip)).map((sp) => sp.self);
        expect({ step: step.name, ip, owners }).toEqual({ step: step.name, ip, owners: [step.want[ip]] });
      }
      // The owner records itself, as the speaker shell will.
      recorded = new Map(ips.map((ip) => [ip, n(step.want[ip]!)]));
    }
  });
});
