import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { electOwners, type ElectionInput } from '../../src/election/election.js';
import { serviceEligibility, usableEndpoints, type ClusterView } from '../../src/election/eligibility.js';
import { rendezvousOrder, rendezvousOwner, sha256Hex, type HashFn } from '../../src/election/rendezvous.js';
import { excludeLabel, type ElectionService, type EndpointView, type NodeView } from '../../src/election/views.js';

const n = (name: string): NodeName => name as NodeName;
const k = (key: string): ServiceKey => key as ServiceKey;

function node(name: string, extra: { labels?: Record<string, string>; conditions?: Record<string, string> } = {}): NodeView {
  return { name: n(name), labels: extra.labels ?? {}, conditions: extra.conditions ?? {} };
}
function ready(nodeName: string): EndpointView {
  return { nodeName: n(nodeName), ready: true, serving: true, terminating: false };
}
function terminating(nodeName: string, serving = true): EndpointView {
  return { nodeName: n(nodeName), ready: false, serving, terminating: true };
}
function svc(key: string, ips: string[], endpoints: EndpointView[], trafficPolicy: 'Local' | 'Cluster' = 'Cluster'): ElectionService {
  return { key: k(key), ips, endpoints, trafficPolicy };
}
function cluster(nodes: NodeView[], alive?: string[], ignoreExcludeLabel = false): ClusterView {
  return {
    nodes: new Map(nodes.map((x) => [x.name, x])),
    alive: new Set((alive ?? nodes.map((x) => x.name)).map(n)),
    options: { ignoreExcludeLabel },
  };
}
function input(
  services: ElectionService[],
  c: ClusterView,
  extra: { settled?: string[]; current?: Record<string, string> } = {},
): ElectionInput {
  return {
    services,
    cluster: c,
    settled: new Set((extra.settled ?? [...c.alive]).map(n)),
    currentOwners: new Map(Object.entries(extra.current ?? {}).map(([ip, owner]) => [ip, n(owner)])),
  };
}
/** The node sha256 rendezvous picks among `names` for `ip` (computed independently of election.ts). */
function expectedHashOwner(names: string[], ip: string): string {
  return [...names].sort((a, b) => {
    const ha = sha256Hex(`${a}#${ip}`);
    const hb = sha256Hex(`${b}#${ip}`);
    return ha < hb ? -1 : ha > hb ? 1 : 0;
  })[0]!;
}

const three = [node('a'), node('b'), node('c')];
const v4 = '192.0.2.10';
const v6 = '2001:db8::10';

describe('usableEndpoints', () => {
  it.each([
    { name: 'ready ones when any is ready', eps: [ready('a'), terminating('b')], want: ['a'] },
    { name: 'serving terminating ones when none is ready', eps: [terminating('a'), terminating('b', false)], want: ['a'] },
    { name: 'none when nothing serves', eps: [terminating('a', false)], want: [] },
    { name: 'empty set', eps: [], want: [] },
  ])('$name', ({ eps, want }) => {
    expect(usableEndpoints(eps).map((e) => e.nodeName)).toEqual(want);
  });
});

