import type { NodeName, ServiceKey } from '../shared/brand.js';
import { compareStrings, judgeNodes, judgeService, type ClusterView, type Ineligible, type JudgedEligibility, type NodeJudgement } from './eligibility.js';
import { groupIpsReach, indexReach, splitByReach, type NodeReach, type ReachIndex } from './reach.js';
import type { RendezvousMemo } from './rendezvous-memo.js';
import { sha256Hex, takeoverOrder, type HashFn } from './rendezvous.js';
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
 *
 * Cost (docs/election.md, "Cost"): the node checks and the reach index are made once per
 * election; Services that share a candidate set (every `Cluster` Service) share its reach split;
 * the owner and standbys come from one pass over the candidates, or, with a `memo` (kept by the
 * speaker across elections), from a walk of the remembered rendezvous order, so a warm election
 * hashes nothing. The memo changes no answer; it must have been made with `hash`.
 */
export function electOwners(input: ElectionInput, hash?: HashFn, memo?: RendezvousMemo): ReadonlyMap<string, IpElection> {
  const nodes = judgeNodes(input.cluster);
  memo?.sync(nodes.known);
  const run: ElectionRun = { input, hash: hashOf(hash, memo), memo, nodes, reach: indexReach(input.cluster.alive, input.cluster.reach ?? noReach), splits: new Map(), usedAnchors: new Set() };
  const result = new Map<string, IpElection>();
  for (const group of groupIps(input.services)) {
    const eligibility = new Map(group.services.map((s) => [s.key, judgeService(s, nodes)]));
    const outcome = electGroup(group, [...eligibility.values()], run);
    for (const ip of group.ips) result.set(ip, ipElection(ip, group, eligibility, outcome));
  }
  memo?.retain(run.usedAnchors);
  return result;
}

/** The hash an election uses: the one given, else the memo's, else sha256; a memo made with another is a bug. */
function hashOf(hash: HashFn | undefined, memo: RendezvousMemo | undefined): HashFn {
  const h = hash ?? memo?.hash ?? sha256Hex;
  if (memo !== undefined && memo.hash !== h) throw new Error('bug: a rendezvous memo made with another hash');
  return h;
}

function ipElection(ip: string, group: Group, eligibility: ReadonlyMap<ServiceKey, JudgedEligibility>, outcome: GroupOutcome): IpElection {
  const serviceKeys = group.services.filter((s) => s.ips.includes(ip)).map((s) => s.key);
  // An IP whose own Services have no usable endpoint is not announced, even when its
  // group (through a dual-stack partner or a sharing neighbour) has an owner.
  const servable = serviceKeys.some((key) => eligibility.get(key)?.kind === 'judged');
  const { fallback, ...own } = servable ? outcome : noEndpoints;
  return { ip, anchor: group.anchor, serviceKeys, ...own, interfaceFallback: own.owner !== undefined && fallback.includes(ip) };
}

/** What one election shares between its groups. */
interface ElectionRun {
  readonly input: ElectionInput;
  readonly hash: HashFn;
  readonly memo: RendezvousMemo | undefined;
  readonly nodes: NodeJudgement;
  readonly reach: ReachIndex;
  /** candidates (by identity) -> IPs' reach signature -> the split: computed once for every `Cluster` group alike. */
  readonly splits: Map<readonly NodeName[], Map<string, ReachSplit>>;
  /** Anchors whose remembered order this election walked (the memo keeps only those). */
  readonly usedAnchors: Set<string>;
}

/** Candidates split by reach, with what the owner choice needs of them. */
interface ReachSplit {
  readonly reaching: readonly NodeName[];
  readonly reachingSet: ReadonlySet<NodeName>;
  /** How many of `reaching` are settled. */
  readonly settledCount: number;
  /** Sorted. */
  readonly noInterface: readonly NodeName[];
}

const noEndpoints: GroupOutcome = { owner: undefined, reason: 'noEndpoints', ineligible: [], noInterface: [], fallback: [] };
const noReach: ReadonlyMap<NodeName, NodeReach> = new Map();

