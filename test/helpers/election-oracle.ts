// Today's election, kept verbatim (as it was before the election judged each node once, indexed
// reach and walked a memo of rendezvous orders) as the oracle the new code must equal: the property
// test test/unit/election-oracle.property.test.ts and the `election` bench (bench/election.ts) compare
// the two. Nothing in src/ imports it. Its helpers (eligibility, reach, rendezvous order) are copied
// too, so a change to src/election/ cannot change the oracle.
import { createHash } from 'node:crypto';
import { cidrContains } from '../../src/ip/cidr.js';
import { parseIp, type IpAddr } from '../../src/ip/ip-addr.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import type { ClusterView, Ineligible, IneligibleReason, ServiceEligibility } from '../../src/election/eligibility.js';
import type { NodeReach } from '../../src/election/reach.js';
import type { HashFn } from '../../src/election/rendezvous.js';
import { excludeLabel, type ElectionService, type EndpointView } from '../../src/election/views.js';

/** sha256 in lower-case hex, as the speaker has always hashed (createHash, one call per hash). */
export const oracleSha256Hex: HashFn = (input) => createHash('sha256').update(input).digest('hex');

const unknownReach: NodeReach = { kind: 'unknown' };

interface IpReach {
  readonly ip: string;
  readonly fallback: boolean;
  readonly onLink: ReadonlySet<NodeName>;
}

interface GroupReach {
  readonly reaching: readonly NodeName[];
  readonly noInterface: readonly NodeName[];
  readonly fallback: readonly string[];
}

/**
 * The endpoints that can take traffic: the ready ones, or, when none is ready anywhere, the
 * serving ones (terminating but still serving). This is kube-proxy's fallback for terminating
 * endpoints (KEP-1669): during a rolling update that drains the last ready pod, traffic keeps
 * flowing to pods that still serve rather than being dropped.
 */
function usableEndpoints(endpoints: readonly EndpointView[]): readonly EndpointView[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving);
}

/**
 * Why `name` may not announce for a Service (undefined: it may), node-level checks only.
 * Liveness comes first: a dead speaker's node is out whatever its endpoints say (MetalLB
 * #298, #767: endpoints stay ready ~40 s after a node dies).
 */
function nodeIneligibility(name: NodeName, cluster: ClusterView): IneligibleReason | undefined {
  if (!cluster.alive.has(name)) return 'speakerDead';
  const node = cluster.nodes.get(name);
  if (node === undefined) return 'nodeUnknown';
  if (!cluster.options.ignoreExcludeLabel && Object.hasOwn(node.labels, excludeLabel)) return 'excludedByLabel';
  if (node.conditions['NetworkUnavailable'] === 'True') return 'networkUnavailable';
  return undefined;
}

/** Every node election knows of (Node objects and live speakers), sorted by name. */
function knownNodes(cluster: ClusterView): readonly NodeName[] {
  const names = new Set<NodeName>([...cluster.nodes.keys(), ...cluster.alive]);
  return [...names].sort(compareStrings);
}

/**
 * The nodes that may announce `service`'s IPs. `Cluster`: every node that passes the node
 * checks, once the Service has a usable endpoint anywhere. `Local`: those that also run a
 * usable endpoint themselves. `known` may be passed in when judging many Services at once.
 */
function serviceEligibility(
  service: ElectionService,
  cluster: ClusterView,
  known: readonly NodeName[] = knownNodes(cluster),
): ServiceEligibility {
  const usable = usableEndpoints(service.endpoints);
  if (usable.length === 0) return { kind: 'noEndpoints' };
  const local = new Set(usable.flatMap((e) => (e.nodeName === undefined ? [] : [e.nodeName])));
  const eligible: NodeName[] = [];
  const ineligible: Ineligible[] = [];
  for (const node of known) {
    let reason = nodeIneligibility(node, cluster);
    if (reason === undefined && service.trafficPolicy === 'Local' && !local.has(node)) reason = 'noLocalEndpoints';
    if (reason === undefined) eligible.push(node);
    else ineligible.push({ node, reason });
  }
  return { kind: 'judged', eligible, ineligible };
}

/** Code-unit order, the same in every speaker whatever its locale. */
function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function publishedContains(reach: NodeReach, ip: IpAddr): boolean {
  return reach.kind === 'prefixes' && reach.prefixes.some((p) => cidrContains(p, ip));
}

/**
 * Which alive nodes have an interface whose prefix contains `ip`. Only published records
 * decide whether the fallback applies: a node of unknown reach neither triggers it nor
 * prevents it, so one older speaker during an upgrade does not change what the others do.
 * When no alive node published anything, there is nothing to judge: every node counts, as
 * before, without a fallback notice.
 */
