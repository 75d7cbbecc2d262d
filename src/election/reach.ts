import { cidrContains, type Cidr } from '../ip/cidr.js';
import { parseIp, type IpAddr } from '../ip/ip-addr.js';
import type { NodeName } from '../shared/brand.js';
import { compareStrings } from './eligibility.js';

/**
 * What election knows of the interfaces a node can announce on, from its speaker's Lease
 * record: the on-link prefixes of its announceable interfaces, or unknown (a speaker of an
 * older version publishes nothing; an unreadable record is ignored). An unknown node counts
 * as reaching every IP, as every node did before nodes published their interfaces.
 */
export type NodeReach = { readonly kind: 'prefixes'; readonly prefixes: readonly Cidr[] } | { readonly kind: 'unknown' };

const unknownReach: NodeReach = { kind: 'unknown' };

/** Which nodes can announce one IP. */
export interface IpReach {
  readonly ip: string;
  /**
   * Some alive node published its interfaces, but none published a prefix containing the IP:
   * every node counts (the behaviour before interfaces were published: announce on the
   * default-route interface), and the speakers say so.
   */
  readonly fallback: boolean;
  /** The alive nodes that published a prefix containing the IP. */
  readonly onLink: ReadonlySet<NodeName>;
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
export function ipReach(ip: string, alive: Iterable<NodeName>, reach: ReadonlyMap<NodeName, NodeReach>): IpReach {
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
export function reachesIp(node: NodeName, ipReachOf: IpReach, reach: ReadonlyMap<NodeName, NodeReach>): boolean {
  return ipReachOf.fallback || ipReachOf.onLink.has(node) || (reach.get(node) ?? unknownReach).kind === 'unknown';
}

/** The candidates of a group split by reach. */
export interface GroupReach {
  /** Candidates that reach the most IPs of the group (at least one); empty when none reaches any. */
  readonly reaching: readonly NodeName[];
  /** Candidates left out for lack of an interface (`noInterface`), sorted. */
  readonly noInterface: readonly NodeName[];
  /** IPs of the group nobody alive published a prefix for (announced under the fallback). */
  readonly fallback: readonly string[];
}

/**
 * Splits a group's candidates by reach. The owner announces every IP of the group, so the
 * candidates that reach all of them win; if none does (a dual-stack Service whose IPv4 and
 * IPv6 subnets live on different nodes), those that reach the most, so the group is not dark
 * for want of a perfect node. (The election builds the index once and calls
 * {@link splitByReach} per group; this is the same rule for one group.)
 */
export function groupReach(
  ips: readonly string[],
  candidates: Iterable<NodeName>,
  alive: ReadonlySet<NodeName>,
  reach: ReadonlyMap<NodeName, NodeReach>,
): GroupReach {
  const index = indexReach(alive, reach);
  const ipsReach = groupIpsReach(ips, index);
  return { ...splitByReach(ipsReach, candidates, index), fallback: ipsReach.perIp.filter((r) => r.fallback).map((r) => r.ip) };
}

/**
 * The alive nodes' published prefixes, indexed once per election (docs/election.md, "Cost"):
 * which distinct prefixes contain an IP is a few map lookups (one per prefix length in use),
 * not a scan of every node's record for every IP.
 */
export interface ReachIndex {
  /** Some alive node published a record (the fallback can apply). */
  readonly published: boolean;
  /** Keys of the distinct published prefixes that contain `ip`, sorted; none for a text that is not an IP. */
  containing(ip: string): readonly string[];
  /** Keys of the prefixes `node` published; undefined when its reach is unknown (no readable record). */
  prefixesOf(node: NodeName): ReadonlySet<string> | undefined;
}

const prefixKey = (family: number, prefix: number, base: bigint): string => `${String(family)}/${String(prefix)}/${base.toString(16)}`;

/** Builds the {@link ReachIndex} of the alive nodes: O(published prefixes). */
export function indexReach(alive: Iterable<NodeName>, reach: ReadonlyMap<NodeName, NodeReach>): ReachIndex {
  // node -> keys of its prefixes (alive nodes with a record only)
  const byNode = new Map<NodeName, Set<string>>();
  const keys = new Set<string>();
  // family -> prefix lengths in use
  const lengths = new Map<number, Set<number>>();
  for (const node of alive) {
    const r = reach.get(node) ?? unknownReach;
    if (r.kind !== 'prefixes') continue;
    const own = new Set<string>();
    for (const p of r.prefixes) {
      const key = prefixKey(p.family, p.prefix, p.base);
      own.add(key);
      keys.add(key);
      lengths.set(p.family, (lengths.get(p.family) ?? new Set()).add(p.prefix));
    }
    byNode.set(node, own);
  }
  return {
    published: byNode.size > 0,
    containing(ip) {
      const addr = parseIp(ip);
      if (!addr.ok) return [];
      return containingKeys(addr.value, lengths.get(addr.value.family) ?? [], keys);
    },
    prefixesOf: (node) => byNode.get(node),
  };
}

function containingKeys(ip: IpAddr, lengths: Iterable<number>, keys: ReadonlySet<string>): readonly string[] {
  const bits = ip.family === 4 ? 32 : 128;
  const found: string[] = [];
  for (const prefix of lengths) {
    // A Cidr's base has its host bits cleared (cidr.ts), so the IP lies in it exactly when masking it gives that base.
    const key = prefixKey(ip.family, prefix, ip.value & ~((1n << BigInt(bits - prefix)) - 1n));
    if (keys.has(key)) found.push(key);
  }
  return found.sort();
}

/** A group's IPs as reach sees them: which published prefixes contain each, and which fell back. */
export interface GroupIpsReach {
  /** Per IP of the group, in order: the containing prefix keys; none with `fallback`. */
  readonly perIp: readonly { readonly ip: string; readonly keys: readonly string[]; readonly fallback: boolean }[];
  /** Equal for two groups exactly when their IPs are reached alike (same count, same prefixes, same fallbacks). */
  readonly signature: string;
}

/** The reach facts of a group's IPs, from the index. */
export function groupIpsReach(ips: readonly string[], index: ReachIndex): GroupIpsReach {
  const perIp = ips.map((ip) => {
    const keys = index.containing(ip);
    return { ip, keys, fallback: index.published && keys.length === 0 };
  });
  return { perIp, signature: perIp.map((r) => (r.fallback ? '*' : r.keys.join(','))).join('|') };
}

/**
 * {@link groupReach} over the index: the same split (candidates that reach the most IPs of the
 * group; the others `noInterface`, here sorted), in O(candidates × IPs of the group).
 */
export function splitByReach(ipsReach: GroupIpsReach, candidates: Iterable<NodeName>, index: ReachIndex): Omit<GroupReach, 'fallback'> {
  const scored = [...candidates].map((node) => ({ node, score: reachScore(node, ipsReach, index) }));
  const best = Math.max(0, ...scored.map((s) => s.score));
  return {
    reaching: best === 0 ? [] : scored.filter((s) => s.score === best).map((s) => s.node),
    noInterface: scored
      .filter((s) => best === 0 || s.score < best)
      .map((s) => s.node)
      .sort(compareStrings),
  };
}

/** How many IPs of the group `node` counts for: on link, of unknown reach, or under the fallback ({@link reachesIp}). */
function reachScore(node: NodeName, ipsReach: GroupIpsReach, index: ReachIndex): number {
  const own = index.prefixesOf(node);
  if (own === undefined) return ipsReach.perIp.length;
  return ipsReach.perIp.filter((r) => r.fallback || r.keys.some((key) => own.has(key))).length;
}

