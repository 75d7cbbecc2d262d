import { describe, expect, it } from 'vitest';
import { electOwners, type IpElection } from '../../src/election/election.js';
import type { ClusterView } from '../../src/election/eligibility.js';
import { groupReach, ipReach, type NodeReach } from '../../src/election/reach.js';
import { sha256Hex } from '../../src/election/rendezvous.js';
import { excludeLabel, type ElectionService, type EndpointView, type NodeView } from '../../src/election/views.js';
import { parseCidr } from '../../src/ip/cidr.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';

const n = (name: string): NodeName => name as NodeName;
const node = (name: string, labels: Record<string, string> = {}): NodeView => ({ name: n(name), labels, conditions: {} });
const ready = (name: string): EndpointView => ({ nodeName: n(name), ready: true, serving: true, terminating: false });
const svc = (ips: string[], endpoints: EndpointView[], trafficPolicy: 'Local' | 'Cluster' = 'Cluster'): ElectionService => ({ key: 'ns/s' as ServiceKey, ips, endpoints, trafficPolicy });
const everywhere = ['a', 'b', 'c'].map(ready);

function prefixes(...texts: string[]): NodeReach {
  return {
    kind: 'prefixes',
    prefixes: texts.map((t) => {
      const c = parseCidr(t);
      if (!c.ok) throw new Error(t);
      return c.value;
    }),
  };
}
const unknown: NodeReach = { kind: 'unknown' };

/** a and b on 192.0.2.0/24, b also on 2001:db8::/64, c alone on 198.51.100.0/24. */
const lan: Record<string, NodeReach> = { a: prefixes('192.0.2.0/24'), b: prefixes('192.0.2.0/24', '2001:db8::/64'), c: prefixes('198.51.100.0/24') };

function clusterOf(reach: Record<string, NodeReach> | undefined, opts: { alive?: string[]; nodes?: NodeView[] } = {}): ClusterView {
  const nodes = opts.nodes ?? [node('a'), node('b'), node('c')];
  return {
    nodes: new Map(nodes.map((x) => [x.name, x])),
    alive: new Set((opts.alive ?? nodes.map((x) => x.name)).map(n)),
    ...(reach === undefined ? {} : { reach: new Map(Object.entries(reach).map(([k, v]) => [n(k), v])) }),
    options: { ignoreExcludeLabel: false },
  };
}

/** The rendezvous winner among `names`, computed apart from election.ts. */
function hashOwner(names: string[], ip: string): string {
  return [...names].sort((x, y) => (sha256Hex(`${x}#${ip}`) < sha256Hex(`${y}#${ip}`) ? -1 : 1))[0]!;
}

function elect(service: ElectionService, cluster: ClusterView, current: Record<string, string> = {}): IpElection {
  const result = electOwners({
    services: [service],
    cluster,
    settled: cluster.alive,
    currentOwners: new Map(Object.entries(current).map(([ip, owner]) => [ip, n(owner)])),
  });
  const first = result.get(service.ips[0]!);
  if (first === undefined) throw new Error('no election');
  return first;
}

const summary = (e: IpElection): unknown => ({
  owner: e.owner,
  noInterface: e.noInterface,
  fallback: e.interfaceFallback,
  ...(e.owner === undefined ? { reason: e.reason, ineligible: Object.fromEntries(e.ineligible.map((i) => [i.node, i.reason])) } : {}),
});

