import { createHash } from 'node:crypto';
import type { NodeName } from '../shared/brand.js';
import { compareStrings } from './eligibility.js';

/** A deterministic string hash; injected so tests can force ties. */
export type HashFn = (input: string) => string;

/** sha256 in lower-case hex: a pure function of its input, the same on every speaker. */
export const sha256Hex: HashFn = (input) => createHash('sha256').update(input).digest('hex');

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

function isBetter(rank: string, node: NodeName, best: { node: NodeName; rank: string }): boolean {
  const byRank = compareStrings(rank, best.rank);
  return byRank < 0 || (byRank === 0 && compareStrings(node, best.node) < 0);
}
