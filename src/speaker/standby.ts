import { compareStrings } from '../election/eligibility.js';
import type { NodeName } from '../shared/brand.js';
import type { IpDecision } from './desired.js';

/**
 * The split liveness design's duties of one speaker (docs/election.md, "1,000 nodes"): which
 * owners it checks on the LAN, whose heartbeats it watches, and when it reaps a member. Pure:
 * the speaker loop (speaker.ts) runs the probes, the watch and the reaping writes.
 */

/** The standbys named per owner: the runner-up and the one after it (docs/election.md). */
export const defaultStandbyCount = 2;

/** Timing of the standby's LAN checks. */
export interface StandbyTiming {
  /** A probe round starts this often per owner (while the last one is still out, the next waits). */
  readonly probeEveryMs: number;
  /** Unanswered rounds in a row that make the owner a suspect, reaped at once. */
  readonly missesToReap: number;
}

/**
 * A round every 500 ms, three in a row unanswered: at least 1.5 s of silence from a process that
 * answers ARP within microseconds (docs/layer2.md measured 3-39 us on veth), so a lost frame or a
 * busy owner is not a crash, while a crash is found well inside the 4 s a client may wait.
 */
export const defaultStandbyTiming: StandbyTiming = { probeEveryMs: 500, missesToReap: 3 };

/** What this node does as a standby and as an owner, after one election. */
export interface StandbyDuties {
  /**
   * owner -> the IP this node probes to check it: the lowest of the IPs it stands by for that
   * the owner records as announced (an IP the owner withholds, still probing or quarantined, is
   * not answered by anyone and says nothing about the owner).
   */
  readonly probe: ReadonlyMap<NodeName, string>;
  /** Nodes whose heartbeat this node watches: the owners it stands by for, and its own standbys. Sorted. */
  readonly watch: readonly NodeName[];
}

/**
 * The duties of `self` from the election's decisions and the announcing records
 * (`recorded`: ip -> node recorded as announcing it, lease-view.ts `recordedOwners`).
 *
 * `split`: the nodes whose speaker runs split liveness (lease-view.ts `livenessModeOf`); absent,
 * every node. Only they are probed and have their heartbeat watched: a `lease`-mode speaker has
 * no heartbeat and is judged by its renewals, which every speaker sees run out on its own, and
 * reaping it would be undone by its next renewal (docs/election.md, "Mixed modes"). Duties do not
 * depend on this node's own mode, so during a switch a `lease`-mode standby checks a `split` owner.
 */
export function standbyDuties(self: NodeName, decisions: Iterable<IpDecision>, recorded: ReadonlyMap<string, NodeName>, split?: ReadonlySet<NodeName>): StandbyDuties {
  const heartbeating = (node: NodeName): boolean => split === undefined || split.has(node);
  // owner -> lowest IP
  const probe = new Map<NodeName, string>();
  const watch = new Set<NodeName>();
  for (const d of decisions) {
    const owner = d.owner;
    if (owner === undefined) continue;
    const standbys = d.standbys ?? [];
    if (owner === self) {
      for (const node of standbys.filter(heartbeating)) watch.add(node);
    } else if (standbys.includes(self) && heartbeating(owner)) {
      watch.add(owner);
      if (recorded.get(d.ip) === owner) probe.set(owner, lowerIp(probe.get(owner), d.ip));
    }
  }
  watch.delete(self);
  return { probe, watch: [...watch].sort(compareStrings) };
}

function lowerIp(current: string | undefined, ip: string): string {
  return current === undefined || compareStrings(ip, current) < 0 ? ip : current;
}

/**
 * What one probe round of an owner found. `unknown`: no interface to probe on, or it failed;
 * neither a miss nor an answer. `fenced`: unanswered by an owner whose heartbeat ran out by its
 * own count ({@link judgeRound}): no miss, and the misses before it are forgotten (that silence
 * may have been its fence too).
 */
export type RoundResult = 'answered' | 'unanswered' | 'unknown' | 'fenced';

