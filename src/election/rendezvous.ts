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
  let best: { node: NodeName; rank: string } | undefined;
  for (const node of nodes) {
    const rank = hash(`${node}#${ip}`);
    if (best === undefined || isBetter(rank, node, best)) best = { node, rank };
  }
  return best?.node;
}

function isBetter(rank: string, node: NodeName, best: { node: NodeName; rank: string }): boolean {
  const byRank = compareStrings(rank, best.rank);
  return byRank < 0 || (byRank === 0 && compareStrings(node, best.node) < 0);
}
