import type { NodeName } from '../shared/brand.js';
import { compareStrings } from './eligibility.js';

/**
 * What the speaker saw of a peer's Lease `ironlb-speaker-<node>` at one moment. `observedAt`
 * is this speaker's own monotonic clock (Clock.now()), never a time written by the peer.
 */
export interface LeaseObservation {
  readonly node: NodeName;
  /** Changes whenever the peer renews: `metadata.resourceVersion` (or `spec.renewTime`). */
  readonly version: string;
  /** `spec.holderIdentity`; empty or absent means the peer released the Lease. */
  readonly holderIdentity: string | undefined;
  /** `spec.leaseDurationSeconds`; absent or <= 0 counts as dead. */
  readonly leaseDurationSeconds: number | undefined;
  /**
   * `spec.acquireTime` and `spec.renewTime` (RFC 3339). Both are written by the peer's own
   * clock, so their difference is how long the peer has been up without a gap, with no
   * cross-node clock comparison. Absent or unparsable: the peer counts as settled.
   */
  readonly acquireTime?: string | undefined;
  readonly renewTime?: string | undefined;
  /**
   * How this Lease is judged: `true`, by its renewals (alive while it changed within its
   * duration); `false`, by its holder alone (a split-liveness membership Lease, written on change
   * only: alive until released or reaped). Absent: the tracker's default. Each Lease is judged by
   * the rule of the speaker that writes it, so speakers of both modes agree on who is alive
   * (docs/election.md, "Mixed modes").
   */
  readonly expires?: boolean | undefined;
  readonly observedAt: number;
}

/** Default rejoin hold-down: a peer up for less than this does not take over IPs (docs/election.md). */
export const defaultHoldDownMs = 10_000;

/**
 * How long past its duration a peer's Lease still counts: a renewal reaches us through the API
 * server and a watch, and one that lands a few milliseconds late (the first renewal after the
 * API server turned slow, docs/speaker.md "A slow API server") must not read as an expiry. A
 * speaker counts itself without it, so it still stops before its peers take over.
 */
export const defaultExpiryGraceMs = 250;

interface PeerState {
  readonly version: string;
  readonly released: boolean;
  readonly durationMs: number;
  /** Local time at which `version` was first seen: the last renewal we know of (moved on by `resume`). */
  readonly changedAt: number;
  /** Local time at which `version` was first seen, never moved by `resume` (see {@link LivenessTracker.lapsedByOwnCount}). */
  readonly seenAt: number;
  /** renewTime - acquireTime as written by the peer, or undefined when unknown. */
  readonly upMs: number | undefined;
  /** Judged by its renewals (else by its holder alone). */
  readonly expires: boolean;
}

/**
 * Judges which speakers are alive from their Leases, by local observation time only: a peer
 * is alive while the Lease has changed within its duration, measured from the moment this
 * speaker saw the change. A released Lease is dead at once (DESIGN.md: peers take over
 * without waiting for expiry). Holds no timers: the shell calls `nextChange` to know when
 * to look again.
 *
 * A Lease seen for the first time counts as just renewed: after our own restart a dead
 * peer may look alive for at most one lease duration, the price of not trusting its clock.
 */
export class LivenessTracker {
  // node -> last known state of its Lease
  private readonly peers = new Map<NodeName, PeerState>();
  // node -> the version of its Lease last observed and the local time it was first seen. Kept
  // across `remove`: a version seen again (a node watched again after a while) is the same write,
  // renewed no later than we first saw it (lapsedByOwnCount). One entry per node ever seen.
  private readonly firstSeen = new Map<NodeName, { readonly version: string; readonly at: number }>();

  /**
   * `graceMs`: see {@link defaultExpiryGraceMs}. `expires: false` judges by the holder alone: a
   * held Lease is alive however old, for the membership Leases of the split design
   * (docs/election.md, "1,000 nodes"), which are written only on change; a peer leaves by
   * releasing its Lease or by being reaped. It is the default for observations that do not say
   * ({@link LeaseObservation.expires}).
   */
  constructor(private readonly graceMs = defaultExpiryGraceMs, private readonly expires = true) {}

  /** Records one observation of a peer's Lease (from a watch event or a relist). */
  observe(lease: LeaseObservation): void {
    const previous = this.peers.get(lease.node);
    const seen = this.firstSeen.get(lease.node);
    const seenAt = seen?.version === lease.version ? seen.at : lease.observedAt;
    this.firstSeen.set(lease.node, { version: lease.version, at: seenAt });
    this.peers.set(lease.node, {
      version: lease.version,
      released: lease.holderIdentity === undefined || lease.holderIdentity === '',
      durationMs: Math.max(0, (lease.leaseDurationSeconds ?? 0) * 1000),
      changedAt: previous === undefined || previous.version !== lease.version ? lease.observedAt : previous.changedAt,
      seenAt,
      upMs: upTime(lease.acquireTime, lease.renewTime),
      expires: lease.expires ?? this.expires,
    });
  }

