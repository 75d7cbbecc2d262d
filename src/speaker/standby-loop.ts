import type { Logger } from 'pino';
import { defaultExpiryGraceMs, LivenessTracker, type LeaseObservation } from '../election/liveness.js';
import type { NodeName } from '../shared/brand.js';
import { createAlarm, type Alarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import { peerTime } from './membership.js';
import type { SpeakerMetrics } from './metrics.js';
import type { AnnouncerPort } from './speaker.js';
import { judgeRound, keepOwners, reapable, recordRound, type MissLedger, type Reap, type RoundResult, type StandbyDuties, type StandbyTiming } from './standby.js';

/** What a reaping write found (k8s/ implements it over the membership Lease). */
export type ReapOutcome = 'reaped' | 'moved';

/** Clears the holder of a peer's membership Lease, only if it is still at `version` (optimistic concurrency). */
export interface ReaperPort {
  /** `moved`: the Lease changed since `version` (409, or the cache already has a newer one): judge again. Throws when the API cannot be reached. */
  reap(node: NodeName, version: string): Promise<ReapOutcome>;
}

/** The heartbeat watch, scoped to the nodes this speaker must watch (k8s/speaker-watch.ts). */
export interface HeartbeatWatchPort {
  /** Watches exactly the heartbeats of `nodes` (a label selector; a new watch when the set changes). */
  watch(nodes: readonly NodeName[]): void;
  /** Local time since which the heartbeat watch has been down, if it is. */
  lostAt(): number | undefined;
  /** The last time the heartbeat watch was down and came back, if it was (Informer.lastGap). */
  lastGap(): { readonly from: number; readonly to: number } | undefined;
}

export interface StandbyLoopDeps {
  readonly self: NodeName;
  readonly prober: Pick<AnnouncerPort, 'probe'>;
  readonly heartbeats: HeartbeatWatchPort;
  readonly reaper: ReaperPort;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timing: StandbyTiming;
  readonly metrics: Pick<SpeakerMetrics, 'standbyProbeRounds' | 'reaps'>;
}

/**
 * The imperative half of the split liveness design (docs/election.md, "1,000 nodes"): probes the
 * owners this node stands by for on the LAN, watches the heartbeats of its owners and standbys,
 * and reaps a member that stopped answering or whose heartbeat ran out. Decisions are
 * speaker/standby.ts; the speaker loop hands over the duties after every election.
 */
export interface StandbyLoop {
  /** A heartbeat Lease was seen (watch event), at the local time of the call. */
  observeHeartbeat(lease: Omit<LeaseObservation, 'observedAt'>): void;
  forgetHeartbeat(node: NodeName): void;
  /** The duties of the last election and the members it saw (node -> membership Lease resourceVersion). */
  update(duties: StandbyDuties, members: ReadonlyMap<NodeName, string>): void;
  /**
   * This node was reaped while alive (cut off on the LAN from a standby, or starved of CPU): it
   * reaps nobody for {@link reapHoldOffMs}, so the two sides of a cut LAN do not reap each other
   * in turn, every hold-down, for as long as the cut lasts.
   */
  selfReaped(): void;
  /** Probes and reaps until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** How long a node that was reaped while alive holds off reaping others (see {@link StandbyLoop.selfReaped}). */
export const reapHoldOffMs = 60_000;

/** After a reaping write failed (API unreachable), the next try waits this long. */
const reapRetryMs = 1000;

/** Creates the loop; it starts nothing until `run`. */
export function createStandbyLoop(deps: StandbyLoopDeps): StandbyLoop {
  return new Standby(deps);
}

class Standby implements StandbyLoop {
  private readonly heartbeats = new LivenessTracker(defaultExpiryGraceMs);
  private duties: StandbyDuties = { probe: new Map(), watch: [] };
  // node -> membership Lease version, for the members the last election saw
  private members: ReadonlyMap<NodeName, string> = new Map();
  private ledger: MissLedger = new Map();
  // owner -> local time its next probe round may start
  private readonly nextRoundAt = new Map<NodeName, number>();
  // owners with a probe round out
  private readonly inFlight = new Set<NodeName>();
  // node -> membership version a reap was sent for (never twice for one version)
  private readonly reaping = new Map<NodeName, string>();
  // node -> local time a failed reap may be tried again
  private readonly retryAt = new Map<NodeName, number>();
  // local time until which this node reaps nobody (it was reaped itself)
  private holdOffUntil = Number.NEGATIVE_INFINITY;
  // the end of the last heartbeat watch gap already resumed from
  private resumedGapTo: number | undefined;
  private readonly alarm: Alarm;
  private readonly log: Logger;

  constructor(private readonly deps: StandbyLoopDeps) {
    this.alarm = createAlarm({ clock: deps.clock });
    this.log = deps.logger.child({ component: 'standby' });
  }

  observeHeartbeat(lease: Omit<LeaseObservation, 'observedAt'>): void {
    if (!this.duties.watch.includes(lease.node)) return;
    this.heartbeats.observe({ ...lease, observedAt: this.deps.clock.now() });
    this.alarm.ring();
  }

  selfReaped(): void {
    this.holdOffUntil = this.deps.clock.now() + reapHoldOffMs;
    this.log.info({ event: 'reapHoldOff', ms: reapHoldOffMs }, 'this node was reaped: it reaps nobody for a while');
  }

  forgetHeartbeat(node: NodeName): void {
    this.heartbeats.remove(node);
  }

  update(duties: StandbyDuties, members: ReadonlyMap<NodeName, string>): void {
    const before = this.duties.watch;
    const watchChanged = duties.watch.join(',') !== before.join(',');
    const started = [...duties.probe.keys()].filter((o) => !this.duties.probe.has(o));
    const stopped = [...this.duties.probe.keys()].filter((o) => !duties.probe.has(o));
    this.duties = duties;
    this.members = members;
    this.ledger = keepOwners(this.ledger, duties.probe.keys());
    if (watchChanged) {
      // A node no longer watched is forgotten: watched again later, it starts as just renewed,
      // not judged by a renewal seen long ago.
      for (const node of before) if (!duties.watch.includes(node)) this.heartbeats.remove(node);
      this.deps.heartbeats.watch(duties.watch);
      this.log.debug({ event: 'heartbeatWatch', nodes: duties.watch }, 'watching heartbeats');
    }
    if (started.length > 0 || stopped.length > 0) this.log.info({ event: 'standbyDuties', probing: [...duties.probe].map(([o, ip]) => `${o}:${ip}`), started, stopped }, 'standby duties changed');
    this.alarm.ring();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.alarm.arm();
      const now = this.deps.clock.now();
      this.startRounds(now, signal);
      this.reap(now);
      await this.alarm.wait(signal, Math.max(1, this.nextWake(now) - now));
    }
  }

  private startRounds(now: number, signal: AbortSignal): void {
    for (const [owner, ip] of this.duties.probe) {
      if (this.inFlight.has(owner) || (this.nextRoundAt.get(owner) ?? 0) > now) continue;
      this.inFlight.add(owner);
      this.nextRoundAt.set(owner, now + this.deps.timing.probeEveryMs);
      const done = (heard: RoundResult): void => {
        this.inFlight.delete(owner);
        const at = this.deps.clock.now();
        const result = judgeRound(heard, this.heartbeats.lapsedByOwnCount(owner, at));
        this.deps.metrics.standbyProbeRounds.inc({ result });
        if (this.duties.probe.get(owner) === ip) this.ledger = recordRound(this.ledger, owner, result);
        // How long ago its latest heartbeat was first seen here: fresh for a crash, old for an owner fenced or cut off.
        const seen = this.heartbeats.renewalSeenAt(owner);
        if (result === 'unanswered') this.log.info({ event: 'ownerSilent', owner, ip, misses: this.ledger.get(owner), heartbeatSeenMsAgo: seen === undefined ? undefined : Math.round(at - seen) }, 'the owner did not answer a probe');
        else if (result === 'fenced') this.log.debug({ event: 'ownerFenced', owner, ip }, 'the owner did not answer a probe; its heartbeat ran out by its own count, so it keeps silent on purpose: not a miss');
        this.alarm.ring();
      };
      // Only the owner's answer counts: the other standby probes the same IP at the same time.
      this.deps.prober.probe(ip, signal, { answersOnly: true }).then(
        (outcome) => { done(signal.aborted ? 'unknown' : outcome.kind === 'conflict' ? 'answered' : outcome.kind === 'clear' ? 'unanswered' : 'unknown'); },
        (e: unknown) => {
          this.log.warn({ event: 'standbyProbeFailed', owner, ip, err: e }, 'probing the owner failed');
          done('unknown');
        },
      );
    }
  }

  private reap(now: number): void {
    this.resumeHeartbeats();
    if (now < this.holdOffUntil) return;
    const found = reapable({
      self: this.deps.self,
      members: new Set(this.members.keys()),
      ledger: this.ledger,
      missesToReap: this.deps.timing.missesToReap,
      watched: this.duties.watch,
      heartbeats: this.heartbeats,
      heartbeatsAt: peerTime(now, this.deps.heartbeats.lostAt()),
    });
    for (const r of found) {
      const version = this.members.get(r.node);
      if (version === undefined || this.reaping.get(r.node) === version || (this.retryAt.get(r.node) ?? 0) > now) continue;
      this.reaping.set(r.node, version);
      void this.reapOne(r, version);
    }
  }

  /**
   * After the heartbeat watch was down, members alive when it went down count as renewed when
   * it came back (LivenessTracker.resume): the relist can show a heartbeat from before an API
   * outage that its owner renews only up to one renewal period later, and judged by that a live
   * owner would be reaped.
   */
  private resumeHeartbeats(): void {
    const gap = this.deps.heartbeats.lastGap();
    if (gap === undefined || gap.to === this.resumedGapTo) return;
    this.resumedGapTo = gap.to;
    this.heartbeats.resume(gap.from, gap.to);
  }

  private async reapOne(r: Reap, version: string): Promise<void> {
    try {
      const outcome = await this.deps.reaper.reap(r.node, version);
      this.deps.metrics.reaps.inc({ reason: r.reason, result: outcome });
      if (outcome === 'reaped') this.log.warn({ event: 'memberReaped', peer: r.node, reason: r.reason }, 'reaped a member: its membership Lease no longer has a holder');
      else this.log.info({ event: 'reapMoved', peer: r.node, reason: r.reason }, 'the member\'s Lease changed meanwhile; judging again');
      // Either way the misses are spent: a reaped member that rejoins at once (a new Lease version)
      // is judged from zero, not reaped again on the misses that reaped it.
      this.ledger = new Map([...this.ledger].filter(([node]) => node !== r.node));
    } catch (e: unknown) {
      this.deps.metrics.reaps.inc({ reason: r.reason, result: 'failed' });
      this.log.warn({ event: 'reapFailed', peer: r.node, reason: r.reason, err: e }, 'could not reap a member; trying again');
      // Tried again in a second (an API server that is down must not be hammered).
      this.reaping.delete(r.node);
      this.retryAt.set(r.node, this.deps.clock.now() + reapRetryMs);
    }
    this.alarm.ring();
  }

  private nextWake(now: number): number {
    const times = [...this.duties.probe.keys()].filter((o) => !this.inFlight.has(o)).map((o) => this.nextRoundAt.get(o) ?? now);
    const beat = this.heartbeats.nextChange(now);
    if (beat !== undefined) times.push(beat + 1);
    for (const at of this.retryAt.values()) if (at > now) times.push(at);
    if (this.holdOffUntil > now) times.push(this.holdOffUntil);
    return times.length === 0 ? now + 60_000 : Math.min(...times);
  }
}
