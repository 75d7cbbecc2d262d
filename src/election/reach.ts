import { cidrContains, type Cidr } from '../ip/cidr.js';
import { parseIp, type IpAddr } from '../ip/ip-addr.js';
import type { NodeName } from '../shared/brand.js';

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
  /** Candidates left out for lack of an interface (`noInterface`). */
  readonly noInterface: readonly NodeName[];
  /** IPs of the group nobody alive published a prefix for (announced under the fallback). */
  readonly fallback: readonly string[];
}

/**
 * Splits a group's candidates by reach. The owner announces every IP of the group, so the
 * candidates that reach all of them win; if none does (a dual-stack Service whose IPv4 and
 * IPv6 subnets live on different nodes), those that reach the most, so the group is not dark
 * for want of a perfect node.
 */
export function groupReach(
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