function ipReach(ip: string, alive: Iterable<NodeName>, reach: ReadonlyMap<NodeName, NodeReach>): IpReach {
  const addr = parseIp(ip);
  let published = false;
  const onLink = new Set<NodeName>();
  for (const node of alive) {
    const r = reach.get(node) ?? unknownReach;
    published ||= r.kind === 'prefixes';
    // Election only sees canonical IPs; a text that is not one is judged as before (fallback).
    if (addr.ok && publishedContains(r, addr.value)) onLink.add(node);
  }
  return { ip, fallback: published && onLink.size === 0, onLink };
}

/** Whether `node` counts for the IP: on link, of unknown reach, or anyone under the fallback. */
function reachesIp(node: NodeName, ipReachOf: IpReach, reach: ReadonlyMap<NodeName, NodeReach>): boolean {
  return ipReachOf.fallback || ipReachOf.onLink.has(node) || (reach.get(node) ?? unknownReach).kind === 'unknown';
}

/**
 * Splits a group's candidates by reach. The owner announces every IP of the group, so the
 * candidates that reach all of them win; if none does (a dual-stack Service whose IPv4 and
 * IPv6 subnets live on different nodes), those that reach the most, so the group is not dark
 * for want of a perfect node.
 */
function groupReach(
  ips: readonly string[],
  candidates: Iterable<NodeName>,
  alive: ReadonlySet<NodeName>,
  reach: ReadonlyMap<NodeName, NodeReach>,
): GroupReach {
  const perIp = ips.map((ip) => ipReach(ip, alive, reach));
  const scored = [...candidates].map((node) => ({ node, score: perIp.filter((r) => reachesIp(node, r, reach)).length }));
  const best = Math.max(0, ...scored.map((s) => s.score));
  return {
    reaching: best === 0 ? [] : scored.filter((s) => s.score === best).map((s) => s.node),
    noInterface: scored.filter((s) => best === 0 || s.score < best).map((s) => s.node),
    fallback: perIp.filter((r) => r.fallback).map((r) => r.ip),
  };
}

/**
 * The first `count` nodes in rendezvous order for `ip` (owner first, then the node that would
 * own it were the owner gone, and so on): the owner's *standbys* of docs/election.md,
 * "1,000 nodes". Removing the first node from `nodes` makes the second the
 * {@link rendezvousOwner}: the order is the election's own, not a second rule.
 */
function rendezvousOrder(nodes: Iterable<NodeName>, ip: string, hash: HashFn, count: number): readonly NodeName[] {
  const ranked: { node: NodeName; rank: string }[] = [];
  for (const node of nodes) {
    const entry = { node, rank: hash(`${node}#${ip}`) };
    // Insertion into a list kept at `count`: O(nodes × count), no full sort for the few standbys wanted.
    const at = ranked.findIndex((r) => isBetter(entry.rank, entry.node, r));
    if (at >= 0) ranked.splice(at, 0, entry);
    else ranked.push(entry);
    if (ranked.length > count) ranked.pop();
  }
  return ranked.map((r) => r.node);
}

/**
 * Rendezvous (highest-random-weight) choice: the node with the lowest hash(node + "#" + ip).
 * Equal hashes (only possible with an injected hash) fall back to the lower node name, so the
 * answer never depends on the order of `nodes`. Undefined when `nodes` is empty.
 */
function rendezvousOwner(nodes: Iterable<NodeName>, ip: string, hash: HashFn): NodeName | undefined {
  return rendezvousOrder(nodes, ip, hash, 1)[0];
}

function isBetter(rank: string, node: NodeName, best: { node: NodeName; rank: string }): boolean {
  const byRank = compareStrings(rank, best.rank);
  return byRank < 0 || (byRank === 0 && compareStrings(node, best.node) < 0);
}


/** Everything election reads: one consistent snapshot of API state plus local liveness. */
interface ElectionInput {
  readonly services: readonly ElectionService[];
  readonly cluster: ClusterView;
  /**
   * Alive nodes that have been up for the rejoin hold-down (liveness.ts `settled`). Only
   * they may take over an IP whose current owner is gone, unless no candidate is settled.
   */
  readonly settled: ReadonlySet<NodeName>;
  /** ip -> node currently announcing it, as recorded in API state (anti-flap, MetalLB #561). */
  readonly currentOwners: ReadonlyMap<string, NodeName>;
  /**
   * How many standbys to name per owned group (docs/election.md, "1,000 nodes": the nodes that
   * would win were the owner gone, in that order). 0 or absent: none, and no extra hashing.
   */
  readonly standbyCount?: number;
}

/** Why an IP has no owner: the line a speaker logs when nothing announces it. */
type NoOwnerReason = 'noEndpoints' | 'noEligibleNode';