describe('election by reach: only nodes with an interface on the IP subnet', () => {
  it.each([
    {
      // hashed among all three, 192.0.2.10 would go to c
      name: 'a node off the subnet is out (noInterface); the owner is hashed among the others',
      s: svc(['192.0.2.10'], everywhere),
      c: clusterOf(lan),
      want: { owner: hashOwner(['a', 'b'], '192.0.2.10'), noInterface: ['c'], fallback: false },
    },
    {
      // hashed among all three, 198.51.100.13 would go to b
      name: 'the only node on a subnet gets its IPs',
      s: svc(['198.51.100.13'], everywhere),
      c: clusterOf(lan),
      want: { owner: 'c', noInterface: ['a', 'b'], fallback: false },
    },
    {
      name: 'nobody alive on the subnet: fallback, any eligible node',
      s: svc(['203.0.113.10'], everywhere),
      c: clusterOf(lan),
      want: { owner: hashOwner(['a', 'b', 'c'], '203.0.113.10'), noInterface: [], fallback: true },
    },
    {
      name: 'the on-link node is dead: fallback among the alive',
      s: svc(['198.51.100.10'], everywhere),
      c: clusterOf(lan, { alive: ['a', 'b'] }),
      want: { owner: hashOwner(['a', 'b'], '198.51.100.10'), noInterface: [], fallback: true },
    },
    {
      name: 'a node without a record (older speaker) counts as reaching every IP',
      s: svc(['192.0.2.10'], everywhere),
      c: clusterOf({ a: lan['a']!, b: lan['b']!, c: unknown }),
      want: { owner: hashOwner(['a', 'b', 'c'], '192.0.2.10'), noInterface: [], fallback: false },
    },
    {
      name: 'a node of unknown reach does not stop the fallback notice',
      s: svc(['203.0.113.10'], everywhere),
      c: clusterOf({ a: lan['a']!, b: lan['b']!, c: unknown }),
      want: { owner: hashOwner(['a', 'b', 'c'], '203.0.113.10'), noInterface: [], fallback: true },
    },
    {
      name: 'no node published anything: every node counts, no fallback notice (as before)',
      s: svc(['203.0.113.10'], everywhere),
      c: clusterOf(undefined),
      want: { owner: hashOwner(['a', 'b', 'c'], '203.0.113.10'), noInterface: [], fallback: false },
    },
    {
      name: 'a published empty list reaches nothing',
      s: svc(['192.0.2.10'], everywhere),
      c: clusterOf({ a: prefixes(), b: prefixes('192.0.2.0/24'), c: prefixes() }),
      want: { owner: 'b', noInterface: ['a', 'c'], fallback: false },
    },
    {
      name: 'dual stack: the node that reaches both IPs',
      s: svc(['192.0.2.10', '2001:db8::10'], everywhere),
      c: clusterOf(lan),
      want: { owner: 'b', noInterface: ['a', 'c'], fallback: false },
    },
    {
      name: 'dual stack split over nodes: those reaching the most IPs (one each)',
      s: svc(['198.51.100.10', '2001:db8::10'], everywhere),
      c: clusterOf(lan),
      want: { owner: hashOwner(['b', 'c'], '198.51.100.10'), noInterface: ['a'], fallback: false },
    },
    {
      name: 'Local: the endpoint node has no interface on the subnet: nobody announces',
      s: svc(['192.0.2.10'], [ready('c')], 'Local'),
      c: clusterOf(lan),
      want: { owner: undefined, noInterface: ['c'], fallback: false, reason: 'noEligibleNode', ineligible: { a: 'noLocalEndpoints', b: 'noLocalEndpoints', c: 'noInterface' } },
    },
    {
      name: 'the on-link nodes are excluded by label: the others are not used instead',
      s: svc(['192.0.2.10'], everywhere),
      c: clusterOf(lan, { nodes: [node('a', { [excludeLabel]: '' }), node('b', { [excludeLabel]: '' }), node('c')] }),
      want: { owner: undefined, noInterface: ['c'], fallback: false, reason: 'noEligibleNode', ineligible: { a: 'excludedByLabel', b: 'excludedByLabel', c: 'noInterface' } },
    },
  ])('$name', ({ s, c, want }) => {
    expect(summary(elect(s, c))).toEqual(want);
  });

  it('a recorded owner without an interface on the subnet does not keep the IP', () => {
    const e = elect(svc(['192.0.2.10'], everywhere), clusterOf(lan), { '192.0.2.10': 'c' });
    expect(e.owner).not.toBe('c');
    expect(e.owner !== undefined && e.choice).toBe('hashed');
  });

  it('a recorded owner on the subnet keeps it', () => {
    const other = hashOwner(['a', 'b'], '192.0.2.10') === 'a' ? 'b' : 'a';
    const e = elect(svc(['192.0.2.10'], everywhere), clusterOf(lan), { '192.0.2.10': other });
    expect(e.owner).toBe(other);
    expect(e.owner !== undefined && e.choice).toBe('kept');
  });

  it('the same answer whatever order the nodes come in', () => {
    const forward = clusterOf(lan);
    const backward = clusterOf(Object.fromEntries(Object.entries(lan).reverse()), { nodes: [node('c'), node('b'), node('a')], alive: ['c', 'b', 'a'] });
    for (const ip of ['192.0.2.10', '192.0.2.77', '198.51.100.3', '203.0.113.9']) {
      expect(summary(elect(svc([ip], everywhere), backward))).toEqual(summary(elect(svc([ip], everywhere), forward)));
    }
  });
});

describe('ipReach and groupReach', () => {
  const reach = new Map(Object.entries(lan).map(([k, v]) => [n(k), v]));
  const alive = new Set([n('a'), n('b'), n('c')]);
  it('lists the alive nodes on link', () => {
    expect(ipReach('192.0.2.200', alive, reach)).toEqual({ ip: '192.0.2.200', fallback: false, onLink: new Set(['a', 'b']) });
    expect(ipReach('192.0.3.1', alive, reach)).toEqual({ ip: '192.0.3.1', fallback: true, onLink: new Set() });
  });
  it('splits candidates and names the IPs under the fallback', () => {
    expect(groupReach(['192.0.2.1', '2001:db8:ffff::1'], alive, alive, reach)).toEqual({ reaching: ['a', 'b'], noInterface: ['c'], fallback: ['2001:db8:ffff::1'] });
  });
});