  /**
   * The watch that feeds this tracker was down from `lostAt` and is back (relisted) at `now`.
   * A peer that was alive when sight was lost counts as renewed at `now`, as a Lease seen for
   * the first time does: the relist may come before the peer's first renewal after the outage,
   * and judging it by a renewal from before the outage would find every peer dead, so the first
   * speaker back would take every IP while the others take their own back (two answers; the
   * outage test in test/netns/speaker-faults.test.ts). A peer that really died meanwhile is
   * judged dead one duration later; its IPs were unanswered through the outage anyway, since
   * every speaker stops once its own renewals lapse.
   */
  resume(lostAt: number, now: number): void {
    for (const [node, peer] of this.peers) {
      if (this.isPeerAlive(peer, lostAt) && peer.changedAt < now) this.peers.set(node, { ...peer, changedAt: now });
    }
  }

  /** The Lease was deleted, or is no longer watched: the peer is dead (what was seen when stays, see `firstSeen`). */
  remove(node: NodeName): void {
    this.peers.delete(node);
  }

  /** Whether a Lease of `node` was observed (and not since deleted). */
  has(node: NodeName): boolean {
    return this.peers.has(node);
  }

  /** Whether one peer is alive at local time `now` (unknown peers are not). */
  isAlive(node: NodeName, now: number): boolean {
    const peer = this.peers.get(node);
    return peer !== undefined && this.isPeerAlive(peer, now);
  }

  /** The local time the latest known renewal of `node` was first seen (see {@link lapsedByOwnCount}), if it is known. */
  renewalSeenAt(node: NodeName): number | undefined {
    return this.peers.get(node)?.seenAt;
  }

  /**
   * Whether `node`, judging itself by its own renewals as every speaker does (a split node by its
   * heartbeat), has stopped counting itself alive by local time `now`: the latest renewal of it
   * we know of was first seen here a whole duration ago or more. The writer counts a duration
   * from no later than its write was stored, and we saw the write after it was stored, so its
   * count ran out no later than ours does. Unlike {@link isAlive}, a gap in our own sight does
   * not move this (`resume` leaves it alone): it is about what the peer knows of itself, not
   * about what we could see, and a version observed again after `remove` keeps the time it was
   * first seen. A version seen for the first time, or an unknown node, has not lapsed.
   */
  lapsedByOwnCount(node: NodeName, now: number): boolean {
    const peer = this.peers.get(node);
    return peer !== undefined && !peer.released && now >= peer.seenAt + peer.durationMs;
  }

  /** Whether one peer is alive and past the hold-down at local time `now` ({@link settled} for one node). */
  isSettled(node: NodeName, now: number, holdDownMs: number = defaultHoldDownMs): boolean {
    const peer = this.peers.get(node);
    return peer !== undefined && this.isPeerAlive(peer, now) && isSettled(peer.upMs, holdDownMs);
  }

  /** Peers alive at local time `now`. */
  alive(now: number): ReadonlySet<NodeName> {
    const names = [...this.peers].filter(([, p]) => this.isPeerAlive(p, now)).map(([n]) => n);
    return new Set(names.sort(compareStrings));
  }

  /**
   * Alive peers whose Lease shows them up for at least `holdDownMs` without a gap (so a
   * flapping node does not grab IPs the moment it returns). Deterministic across speakers:
   * it reads only times the peer itself wrote.
   */
  settled(now: number, holdDownMs: number = defaultHoldDownMs): ReadonlySet<NodeName> {
    const names = [...this.peers]
      .filter(([, p]) => this.isPeerAlive(p, now) && isSettled(p.upMs, holdDownMs))
      .map(([n]) => n);
    return new Set(names.sort(compareStrings));
  }

  /** The earliest local time after `now` at which some peer's liveness runs out, if any. */
  nextChange(now: number): number | undefined {
    let next: number | undefined;
    for (const peer of this.peers.values()) {
      const expiry = this.expiry(peer);
      if (this.isPeerAlive(peer, now) && Number.isFinite(expiry) && (next === undefined || expiry < next)) next = expiry;
    }
    return next;
  }

  private expiry(peer: PeerState): number {
    return peer.expires ? peer.changedAt + peer.durationMs + this.graceMs : Number.POSITIVE_INFINITY;
  }

  private isPeerAlive(peer: PeerState, now: number): boolean {
    return !peer.released && peer.durationMs > 0 && now < this.expiry(peer);
  }
}

/**
 * Whether a speaker up for `upMs` (see {@link upTime}) is past the hold-down. Unknown counts
 * as settled: a Lease without usable times must not keep its node from owning forever.
 */
export function isSettled(upMs: number | undefined, holdDownMs: number): boolean {
  return upMs === undefined || upMs >= holdDownMs;
}

/** How long a speaker has been up by its own Lease (`renewTime - acquireTime`, both its own clock), or undefined when unknown. */
export function upTime(acquireTime: string | undefined, renewTime: string | undefined): number | undefined {
  if (acquireTime === undefined || renewTime === undefined) return undefined;
  const up = Date.parse(renewTime) - Date.parse(acquireTime);
  return Number.isFinite(up) ? up : undefined;
}
