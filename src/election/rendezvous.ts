import { hash as oneShotHash } from 'node:crypto';
import type { NodeName } from '../shared/brand.js';
import { compareStrings } from './eligibility.js';

/** A deterministic string hash; injected so tests can force ties. */
export type HashFn = (input: string) => string;

/**
 * sha256 in lower-case hex: a pure function of its input, the same on every speaker. Node's
 * one-shot `crypto.hash` (Node 20.12+) gives the same digest as `createHash().update().digest()`
 * without building a Hash object per call, which is most of the cost of hashing short strings.
 */
export const sha256Hex: HashFn = (input) => oneShotHash('sha256', input, 'hex');

/** A node with its rendezvous rank for one anchor. */
export interface Ranked {
  readonly node: NodeName;
  readonly rank: string;
}

/** The rank of `node` for `anchor`: hash(node + "#" + anchor), the rule every speaker uses. */
export function rankOf(node: NodeName, anchor: string, hash: HashFn): Ranked {
  return { node, rank: hash(`${node}#${anchor}`) };
}

/**
 * Rendezvous (highest-random-weight) choice: the node with the lowest hash(node + "#" + ip).
 * Equal hashes (only possible with an injected hash) fall back to the lower node name, so the
 * answer never depends on the order of `nodes`. Undefined when `nodes` is empty.
 */
export function rendezvousOwner(nodes: Iterable<NodeName>, ip: string, hash: HashFn): NodeName | undefined {
  return rendezvousOrder(nodes, ip, hash, 1)[0];
}

/**
 * The first `count` nodes in rendezvous order for `ip` (owner first, then the node that would
 * own it were the owner gone, and so on): the owner's *standbys* of docs/election.md,
 * "1,000 nodes". Removing the first node from `nodes` makes the second the
 * {@link rendezvousOwner}: the order is the election's own, not a second rule.
 */
export function rendezvousOrder(nodes: Iterable<NodeName>, ip: string, hash: HashFn, count: number): readonly NodeName[] {
  const ranked: Ranked[] = [];
  for (const node of nodes) keepBest(ranked, rankOf(node, ip, hash), count);
  return ranked.map((r) => r.node);
}

/**
 * The election's takeover order over `nodes` for `anchor`, cut short: the first `settled` of the
 * settled nodes in rendezvous order, then the first `unsettled` of the others (docs/election.md,
 * "Anti-flap": settled candidates win, the unsettled only after them). One hash per node.
 */
export function takeoverOrder(
  nodes: Iterable<NodeName>,
  isSettled: (node: NodeName) => boolean,
  want: { readonly settled: number; readonly unsettled: number },
  anchor: string,
  hash: HashFn,
): readonly NodeName[] {
  const first: Ranked[] = [];
  const then: Ranked[] = [];
  for (const node of nodes) {
    const settled = isSettled(node);
    if ((settled ? want.settled : want.unsettled) > 0) keepBest(settled ? first : then, rankOf(node, anchor, hash), settled ? want.settled : want.unsettled);
  }
  return [...first, ...then].map((r) => r.node);
}

/**
 * Inserts `entry` into `ranked` (kept in rendezvous order) and cuts it to `count`: O(count) per
 * node, no full sort for the few nodes wanted.
 */
export function keepBest(ranked: Ranked[], entry: Ranked, count: number): void {
  const at = ranked.findIndex((r) => isBetter(entry, r));
  if (at >= 0) ranked.splice(at, 0, entry);
  else ranked.push(entry);
  if (ranked.length > count) ranked.pop();
}

/** Whether `a` comes before `b` in rendezvous order: the lower hash, then the lower node name. */
export function isBetter(a: Ranked, b: Ranked): boolean {
  const byRank = compareStrings(a.rank, b.rank);
  return byRank < 0 || (byRank === 0 && compareStrings(a.node, b.node) < 0);
}