/**
 * An unanswered round of an owner that, by its heartbeat as this node last saw it renewed, has
 * stopped counting itself alive (`ownerLapsed`: LivenessTracker.lapsedByOwnCount) is `fenced`,
 * not a miss: the owner fell silent on purpose, because it could not renew (an API partition or
 * outage, docs/speaker.md "API partition"), and answers again once it renews. Counted as misses,
 * a standby that came back from an API outage longer than the heartbeat before its owners' next
 * renewal (up to a renewal period later) reaped every owner it stood by for and took their IPs.
 * An owner that really died meanwhile is reaped when its heartbeat runs out (`heartbeatExpired`).
 */
export function judgeRound(result: RoundResult, ownerLapsed: boolean): RoundResult {
  return result === 'unanswered' && ownerLapsed ? 'fenced' : result;
}

/** owner -> unanswered rounds in a row. */
export type MissLedger = ReadonlyMap<NodeName, number>;

/** The ledger after one round of `owner`: an answer (or a fence) clears it, a silence adds one. */
export function recordRound(ledger: MissLedger, owner: NodeName, result: RoundResult): MissLedger {
  if (result === 'unknown') return ledger;
  const next = new Map(ledger);
  if (result === 'answered' || result === 'fenced') next.delete(owner);
  else next.set(owner, (ledger.get(owner) ?? 0) + 1);
  return next;
}

/** The ledger narrowed to the owners still probed (a new duty starts from zero). */
export function keepOwners(ledger: MissLedger, owners: Iterable<NodeName>): MissLedger {
  const keep = new Set(owners);
  return new Map([...ledger].filter(([node]) => keep.has(node)));
}

/** Why a member is reaped. */
export type ReapReason = 'probesUnanswered' | 'heartbeatExpired';

/** A member to reap. */
export interface Reap {
  readonly node: NodeName;
  readonly reason: ReapReason;
}

/** The heartbeat judgements {@link reapable} reads (election/liveness.ts LivenessTracker). */
export interface HeartbeatView {
  /** Whether a heartbeat of `node` was ever seen (an unseen one says nothing). */
  has(node: NodeName): boolean;
  isAlive(node: NodeName, now: number): boolean;
}

export interface ReapInputs {
  readonly self: NodeName;
  /** Members whose membership Lease is held (the election's alive set, as the API shows it). */
  readonly members: ReadonlySet<NodeName>;
  readonly ledger: MissLedger;
  readonly missesToReap: number;
  /** Nodes whose heartbeats this node watches ({@link StandbyDuties.watch}). */
  readonly watched: readonly NodeName[];
  readonly heartbeats: HeartbeatView;
  /** Local time heartbeats are judged at (membership.ts `peerTime`: frozen while their watch is down). */
  readonly heartbeatsAt: number;
}

/**
 * The members this node reaps now, sorted: owners whose probes went unanswered `missesToReap`
 * rounds in a row, and watched members whose heartbeat ran out. Never itself, never a member
 * that already left (released or reaped). The API arbitrates: the reap is a conditional write,
 * so of several standbys one wins and a member that moved meanwhile is judged again.
 */
export function reapable(r: ReapInputs): readonly Reap[] {
  const out = new Map<NodeName, ReapReason>();
  for (const [node, misses] of r.ledger) if (misses >= r.missesToReap) out.set(node, 'probesUnanswered');
  for (const node of r.watched) {
    if (!out.has(node) && r.heartbeats.has(node) && !r.heartbeats.isAlive(node, r.heartbeatsAt)) out.set(node, 'heartbeatExpired');
  }
  return [...out]
    .filter(([node]) => node !== r.self && r.members.has(node))
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([node, reason]) => ({ node, reason }));
}

/** The label selector of the heartbeats of `nodes` (docs/election.md: a standby watches only its owners'). */
export function heartbeatSelector(nodes: readonly NodeName[]): string {
  return `${leaseRoleLabel}=heartbeat,${leaseNodeLabel} in (${nodes.join(',')})`;
}

/** Label on ironlb's speaker Leases: `membership` or `heartbeat`. */
export const leaseRoleLabel = 'ironlb.io/lease';
/** Label on a heartbeat Lease: the node it belongs to (so a standby can select its owners'). */
export const leaseNodeLabel = 'ironlb.io/node';
/** The prefix of a node's heartbeat Lease: `ironlb-heartbeat-<node>`. */
export const heartbeatLeasePrefix = 'ironlb-heartbeat-';