describe('serviceEligibility', () => {
  it.each([
    { name: 'Cluster: all healthy nodes', s: svc('ns/a', [v4], [ready('a')]), c: cluster(three), want: ['a', 'b', 'c'], out: {} },
    { name: 'Local: only nodes with a ready endpoint', s: svc('ns/a', [v4], [ready('b'), ready('c')], 'Local'), c: cluster(three), want: ['b', 'c'], out: { a: 'noLocalEndpoints' } },
    { name: 'Local: terminating serving endpoint used when none is ready', s: svc('ns/a', [v4], [terminating('c')], 'Local'), c: cluster(three), want: ['c'], out: { a: 'noLocalEndpoints', b: 'noLocalEndpoints' } },
    { name: 'Local: ready endpoint elsewhere beats a local terminating one', s: svc('ns/a', [v4], [ready('a'), terminating('b')], 'Local'), c: cluster(three), want: ['a'], out: { b: 'noLocalEndpoints', c: 'noLocalEndpoints' } },
    { name: 'Local: endpoint without a node counts nowhere', s: svc('ns/a', [v4], [{ ready: true, serving: true, terminating: false }], 'Local'), c: cluster(three), want: [], out: { a: 'noLocalEndpoints', b: 'noLocalEndpoints', c: 'noLocalEndpoints' } },
    { name: 'excluded label', s: svc('ns/a', [v4], [ready('a')]), c: cluster([node('a', { labels: { [excludeLabel]: '' } }), node('b')]), want: ['b'], out: { a: 'excludedByLabel' } },
    { name: 'excluded label ignored by option (MetalLB #2274)', s: svc('ns/a', [v4], [ready('a')]), c: cluster([node('a', { labels: { [excludeLabel]: 'true' } })], undefined, true), want: ['a'], out: {} },
    { name: 'NetworkUnavailable=True', s: svc('ns/a', [v4], [ready('a')]), c: cluster([node('a', { conditions: { NetworkUnavailable: 'True' } }), node('b', { conditions: { NetworkUnavailable: 'False' } })]), want: ['b'], out: { a: 'networkUnavailable' } },
    { name: 'dead speaker is out even with ready endpoints (MetalLB #298)', s: svc('ns/a', [v4], [ready('a'), ready('b')], 'Local'), c: cluster([node('a'), node('b')], ['b']), want: ['b'], out: { a: 'speakerDead' } },
    { name: 'alive speaker without a Node object', s: svc('ns/a', [v4], [ready('a')]), c: cluster([node('a')], ['a', 'ghost']), want: ['a'], out: { ghost: 'nodeUnknown' } },
  ])('$name', ({ s, c, want, out }) => {
    const e = serviceEligibility(s, c);
    if (e.kind !== 'judged') throw new Error(`expected judged, got ${e.kind}`);
    expect(e.eligible).toEqual(want);
    expect(Object.fromEntries(e.ineligible.map((i) => [i.node, i.reason]))).toEqual(out);
  });

  it.each([
    { name: 'no endpoints at all', eps: [] },
    { name: 'only non-serving terminating endpoints', eps: [terminating('a', false)] },
    { name: 'only not-ready endpoints', eps: [{ nodeName: n('a'), ready: false, serving: false, terminating: false }] },
  ])('noEndpoints: $name', ({ eps }) => {
    expect(serviceEligibility(svc('ns/a', [v4], eps), cluster(three)).kind).toBe('noEndpoints');
  });
});

describe('rendezvousOrder (the standbys of docs/election.md "1,000 nodes")', () => {
  const byLetter: HashFn = (s) => s; // rank = "node#ip": the node name decides
  it.each([
    { name: 'owner first, then the runner-ups', nodes: ['d', 'b', 'a', 'c'], count: 3, want: ['a', 'b', 'c'] },
    { name: 'fewer nodes than asked', nodes: ['b', 'a'], count: 3, want: ['a', 'b'] },
    { name: 'none asked', nodes: ['a'], count: 0, want: [] },
    { name: 'no nodes', nodes: [], count: 2, want: [] },
  ])('$name', ({ nodes, count, want }) => {
    expect(rendezvousOrder(nodes.map(n), v4, byLetter, count)).toEqual(want);
  });

  it('the standby is the owner once the owner is gone, for random clusters and IPs', () => {
    for (let i = 0; i < 200; i += 1) {
      const nodes = Array.from({ length: 1 + (i % 17) }, (_, j) => n(`node-${String((i * 7 + j * 13) % 50)}`));
      const ip = `10.0.${String(i % 256)}.${String((i * 3) % 256)}`;
      const [owner, standby, second] = rendezvousOrder(nodes, ip, sha256Hex, 3);
      expect(owner).toBe(rendezvousOwner(nodes, ip, sha256Hex));
      const withoutOwner = nodes.filter((x) => x !== owner);
      expect(standby).toBe(rendezvousOwner(withoutOwner, ip, sha256Hex));
      expect(second).toBe(rendezvousOwner(withoutOwner.filter((x) => x !== standby), ip, sha256Hex));
    }
  });
});