/** How the owner was chosen. */
type OwnerChoice =
  /** The recorded current owner is still a candidate and keeps the IP. */
  | 'kept'
  /** Lowest rendezvous hash among the candidates. */
  | 'hashed';

interface IpFacts {
  readonly ip: string;
  /** The IP whose hash decides for every IP of its group (see docs/election.md). */
  readonly anchor: string;
  /** Services using this IP, sorted. */
  readonly serviceKeys: readonly ServiceKey[];
}

/** What reach (the nodes' published interfaces, reach.ts) did to the election of an IP's group. */
interface ReachFacts {
  /** Candidates left out because they have no interface on the group's subnets, sorted. */
  readonly noInterface: readonly NodeName[];
  /**
   * No alive node published an interface whose prefix contains this IP: it was elected as
   * before interfaces were published (any eligible node, announcing on its default-route
   * interface), and the speakers say so.
   */
  readonly interfaceFallback: boolean;
}

/** The outcome for one IP. */
type IpElection =
  | (IpFacts & ReachFacts & { readonly owner: NodeName; readonly choice: OwnerChoice; readonly standbys: readonly NodeName[] })
  | (IpFacts &
      ReachFacts & {
        readonly owner: undefined;
        readonly reason: NoOwnerReason;
        /** Every known node and why it was out (empty for noEndpoints). */
        readonly ineligible: readonly Ineligible[];
      });

interface Group {
  readonly anchor: string;
  readonly ips: readonly string[];
  readonly services: readonly ElectionService[];
}

type GroupOutcome = (
  | { readonly owner: NodeName; readonly choice: OwnerChoice; readonly standbys: readonly NodeName[] }
  | { readonly owner: undefined; readonly reason: NoOwnerReason; readonly ineligible: readonly Ineligible[] }
) & {
  readonly noInterface: readonly NodeName[];
  /** IPs of the group elected under the interface fallback. */
  readonly fallback: readonly string[];
};

/**
 * Elects one owner per IP. IPs linked by a Service (dual stack) or by sharing form a group
 * that moves as one; the group's candidates are the nodes eligible for all of its Services
 * that can be served at all (or, if no node is, for any of them), narrowed to those with an
 * interface on the group's subnets (reach.ts; `noInterface` for the others); the recorded current owner
 * keeps the group while it is a candidate, otherwise the settled candidate with the lowest
 * sha256(node + "#" + anchor) wins. Pure and order-independent: every speaker computes the
 * same map from the same state.
 */
export function electOwnersOracle(input: ElectionInput, hash: HashFn = oracleSha256Hex): ReadonlyMap<string, IpElection> {
  const result = new Map<string, IpElection>();
  const known = knownNodes(input.cluster);
  for (const group of groupIps(input.services)) {
    const eligibility = new Map(group.services.map((s) => [s.key, serviceEligibility(s, input.cluster, known)]));
    const outcome = electGroup(group, [...eligibility.values()], input, hash);
    for (const ip of group.ips) {
      const serviceKeys = group.services.filter((s) => s.ips.includes(ip)).map((s) => s.key);
      // An IP whose own Services have no usable endpoint is not announced, even when its
      // group (through a dual-stack partner or a sharing neighbour) has an owner.
      const servable = serviceKeys.some((key) => eligibility.get(key)?.kind === 'judged');
      const { fallback, ...own } = servable ? outcome : noEndpoints;
      result.set(ip, { ip, anchor: group.anchor, serviceKeys, ...own, interfaceFallback: own.owner !== undefined && fallback.includes(ip) });
    }
  }
  return result;
}

const noEndpoints: GroupOutcome = { owner: undefined, reason: 'noEndpoints', ineligible: [], noInterface: [], fallback: [] };
const noReach: ReadonlyMap<NodeName, NodeReach> = new Map();

