import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { electOwners, type ElectionInput, type IpElection } from '../../src/election/election.js';
import type { NodeReach } from '../../src/election/reach.js';
import { createRendezvousMemo } from '../../src/election/rendezvous-memo.js';
import { sha256Hex, type HashFn } from '../../src/election/rendezvous.js';
import { excludeLabel, type ElectionService, type NodeView } from '../../src/election/views.js';
import { parseCidr, type Cidr } from '../../src/ip/cidr.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { electOwnersOracle } from '../helpers/election-oracle.js';

// The election judges each node once, indexes reach and walks a memo of rendezvous orders kept
// across elections (docs/election.md, "Cost"); none of that may change an answer. These tests
// hold it to today's straightforward election (test/helpers/election-oracle.ts) over random
// clusters and sequences of elections sharing one memo.

const n = (name: string): NodeName => name as NodeName;
const names = Array.from({ length: 14 }, (_, i) => `n${String(i).padStart(2, '0')}`);
const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c.ok) throw new Error(text);
  return c.value;
};
/** Prefixes nodes publish: two IPv4 LANs, one nested in a wider one, an IPv6 LAN, a per-node-looking pod CIDR. */
const prefixPool = ['192.0.2.0/24', '192.0.2.0/25', '10.0.0.0/8', '198.51.100.0/24', '2001:db8::/64', '2001:db8::/48', '10.244.1.0/24'].map(cidr);
/** Service IPs: on those LANs, on none (fallback), IPv6, and a text that is not an IP. */
const ipPool = ['192.0.2.1', '192.0.2.200', '10.1.2.3', '198.51.100.7', '203.0.113.5', '2001:db8::1', '2001:db8:0:1::1', '2001:db8::2', 'not-an-ip'];

/** A hash with many ties (one hex digit of sha256), so the tie-break by node name is exercised too. */
const tieHash: HashFn = (s) => sha256Hex(s).slice(0, 1);

const arbReach = fc.oneof(
  { weight: 1, arbitrary: fc.constant<'missing'>('missing') },
  { weight: 1, arbitrary: fc.constant<NodeReach>({ kind: 'unknown' }) },
  { weight: 4, arbitrary: fc.subarray(prefixPool, { maxLength: 3 }).map((prefixes): NodeReach => ({ kind: 'prefixes', prefixes })) },
);
/** True about `tenths` times in ten: clusters where most nodes are healthy candidates, as at scale, and the memo's walk runs. */
const mostly = (tenths: number): fc.Arbitrary<boolean> => fc.nat(9).map((x) => x < tenths);
const arbNode = fc.record({ name: fc.constantFrom(...names), object: mostly(9), excluded: mostly(1), netDown: mostly(1), alive: mostly(8), settled: mostly(6), reach: arbReach });
const arbEndpoint = fc.record({ node: fc.option(fc.constantFrom(...names), { nil: undefined }), ready: fc.boolean(), serving: fc.boolean() });
const arbService = fc.record({
  name: fc.constantFrom('s1', 's2', 's3', 's4', 's5', 's6'),
  ips: fc.uniqueArray(fc.constantFrom(...ipPool), { minLength: 1, maxLength: 2 }),
  local: fc.boolean(),
  // Mostly an endpoint everywhere (every node a candidate, as at 1,000 nodes), sometimes a few.
  everywhere: fc.boolean(),
  endpoints: fc.array(arbEndpoint, { maxLength: 5 }),
});
const arbWorld = fc.record({
  // Large clusters (the memo's walk runs) and small ones (every candidate hashed; no candidate may reach).
  nodes: fc.oneof(fc.uniqueArray(arbNode, { selector: (x) => x.name, maxLength: names.length, size: 'max' }), fc.uniqueArray(arbNode, { selector: (x) => x.name, maxLength: 5 })),
  withReach: fc.boolean(),
  services: fc.uniqueArray(arbService, { selector: (x) => x.name, maxLength: 6 }),
  current: fc.dictionary(fc.constantFrom(...ipPool), fc.constantFrom(...names)),
  standbyCount: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});
type World = typeof arbWorld extends fc.Arbitrary<infer T> ? T : never;

function build(w: World): ElectionInput {
  const nodes: NodeView[] = w.nodes.filter((x) => x.object).map((x) => ({ name: n(x.name), labels: x.excluded ? { [excludeLabel]: '' } : {}, conditions: x.netDown ? { NetworkUnavailable: 'True' } : {} }));
  const services: ElectionService[] = w.services.map((s) => ({
    key: `ns/${s.name}` as ServiceKey,
    ips: s.ips,
    trafficPolicy: s.local ? 'Local' : 'Cluster',
    endpoints: [
      ...(s.everywhere ? w.nodes.map((x) => ({ nodeName: n(x.name), ready: true, serving: true, terminating: false })) : []),
      ...s.endpoints.map((e) => ({ ...(e.node === undefined ? {} : { nodeName: n(e.node) }), ready: e.ready, serving: e.serving || e.ready, terminating: !e.ready })),
    ],
  }));
  const reach = new Map(w.nodes.flatMap((x) => (x.reach === 'missing' ? [] : [[n(x.name), x.reach] as const])));
  return {
    services,
    cluster: {
      nodes: new Map(nodes.map((x) => [x.name, x])),
      alive: new Set(w.nodes.filter((x) => x.alive).map((x) => n(x.name))),
      ...(w.withReach ? { reach } : {}),
      options: { ignoreExcludeLabel: false },
    },
    settled: new Set(w.nodes.filter((x) => x.settled).map((x) => n(x.name))),
    currentOwners: new Map(Object.entries(w.current).map(([ip, o]) => [ip, n(o)])),
    ...(w.standbyCount === undefined ? {} : { standbyCount: w.standbyCount }),
  };
}