describe('rendezvousOwner', () => {
  const constant: HashFn = () => 'same';
  it.each([
    { name: 'tie broken by lowest node name', nodes: ['c', 'a', 'b'], hash: constant, want: 'a' },
    { name: 'lowest hash wins', nodes: ['x', 'y'], hash: ((s: string) => (s.startsWith('y') ? '0' : '1')), want: 'y' },
    { name: 'sha256 default', nodes: ['a', 'b', 'c'], hash: sha256Hex, want: expectedHashOwner(['a', 'b', 'c'], v4) },
    { name: 'no nodes', nodes: [], hash: sha256Hex, want: undefined },
  ])('$name', ({ nodes, hash, want }) => {
    expect(rendezvousOwner(nodes.map(n), v4, hash)).toBe(want);
  });

  it('hashes node + "#" + ip', () => {
    const seen: string[] = [];
    rendezvousOwner([n('node-1')], v4, (s) => (seen.push(s), s));
    expect(seen).toEqual([`node-1#${v4}`]);
  });
});

describe('electOwners', () => {
  const prefer = (winner: string): HashFn => (s) => (s.startsWith(`${winner}#`) ? '0' : `1${s}`);

  it.each([
    {
      name: 'single Service, Cluster: sha256 rendezvous over all nodes',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three)),
      want: { [v4]: expectedHashOwner(['a', 'b', 'c'], v4) },
    },
    {
      name: 'Local: owner is the node with the endpoint',
      inp: input([svc('ns/a', [v4], [ready('b')], 'Local')], cluster(three)),
      want: { [v4]: 'b' },
    },
    {
      name: 'dual stack: the IPv6 IP follows the first (IPv4) IP',
      inp: input([svc('ns/a', [v4, v6], [ready('a')])], cluster(three)),
      want: { [v4]: expectedHashOwner(['a', 'b', 'c'], v4), [v6]: expectedHashOwner(['a', 'b', 'c'], v4) },
    },
    {
      name: 'dual stack, IPv6 first: the IPv4 IP follows the IPv6 IP',
      inp: input([svc('ns/a', [v6, v4], [ready('a')])], cluster(three)),
      want: { [v4]: expectedHashOwner(['a', 'b', 'c'], v6), [v6]: expectedHashOwner(['a', 'b', 'c'], v6) },
    },
    {
      name: 'shared IP, one Service without endpoints does not veto the other',
      inp: input([svc('ns/a', [v4], [ready('a')], 'Local'), svc('ns/b', [v4], [], 'Local')], cluster(three)),
      want: { [v4]: 'a' },
    },
    {
      name: 'shared IP, Local + Cluster: intersection (the node with the local endpoint)',
      inp: input([svc('ns/a', [v4], [ready('c')], 'Local'), svc('ns/b', [v4], [ready('a')])], cluster(three)),
      want: { [v4]: 'c' },
    },
    {
      name: 'shared IP, disjoint Local endpoints: union, one owner',
      inp: input([svc('ns/a', [v4], [ready('b')], 'Local'), svc('ns/b', [v4], [ready('c')], 'Local')], cluster(three)),
      want: { [v4]: expectedHashOwner(['b', 'c'], v4) },
    },
    {
      name: 'shared IP across dual-stack Services listed in different orders: one group',
      inp: input([svc('ns/a', [v4, v6], [ready('a')]), svc('ns/b', [v6, v4], [ready('a')])], cluster(three)),
      want: { [v4]: expectedHashOwner(['a', 'b', 'c'], v4 /* the lower first IP: '1…' < '2…' */), [v6]: expectedHashOwner(['a', 'b', 'c'], v4 /* the lower first IP: '1…' < '2…' */) },
    },
    {
      name: 'anti-flap: the recorded owner keeps the IP while eligible',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three), { current: { [v4]: 'c' } }),
      hash: prefer('a'),
      want: { [v4]: 'c' },
    },
    {
      name: 'anti-flap: a dead recorded owner loses the IP',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three, ['a', 'b']), { current: { [v4]: 'c' } }),
      hash: prefer('b'),
      want: { [v4]: 'b' },
    },
    {
      name: 'anti-flap: recorded owner of the second IP keeps the dual-stack group',
      inp: input([svc('ns/a', [v4, v6], [ready('a')])], cluster(three), { current: { [v6]: 'c' } }),
      hash: prefer('a'),
      want: { [v4]: 'c', [v6]: 'c' },
    },
    {
      name: 'hold-down: a rejoined, unsettled node does not take over',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three, ['a', 'b']), { settled: ['b'], current: { [v4]: 'c' } }),
      hash: prefer('a'),
      want: { [v4]: 'b' },
    },
    {
      name: 'hold-down: unsettled nodes still win when nobody is settled (cold start)',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three), { settled: [] }),
      hash: prefer('a'),
      want: { [v4]: 'a' },
    },
    {
      name: 'hold-down does not unseat a recorded owner',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three), { settled: ['a', 'b'], current: { [v4]: 'c' } }),
      hash: prefer('a'),
      want: { [v4]: 'c' },
    },
    {
      name: 'tie on hash: lowest node name',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster([node('z'), node('m'), node('q')])),
      hash: (() => 'tie'),
      want: { [v4]: 'm' },
    },
  ])('$name', ({ inp, hash, want }) => {
    const result = electOwners(inp, hash);
    expect(Object.fromEntries([...result].map(([ip, e]) => [ip, e.owner]))).toEqual(want);
  });

  it.each([
    { name: 'empty endpoint set', inp: input([svc('ns/a', [v4], [])], cluster(three)), reason: 'noEndpoints', ineligible: {} },
    {
      name: 'every node dead',
      inp: input([svc('ns/a', [v4], [ready('a')])], cluster(three, [])),
      reason: 'noEligibleNode',
      ineligible: { a: 'speakerDead', b: 'speakerDead', c: 'speakerDead' },
    },
    {
      name: 'Local endpoint only on an excluded node',
      inp: input([svc('ns/a', [v4], [ready('a')], 'Local')], cluster([node('a', { labels: { [excludeLabel]: '' } }), node('b')])),
      reason: 'noEligibleNode',
      ineligible: { a: 'excludedByLabel', b: 'noLocalEndpoints' },
    },
  ])('no owner: $name', ({ inp, reason, ineligible }) => {
    const e = electOwners(inp).get(v4);
    if (e === undefined || e.owner !== undefined) throw new Error(`expected no owner, got ${String(e?.owner)}`);
    expect(e.reason).toBe(reason);
    expect(Object.fromEntries(e.ineligible.map((i) => [i.node, i.reason]))).toEqual(ineligible);
  });

  it('reports the Services of each IP and the anchor', () => {
    const result = electOwners(input([svc('ns/b', [v4, v6], [ready('a')]), svc('ns/a', [v6], [ready('a')])], cluster(three)));
    expect(result.get(v4)).toMatchObject({ anchor: v4, serviceKeys: ['ns/b'] });
    expect(result.get(v6)).toMatchObject({ anchor: v4, serviceKeys: ['ns/a', 'ns/b'] });
  });
});

