import type { NodeName, ServiceKey } from '../shared/brand.js';
import {
  compareStrings,
  knownNodes,
  serviceEligibility,
  type ClusterView,
  type Ineligible,
  type ServiceEligibility,
} from './eligibility.js';
import { groupReach, type NodeReach } from './reach.js';
import { rendezvousOrder, rendezvousOwner, sha256Hex, type HashFn } from './rendezvous.js';
import type { ElectionService } from './views.js';

/** Everything election reads: one consistent snapshot of API state plus local liveness. */
export interface ElectionInput {
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
export type NoOwnerReason = 'noEndpoints' | 'noEligibleNode';

/** How the owner was chosen. */
export type OwnerChoice =
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
export type IpElection =
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
export function electOwners(input: ElectionInput, hash: HashFn = sha256Hex): ReadonlyMap<string, IpElection> {
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