const entries = (m: ReadonlyMap<string, IpElection>): [string, IpElection][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('electOwners equals the oracle (today\'s election)', () => {
  it('over random clusters, without a memo and with one memo across a sequence of elections (nodes joining and leaving)', () => {
    let walked = 0;
    fc.assert(
      fc.property(fc.array(arbWorld, { minLength: 1, maxLength: 4 }), fc.constantFrom(1, 2, 3, 4, 6, 16), fc.boolean(), (worlds, keep, ties) => {
        const hash = ties ? tieHash : sha256Hex;
        const memo = createRendezvousMemo({ hash, keep });
        for (const w of worlds) {
          const input = build(w);
          const want = entries(electOwnersOracle(input, hash));
          expect(entries(electOwners(input, hash))).toEqual(want);
          expect(entries(electOwners(input, hash, memo))).toEqual(want);
          if (memo.size() > 0) walked += 1;
        }
      }),
      { numRuns: 400 },
    );
    // The memo's walk really ran (not only the hashing of few candidates).
    expect(walked).toBeGreaterThan(50);
  });

  it('over small clusters on two subnets, where the candidates often reach none of the IPs', () => {
    // Every node publishes one of two LANs and the Services are mostly Local: the candidates are
    // often all off the IP's subnet while another node is on it (noEligibleNode with noInterface).
    const lanOnly = fc.constantFrom<NodeReach>({ kind: 'prefixes', prefixes: [cidr('192.0.2.0/24')] }, { kind: 'prefixes', prefixes: [cidr('198.51.100.0/24')] });
    const smallWorld = fc.record({
      nodes: fc.uniqueArray(fc.record({ name: fc.constantFrom(...names.slice(0, 5)), object: fc.constant(true), excluded: mostly(1), netDown: fc.constant(false), alive: mostly(9), settled: mostly(6), reach: lanOnly }), { selector: (x) => x.name, minLength: 2, maxLength: 5 }),
      services: fc.uniqueArray(
        fc.record({ name: fc.constantFrom('s1', 's2', 's3'), ips: fc.uniqueArray(fc.constantFrom('192.0.2.1', '198.51.100.7'), { minLength: 1, maxLength: 2 }), local: mostly(8), everywhere: fc.constant(false), endpoints: fc.array(arbEndpoint, { minLength: 1, maxLength: 2 }) }),
        { selector: (x) => x.name, minLength: 1, maxLength: 3 },
      ),
      current: fc.dictionary(fc.constantFrom('192.0.2.1', '198.51.100.7'), fc.constantFrom(...names.slice(0, 5))),
      standbyCount: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      withReach: fc.constant(true),
    });
    fc.assert(
      fc.property(smallWorld, (w) => {
        const input = build(w);
        expect(entries(electOwners(input))).toEqual(entries(electOwnersOracle(input)));
      }),
      { numRuns: 400 },
    );
  });

  it('at 200 nodes and 300 Services, with churn between elections sharing one memo', () => {
    // A seeded cluster larger than the random ones: every Service Cluster but a few Local, most
    // nodes on one LAN, some on another, a few unknown; between elections nodes die, join and settle.
    const rand = mulberry32(21);
    const all = Array.from({ length: 200 }, (_, i) => n(`node-${String(i).padStart(3, '0')}`));
    const lanA = cidr('192.0.2.0/24');
    const lanB = cidr('10.0.0.0/8');
    const reach = new Map(all.map((node, i): [NodeName, NodeReach] => [node, i % 20 === 0 ? { kind: 'unknown' } : { kind: 'prefixes', prefixes: i % 7 === 0 ? [lanB] : [lanA, lanB] }]));
    const services: ElectionService[] = Array.from({ length: 300 }, (_, i) => ({
      key: `ns/s${String(i)}` as ServiceKey,
      ips: i % 10 === 0 ? [`192.0.2.${String(i % 250)}`, `2001:db8::${i.toString(16)}`] : [i % 3 === 0 ? `10.0.${String(i % 250)}.1` : `192.0.2.${String(i % 250)}`],
      trafficPolicy: i % 25 === 0 ? 'Local' : 'Cluster',
      endpoints: [0, 1, 2].map((j) => ({ nodeName: all[(i * 7 + j * 13) % all.length] ?? n('x'), ready: true, serving: true, terminating: false })),
    }));
    const memo = createRendezvousMemo({ hash: sha256Hex });
    let alive = new Set(all.filter(() => rand() < 0.9));
    let settled = new Set([...alive].filter(() => rand() < 0.8));
    let current = new Map<string, NodeName>();
    for (let step = 0; step < 6; step += 1) {
      const input: ElectionInput = {
        services,
        cluster: { nodes: new Map(all.filter((_, i) => i % 50 !== step).map((name) => [name, { name, labels: {}, conditions: {} }])), alive, reach, options: { ignoreExcludeLabel: false } },
        settled,
        currentOwners: current,
        standbyCount: step % 4,
      };
      const want = electOwnersOracle(input);
      expect(entries(electOwners(input, sha256Hex, memo))).toEqual(entries(want));
      current = new Map([...want].flatMap(([ip, e]) => (e.owner === undefined || rand() < 0.3 ? [] : [[ip, e.owner] as const])));
      alive = new Set(all.filter((node) => (alive.has(node) ? rand() < 0.95 : rand() < 0.5)));
      settled = new Set([...alive].filter((node) => settled.has(node) || rand() < 0.5));
    }
  });
});

/** A small seeded PRNG (mulberry32), so the larger case is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