describe('electOwners properties', () => {
  const nodeNames = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const ipPool = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::1', '2001:db8::2'];
  const arbNode = fc.record({
    name: fc.constantFrom(...nodeNames),
    excluded: fc.boolean(),
    netDown: fc.boolean(),
  });
  const arbEndpoint = fc.record({ node: fc.constantFrom(...nodeNames), ready: fc.boolean(), serving: fc.boolean() });
  const arbService = fc.record({
    name: fc.constantFrom('s1', 's2', 's3', 's4'),
    ips: fc.uniqueArray(fc.constantFrom(...ipPool), { minLength: 1, maxLength: 2 }),
    local: fc.boolean(),
    endpoints: fc.array(arbEndpoint, { maxLength: 4 }),
  });
  const arbWorld = fc.record({
    nodes: fc.uniqueArray(arbNode, { selector: (x) => x.name, maxLength: 5 }),
    alive: fc.subarray(nodeNames),
    settled: fc.subarray(nodeNames),
    services: fc.uniqueArray(arbService, { selector: (x) => x.name, maxLength: 4 }),
    current: fc.dictionary(fc.constantFrom(...ipPool), fc.constantFrom(...nodeNames)),
  });
  type World = typeof arbWorld extends fc.Arbitrary<infer T> ? T : never;

  function build(w: World, reverse: boolean): ElectionInput {
    const order = <T>(xs: T[]): T[] => (reverse ? [...xs].reverse() : xs);
    const nodes = order(w.nodes).map((x) =>
      node(x.name, { labels: x.excluded ? { [excludeLabel]: '' } : {}, conditions: x.netDown ? { NetworkUnavailable: 'True' } : {} }),
    );
    const services = order(w.services).map((s) =>
      svc(`ns/${s.name}`, s.ips, order(s.endpoints.map((e) => ({ nodeName: n(e.node), ready: e.ready, serving: e.serving || e.ready, terminating: !e.ready }))), s.local ? 'Local' : 'Cluster'),
    );
    return {
      services,
      cluster: { nodes: new Map(nodes.map((x) => [x.name, x])), alive: new Set(order(w.alive).map(n)), options: { ignoreExcludeLabel: false } },
      settled: new Set(order(w.settled).map(n)),
      currentOwners: new Map(order(Object.entries(w.current)).map(([ip, o]) => [ip, n(o)])),
    };
  }

  it('gives every IP exactly one answer, an eligible owner, the same in any input order', () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const forward = build(w, false);
        const a = electOwners(forward);
        const b = electOwners(build(w, true));
        const allIps = new Set(forward.services.flatMap((s) => s.ips));
        expect([...a.keys()].sort()).toEqual([...allIps].sort());
        expect(Object.fromEntries([...a].map(([ip, e]) => [ip, e.owner]))).toEqual(Object.fromEntries([...b].map(([ip, e]) => [ip, e.owner])));
        for (const [ip, e] of a) {
          if (e.owner === undefined) continue;
          // The IP has a Service with a usable endpoint, and the owner is eligible for at
          // least one Service of the IP's group (Services linked by shared IPs).
          const own = forward.services.filter((s) => s.ips.includes(ip));
          expect(own.some((s) => serviceEligibility(s, forward.cluster).kind === 'judged')).toBe(true);
          const eligibleSomewhere = forward.services
            .filter((s) => e.serviceKeys.includes(s.key) || s.ips.some((x) => a.get(x)?.anchor === e.anchor))
            .some((s) => {
              const el = serviceEligibility(s, forward.cluster);
              return el.kind === 'judged' && el.eligible.includes(e.owner);
            });
          expect(eligibleSomewhere).toBe(true);
        }
        // A Service's IPs never have two different owners (an IP may be unannounced).
        for (const s of forward.services) {
          const owners = new Set(s.ips.map((ip) => a.get(ip)?.owner).filter((o) => o !== undefined));
          expect(owners.size).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('electOwners per-IP endpoints', () => {
  it('does not announce the IP of a Service without endpoints linked to a served one', () => {
    const result = electOwners(input([svc('ns/a', [v4], [ready('a')]), svc('ns/b', [v6, v4], [])], cluster(three)));
    expect(result.get(v4)?.owner).toBe(expectedHashOwner(['a', 'b', 'c'], v4 /* the lower first IP: '1…' < '2…' */));
    expect(result.get(v6)).toMatchObject({ owner: undefined, reason: 'noEndpoints' });
  });
});