function electGroup(group: Group, eligibility: readonly ServiceEligibility[], input: ElectionInput, hash: HashFn): GroupOutcome {
  const judged = eligibility.flatMap((e) => (e.kind === 'judged' ? [e] : []));
  if (judged.length === 0) return noEndpoints;
  const servable = judged.filter((e) => e.eligible.length > 0).map((e) => e.eligible);
  const judgedOut = judged.flatMap((e) => e.ineligible);
  if (servable.length === 0) {
    return { owner: undefined, reason: 'noEligibleNode', ineligible: firstReasons(judgedOut), noInterface: [], fallback: [] };
  }
  const { reaching, noInterface, fallback } = groupReach(group.ips, candidateNodes(servable), input.cluster.alive, input.cluster.reach ?? noReach);
  const reach = { noInterface: [...noInterface].sort(compareStrings), fallback };
  if (reaching.length === 0) {
    // Candidates exist but none has an interface on the subnet, while some other alive node does.
    const out = [...noInterface.map((node): Ineligible => ({ node, reason: 'noInterface' })), ...judgedOut];
    return { owner: undefined, reason: 'noEligibleNode', ineligible: firstReasons(out), ...reach };
  }
  const candidates = new Set(reaching);
  const standbys = (owner: NodeName): readonly NodeName[] => standbysOf(owner, reaching, input, group.anchor, hash);
  const kept = group.ips.map((ip) => input.currentOwners.get(ip)).find((n) => n !== undefined && candidates.has(n));
  if (kept !== undefined) return { owner: kept, choice: 'kept', standbys: standbys(kept), ...reach };
  const settled = reaching.filter((n) => input.settled.has(n));
  const owner = rendezvousOwner(settled.length > 0 ? settled : reaching, group.anchor, hash);
  // reaching is never empty here.
  if (owner === undefined) throw new Error(`bug: no owner among candidates for ${group.anchor}`);
  return { owner, choice: 'hashed', standbys: standbys(owner), ...reach };
}

/**
 * The nodes that would own the group, in order, were `owner` gone: the same rule as the
 * election's (settled candidates first, all of them when none is settled), so the first standby
 * is the node that takes over after a reap. Without a sticky record among them, that is exact.
 */
function standbysOf(owner: NodeName, reaching: readonly NodeName[], input: ElectionInput, anchor: string, hash: HashFn): readonly NodeName[] {
  const count = input.standbyCount ?? 0;
  if (count <= 0) return [];
  const others = reaching.filter((n) => n !== owner);
  const settled = others.filter((n) => input.settled.has(n));
  const first = rendezvousOrder(settled.length > 0 ? settled : others, anchor, hash, count);
  if (first.length >= count || settled.length === 0) return first;
  // Fewer settled runner-ups than wanted: the unsettled ones follow (they win once the settled ones are gone too).
  const rest = rendezvousOrder(others.filter((n) => !input.settled.has(n)), anchor, hash, count - first.length);
  return [...first, ...rest];
}

/**
 * The intersection of the eligible sets; if that is empty (Local Services sharing an IP whose
 * endpoints diverged for a moment), the union, so the IP stays announced from a node that
 * serves at least some of them.
 */
function candidateNodes(eligibleSets: readonly (readonly NodeName[])[]): ReadonlySet<NodeName> {
  const [first = [], ...rest] = eligibleSets;
  const both = first.filter((n) => rest.every((set) => set.includes(n)));
  return new Set(both.length > 0 ? both : eligibleSets.flat());
}

function firstReasons(all: readonly Ineligible[]): readonly Ineligible[] {
  const byNode = new Map<NodeName, Ineligible>();
  for (const entry of all) if (!byNode.has(entry.node)) byNode.set(entry.node, entry);
  return [...byNode.values()].sort((a, b) => compareStrings(a.node, b.node));
}

/**
 * Splits the Services' IPs into groups linked by a shared Service (union-find). The anchor
 * of a group is the lowest of its Services' first IPs: for one dual-stack Service, its first
 * IP, as DESIGN.md says; for Services that list shared IPs in different orders, still one
 * answer for all.
 */
function groupIps(services: readonly ElectionService[]): readonly Group[] {
  const parent = new Map<string, string>();
  const find = (ip: string): string => {
    let root = ip;
    for (let up = parent.get(root); up !== undefined && up !== root; up = parent.get(root)) root = up;
    parent.set(ip, root);
    return root;
  };
  for (const service of services) {
    for (const ip of service.ips) if (!parent.has(ip)) parent.set(ip, ip);
    const [head, ...tail] = service.ips;
    for (const ip of tail) if (head !== undefined) parent.set(find(ip), find(head));
  }
  // root ip -> member ips (sorted) and the Services that use them
  const members = new Map<string, string[]>();
  for (const ip of [...parent.keys()].sort(compareStrings)) pushTo(members, find(ip), ip);
  const users = new Map<string, ElectionService[]>();
  for (const service of services) {
    const [head] = service.ips;
    if (head !== undefined) pushTo(users, find(head), service);
  }
  return [...members].map(([root, ips]) => toGroup(ips, users.get(root) ?? []));
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function toGroup(ips: readonly string[], services: readonly ElectionService[]): Group {
  const inGroup = [...services].sort((a, b) => compareStrings(a.key, b.key));
  const anchor = inGroup.map((s) => s.ips[0] ?? '').filter((ip) => ip !== '').sort(compareStrings)[0] ?? '';
  return { anchor, ips: [anchor, ...ips.filter((ip) => ip !== anchor)], services: inGroup };
}
