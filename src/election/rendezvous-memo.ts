import type { NodeName } from '../shared/brand.js';
import { isBetter, keepBest, rankOf, type HashFn, type Ranked } from './rendezvous.js';

/**
 * What one anchor's rendezvous order looks like to the memo: the first nodes of the order over
 * every known node (an exact prefix, never a guess), and whether that is all of them.
 */
export interface OrderPrefix {
  /** The first known nodes in rendezvous order for the anchor (lowest hash first). */
  readonly nodes: readonly NodeName[];
  /** True when `nodes` holds every known node: a walk that runs out of it found everything. */
  readonly complete: boolean;
}

/**
 * Rendezvous orders remembered across elections (docs/election.md, "Cost"). The hash of
 * node + "#" + anchor depends on nothing else, so the order of the known nodes for an anchor
 * changes only when a node joins or leaves the known set: the memo keeps, per anchor, the first
 * `keep` known nodes in that order, updated by one hash per anchor for a node that joins and a
 * filter for one that leaves, and the election walks it for the first candidates instead of
 * hashing every candidate for every IP. It holds no answer of its own: an election with a memo
 * returns what one without returns (test/unit/election-oracle.property.test.ts).
 */
export interface RendezvousMemo {
  /** The hash the remembered orders were computed with; the election refuses to mix two. */
  readonly hash: HashFn;
  /** How many nodes it keeps per anchor. */
  readonly keep: number;
  /** Brings every remembered order up to date with this election's known nodes (sorted or not). */
  sync(known: readonly NodeName[]): void;
  /** The remembered prefix of `anchor`'s order (built from the known nodes when missing or worn down by departures). */
  prefix(anchor: string): OrderPrefix;
  /** Forgets the anchors not in `used` (Services deleted, IPs moved): memory stays at keep × anchors in use. */
  retain(used: ReadonlySet<string>): void;
  /** Anchors remembered now (for the bench and tests). */
  size(): number;
}

/** The memo's dependencies. */
export interface RendezvousMemoDeps {
  readonly hash: HashFn;
  /**
   * Nodes kept per anchor. 16 covers the owner and a few standbys while a good part of the
   * nodes are not candidates; a walk that runs out hashes the candidates instead (election.ts).
   */
  readonly keep?: number;
}

/** Nodes kept per anchor by default. */
export const defaultMemoKeep = 16;

interface AnchorOrder {
  /** Exact prefix of the rendezvous order of the synced known nodes, at most `keep` long. */
  ranked: Ranked[];
  /** `ranked` holds every known node. */
  complete: boolean;
}

/** A memo for one speaker: create it once and hand it to every election (speaker.ts). */
export function createRendezvousMemo(deps: RendezvousMemoDeps): RendezvousMemo {
  const { hash } = deps;
  const keep = Math.max(1, deps.keep ?? defaultMemoKeep);
  // anchor -> remembered order
  const orders = new Map<string, AnchorOrder>();
  let known: ReadonlySet<NodeName> = new Set();

  const build = (anchor: string): AnchorOrder => {
    const ranked: Ranked[] = [];
    for (const node of known) keepBest(ranked, rankOf(node, anchor, hash), keep);
    return { ranked, complete: ranked.length === known.size };
  };

  return {
    hash,
    keep,
    sync(next) {
      const nextSet = new Set(next);
      const left = new Set([...known].filter((node) => !nextSet.has(node)));
      const joined = next.filter((node) => !known.has(node));
      known = nextSet;
      if (left.size === 0 && joined.length === 0) return;
      for (const [anchor, order] of orders) {
        if (left.size > 0) order.ranked = order.ranked.filter((r) => !left.has(r.node));
        for (const node of joined) admit(order, rankOf(node, anchor, hash), keep);
      }
    },
    prefix(anchor) {
      let order = orders.get(anchor);
      // Departures wear a prefix down; below half of `keep` it is rebuilt from every known node.
      if (order === undefined || (!order.complete && order.ranked.length < Math.ceil(keep / 2))) {
        order = build(anchor);
        orders.set(anchor, order);
      }
      return { nodes: order.ranked.map((r) => r.node), complete: order.complete };
    },
    retain(used) {
      for (const anchor of [...orders.keys()]) if (!used.has(anchor)) orders.delete(anchor);
    },
    size: () => orders.size,
  };
}

/**
 * A node that joined the known set, into one anchor's prefix. A complete prefix takes it
 * wherever it ranks; an incomplete one only if it ranks before its last node (after that, nodes
 * the prefix does not hold may come first, so its place is unknown and it stays out).
 */
function admit(order: AnchorOrder, entry: Ranked, keep: number): void {
  const last = order.ranked[order.ranked.length - 1];
  if (!order.complete && (last === undefined || !isBetter(entry, last))) return;
  const before = order.ranked.length;
  keepBest(order.ranked, entry, keep);
  // A complete prefix that had to drop its last node no longer holds every known node.
  if (order.complete && order.ranked.length === before) order.complete = false;
}
