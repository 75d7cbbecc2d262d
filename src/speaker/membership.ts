import { isSettled, upTime, type LivenessTracker } from '../election/liveness.js';
import type { NodeName } from '../shared/brand.js';
import type { SpeakerLeaseView } from './lease-view.js';

/** The tracker's judgements the speaker reads (no observation: this module only judges). */
export type LivenessView = Pick<LivenessTracker, 'alive' | 'settled' | 'isAlive' | 'isSettled' | 'nextChange'>;

/** Alive and settled speakers, as one speaker sees them at one moment. */
export interface Membership {
  readonly alive: ReadonlySet<NodeName>;
  readonly settled: ReadonlySet<NodeName>;
}

/**
 * The local time at which peers are judged: now, or, while the Lease watch is down (`lostAt`),
 * the moment it went down. A speaker that cannot see its peers renew must not conclude that
 * they died: after an API outage every speaker would otherwise find itself alone and announce
 * every IP until its watch came back. Frozen, it keeps the view it had (and its peers' records).
 */
export function peerTime(now: number, lostAt: number | undefined): number {
  return lostAt === undefined ? now : Math.min(now, lostAt);
}

export interface MembershipInput {
  readonly self: NodeName;
  readonly now: number;
  /** {@link peerTime} */
  readonly peersAt: number;
  readonly tracker: LivenessView;
  /** Local time until which this node counts itself alive by its own renewals (NodeLease.aliveUntil). */
  readonly selfAliveUntil: number | undefined;
  /** Silenced at SIGTERM: never alive again. */
  readonly silenced: boolean;
  /** This node's own Lease as the watch last showed it. */
  readonly selfLease: SpeakerLeaseView | undefined;
  readonly holdDownMs: number;
}

/**
 * Alive and settled as this node sees them: peers by the tracker at `peersAt`, itself by its
 * own renewals, never by how fast the watch echoes them back.
 */
export function membership(m: MembershipInput): Membership {
  const selfAlive = !m.silenced && m.selfAliveUntil !== undefined && m.now < m.selfAliveUntil;
  const alive = new Set([...m.tracker.alive(m.peersAt)].filter((n) => n !== m.self));
  if (selfAlive) alive.add(m.self);
  const settled = new Set([...m.tracker.settled(m.peersAt, m.holdDownMs)].filter((n) => alive.has(n) && n !== m.self));
  if (selfAlive && isSettled(upTime(m.selfLease?.acquireTime, m.selfLease?.renewTime), m.holdDownMs)) settled.add(m.self);
  return { alive, settled };
}

/**
 * The alive/settled standing of one node at `peersAt`, to tell a plain renewal from a change.
 * One lookup: it runs on every Lease event, and building the alive and settled sets of 1,000
 * members for it took a second of a speaker's CPU at start-up (a CPU profile with 996 members).
 */
export function standing(tracker: LivenessView, node: NodeName, peersAt: number, holdDownMs: number): string {
  return `${String(tracker.isAlive(node, peersAt))}/${String(tracker.isSettled(node, peersAt, holdDownMs))}`;
}

/**
 * The local time at which liveness next changes (the loop's timer), if any: this node's own
 * expiry while alive, and the peers' next expiry unless they are frozen (a watch that comes
 * back wakes the loop anyway).
 */
export function nextLivenessChange(now: number, peersAt: number, tracker: LivenessView, selfUntil: number | undefined): number | undefined {
  const peers = peersAt < now ? undefined : tracker.nextChange(now);
  if (selfUntil === undefined) return peers;
  return peers === undefined ? selfUntil : Math.min(selfUntil, peers);
}