function electGroup(group: Group, eligibility: readonly JudgedEligibility[], run: ElectionRun): GroupOutcome {
  const judged = eligibility.flatMap((e) => (e.kind === 'judged' ? [e] : []));
  if (judged.length === 0) return noEndpoints;
  const servable = judged.filter((e) => e.eligible.length > 0).map((e) => e.eligible);
  const judgedOut = (): readonly Ineligible[] => judged.flatMap((e) => e.ineligible());
  if (servable.length === 0) {
    return { owner: undefined, reason: 'noEligibleNode', ineligible: firstReasons(judgedOut()), noInterface: [], fallback: [] };
  }
  const ipsReach = groupIpsReach(group.ips, run.reach);
  const split = reachSplit(candidateNodes(servable), ipsReach.signature, () => ipsReach, run);
  const reach = { noInterface: split.noInterface, fallback: ipsReach.perIp.filter((r) => r.fallback).map((r) => r.ip) };
  if (split.reaching.length === 0) {
    // Candidates exist but none has an interface on the subnet, while some other alive node does.
    const out = [...split.noInterface.map((node): Ineligible => ({ node, reason: 'noInterface' })), ...judgedOut()];
    return { owner: undefined, reason: 'noEligibleNode', ineligible: firstReasons(out), ...reach };
  }
  const count = Math.max(0, run.input.standbyCount ?? 0);
  const kept = group.ips.map((ip) => run.input.currentOwners.get(ip)).find((n) => n !== undefined && split.reachingSet.has(n));
  if (kept !== undefined && count === 0) return { owner: kept, choice: 'kept', standbys: [], ...reach };
  // The owner (when hashed) and the standbys are the first of one order: docs/election.md "Anti-flap".
  const order = takeover(split, count + 1, group.anchor, run);
  const owner = kept ?? order[0];
  // reaching is never empty here.
  if (owner === undefined) throw new Error(`bug: no owner among candidates for ${group.anchor}`);
  const standbys = order.filter((n) => n !== owner).slice(0, count);
  return { owner, choice: kept === undefined ? 'hashed' : 'kept', standbys, ...reach };
}

/** The split of `candidates` by reach, shared by every group with the same candidates and IP reach. */
function reachSplit(candidates: readonly NodeName[], signature: string, ipsReach: () => ReturnType<typeof groupIpsReach>, run: ElectionRun): ReachSplit {
  const bySignature = run.splits.get(candidates) ?? new Map<string, ReachSplit>();
  run.splits.set(candidates, bySignature);
  const known = bySignature.get(signature);
  if (known !== undefined) return known;
  const { reaching, noInterface } = splitByReach(ipsReach(), candidates, run.reach);
  const split = { reaching, reachingSet: new Set(reaching), settledCount: reaching.filter((n) => run.input.settled.has(n)).length, noInterface };
  bySignature.set(signature, split);
  return split;
}

/**
 * The first `length` nodes of the takeover order over the reaching candidates: settled ones in
 * rendezvous order, then unsettled ones (docs/election.md, "Anti-flap"; for standbys, the same
 * order without the owner). With a memo and many candidates, walked from the remembered order
 * of the anchor; otherwise (few candidates, or the remembered prefix ran out) one hash per
 * candidate.
 */
function takeover(split: ReachSplit, length: number, anchor: string, run: ElectionRun): readonly NodeName[] {
  const settled = Math.min(split.settledCount, length);
  const want = { settled, unsettled: Math.min(split.reaching.length - split.settledCount, length - settled) };
  const isSettled = (node: NodeName): boolean => run.input.settled.has(node);
  const memo = run.memo;
  if (memo !== undefined && worthWalking(split.reaching.length, run.nodes.known.length, memo.keep)) {
    run.usedAnchors.add(anchor);
    const walked = walkPrefix(memo.prefix(anchor).nodes, split.reachingSet, isSettled, want);
    if (walked !== undefined) return walked;
  }
  return takeoverOrder(split.reaching, isSettled, want, anchor, run.hash);
}

/**
 * Whether the remembered order is likely to hold enough candidates: they are a quarter of the
 * known nodes or more, and more than half a prefix. Otherwise hashing the candidates is cheaper
 * than keeping a prefix that mostly holds other nodes. Either way the answer is the same.
 */
function worthWalking(candidates: number, known: number, keep: number): boolean {
  return candidates * 4 >= known && candidates * 2 > keep;
}

/**
 * The takeover order from an exact prefix of the rendezvous order over every known node: its
 * first settled and unsettled candidates are the first overall. Undefined when the prefix ends
 * before `want` is met (the caller hashes the candidates).
 */
function walkPrefix(
  prefix: readonly NodeName[],
  candidates: ReadonlySet<NodeName>,
  isSettled: (node: NodeName) => boolean,
  want: { readonly settled: number; readonly unsettled: number },
): readonly NodeName[] | undefined {
  const first: NodeName[] = [];
  const then: NodeName[] = [];
  for (const node of prefix) {
    if (first.length === want.settled && then.length === want.unsettled) break;
    if (!candidates.has(node)) continue;
    if (isSettled(node)) {
      if (first.length < want.settled) first.push(node);
    } else if (then.length < want.unsettled) {
      then.push(node);
    }
  }
  return first.length === want.settled && then.length === want.unsettled ? [...first, ...then] : undefined;
}

/**
 * The intersection of the eligible sets; if that is empty (Local Services sharing an IP whose
 * endpoints diverged for a moment), the union, so the IP stays announced from a node that
 * serves at least some of them.
 */
function candidateNodes(eligibleSets: readonly (readonly NodeName[])[]): readonly NodeName[] {
  const [first = [], ...rest] = eligibleSets;
  // Every `Cluster` Service's eligible list is the same array: its identity keys the shared reach split.
  if (rest.every((set) => set === first)) return first;
  const others = rest.map((set) => new Set(set));
  const both = first.filter((n) => others.every((set) => set.has(n)));
  return both.length > 0 ? both : [...new Set(eligibleSets.flat())];
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
