import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createAlarm, type Alarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import { httpStatusOf } from './client.js';

/** The Lease calls we make, on one namespace. */
export interface LeaseStore {
  get(name: string): Promise<k8s.V1Lease | undefined>;
  /** Creates the Lease; `false` when it already exists (409). */
  create(lease: k8s.V1Lease): Promise<boolean>;
  /** Replaces the Lease (optimistic on metadata.resourceVersion); `false` on a conflict (409). */
  replace(lease: k8s.V1Lease): Promise<boolean>;
}

/**
 * A LeaseStore over client-node's CoordinationV1Api: the boolean view of {@link leaseWriter}
 * (one set of API calls for leader election and node membership). A replace of a Lease that
 * is gone is `false` too: the next round reads it as absent and creates it.
 */
export function leaseStore(api: k8s.CoordinationV1Api, namespace: string): LeaseStore {
  const writer = leaseWriter(api, namespace);
  return {
    get: (name) => writer.get(name),
    create: async (lease) => (await writer.create(lease)) !== 'conflict',
    replace: async (lease) => (await writer.replace(lease)) !== 'conflict',
  };
}

/** When a Lease was last seen to change, by our own clock (never compare clocks across nodes). */
interface Observation {
  readonly resourceVersion: string;
  readonly holder: string;
  readonly observedAt: number;
}

export interface LeaseTimings {
  /** How long a holder's claim lasts without renewal. */
  readonly leaseDurationMs: number;
  /** How often the holder renews (and others retry). */
  readonly retryPeriodMs: number;
}

/** Tries to take or renew one Lease for `identity`; judges expiry by local observation time. */
export class LeaseClaimer {
  private observed: Observation | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly name: string,
    private readonly identity: string,
    private readonly timings: LeaseTimings,
    private readonly clock: Clock,
  ) {}

  /** Returns true when `identity` holds the Lease after this call. Throws on API errors other than conflicts. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const current = await this.store.get(this.name);
    if (current === undefined) return this.store.create(this.fresh(undefined));
    if (this.heldByLiveOther(current, now)) return false;
    return this.store.replace(this.fresh(current));
  }

  /** Another holder's claim stands until its Lease stops changing for a whole duration, by our clock. */
  private heldByLiveOther(current: k8s.V1Lease, now: number): boolean {
    const holder = current.spec?.holderIdentity ?? '';
    const rv = current.metadata?.resourceVersion ?? '';
    const observed = this.observed?.resourceVersion === rv ? this.observed : { resourceVersion: rv, holder, observedAt: now };
    this.observed = observed;
    const heldByOther = holder !== '' && holder !== this.identity;
    return heldByOther && now < observed.observedAt + this.timings.leaseDurationMs;
  }

  /** Gives the Lease up (holder cleared) so that others may take it at once. Best effort. */
  async release(): Promise<void> {
    const current = await this.store.get(this.name);
    if (current?.spec?.holderIdentity !== this.identity) return;
    await this.store.replace({
      ...current,
      spec: { ...current.spec, holderIdentity: '', renewTime: this.microTime(), leaseDurationSeconds: 1 },
    });
  }

  private microTime(): k8s.V1MicroTime {
    return this.clock.wallTime();
  }

  private fresh(current: k8s.V1Lease | undefined): k8s.V1Lease {
    const spec = current?.spec ?? {};
    const changingHands = spec.holderIdentity !== this.identity;
    const now = this.microTime();
    const transitions = (spec.leaseTransitions ?? 0) + (changingHands && current !== undefined ? 1 : 0);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...current?.metadata, name: this.name },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.timings.leaseDurationMs / 1000)),
        acquireTime: changingHands ? now : (spec.acquireTime ?? now),
        renewTime: now,
        leaseTransitions: transitions,
      },
    };
  }
}

export interface LeaderElectorDeps {
  readonly store: LeaseStore;
  readonly name: string;
  readonly identity: string;
  /** client-go's defaults are 15 s / 10 s / 2 s. */
  readonly timings: LeaseTimings & { readonly renewDeadlineMs: number };
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Lease-based leader election, as client-go does it. `run` calls `lead(leaderSignal)` while this
 * process holds the Lease; `leaderSignal` aborts the moment leadership is lost (renewals failed for
 * `renewDeadlineMs`), so a stale leader stops writing at once. On shutdown the Lease is released.
 */
export class LeaderElector {
  private readonly claimer: LeaseClaimer;
  private readonly log: Logger;

  constructor(private readonly deps: LeaderElectorDeps) {
    this.claimer = new LeaseClaimer(deps.store, deps.name, deps.identity, deps.timings, deps.clock);
    this.log = deps.logger.child({ component: 'leader-election', lease: deps.name });
  }

  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void> {
    const aborted = (): boolean => signal.aborted;
    while (!aborted()) {
      if (!(await this.attempt())) {
        await this.deps.clock.sleep(this.deps.timings.retryPeriodMs, signal).catch(() => undefined);
        continue;
      }
      this.log.info({ event: 'leaderElected', identity: this.deps.identity }, 'became leader');
      const leadership = new AbortController();
      const leading = lead(leadership.signal);
      await this.renewUntilLost(signal);
      leadership.abort();
      await leading;
      if (aborted()) {
        await this.claimer.release().catch((e: unknown) => {
          this.log.warn({ event: 'leaseReleaseFailed', err: e }, 'could not release the leader Lease');
        });
      } else {
        this.log.warn({ event: 'leaderLost', identity: this.deps.identity }, 'lost leadership; stopped writing');
      }
    }
  }

  private async attempt(): Promise<boolean> {
    try {
      return await this.claimer.tryAcquireOrRenew();
    } catch (e: unknown) {
      this.log.warn({ event: 'leaseError', status: httpStatusOf(e), err: e }, 'leader Lease request failed');
      return false;
    }
  }

  private async renewUntilLost(signal: AbortSignal): Promise<void> {
    let lastRenew = this.deps.clock.now();
    const aborted = (): boolean => signal.aborted;
    while (!aborted()) {
      await this.deps.clock.sleep(this.deps.timings.retryPeriodMs, signal).catch(() => undefined);
      if (aborted()) return;
      if (await this.attempt()) lastRenew = this.deps.clock.now();
      else if (this.deps.clock.now() - lastRenew > this.deps.timings.renewDeadlineMs) return;
    }
  }
}

function transitions(current: k8s.V1Lease | undefined, holding: boolean): number {
  const before = current?.spec?.leaseTransitions ?? 0;
  return holding || current === undefined ? before : before + 1;
}

/** The Lease calls a node-membership Lease makes; answers carry the new resourceVersion. */
export interface LeaseWriter {
  get(name: string): Promise<k8s.V1Lease | undefined>;
  /** The created Lease, or 'conflict' when it already exists (409). */
  create(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'>;
  /** The stored Lease, or 'conflict' when metadata.resourceVersion is stale (409) or it is gone (404). */
  replace(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'>;
}

/** A LeaseWriter over client-node's CoordinationV1Api. */
export function leaseWriter(api: k8s.CoordinationV1Api, namespace: string): LeaseWriter {
  const conflictOr = (e: unknown, statuses: readonly number[]): 'conflict' => {
    if (statuses.includes(httpStatusOf(e))) return 'conflict';
    throw e;
  };
  return {
    async get(name) {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (e: unknown) {
        if (httpStatusOf(e) === 404) return undefined;
        throw e;
      }
    },
    async create(lease) {
      try {
        return await api.createNamespacedLease({ namespace, body: lease });
      } catch (e: unknown) {
        return conflictOr(e, [409]);
      }
    },
    async replace(lease) {
      try {
        return await api.replaceNamespacedLease({ name: lease.metadata?.name ?? '', namespace, body: lease });
      } catch (e: unknown) {
        return conflictOr(e, [409, 404]);
      }
    },
  };
}

/** Counters a NodeLease reports (wired to prom-client by the caller). */
export interface NodeLeaseMetrics {
  renewal(result: 'ok' | 'failed'): void;
}

export interface NodeLeaseDeps {
  readonly writer: LeaseWriter;
  /** `ironlb-speaker-<node>` */
  readonly name: string;
  /** `spec.holderIdentity` while we hold it: the node name. */
  readonly identity: string;
  readonly durationMs: number;
  readonly renewMs: number;
  /** Annotation that records what this node announces (docs/speaker.md). */
  readonly recordAnnotation: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: NodeLeaseMetrics;
  /** Called when a renewal makes this node alive again (the first one, or the first after a gap). */
  readonly onAlive?: () => void;
}

/**
 * The release gets at most this long: the speaker must exit within 2 s of SIGTERM (issue 6);
 * if the API does not answer, peers take over when the Lease expires instead.
 */
const releaseTimeoutMs = 1000;

/** How long before a slow renewal's answer we assume the write was stored (see NodeLease). */
export const answerGraceMs = 500;

/**
 * Keeps one node-membership Lease alive: one PUT per renewal carrying the resourceVersion of the
 * Lease we last wrote (no GET; a 409 costs one GET and one retry). `spec.acquireTime` is set on
 * the first write and again after a gap in our own renewals longer than the duration, as the
 * rejoin hold-down expects (docs/election.md). The Lease also carries the IPs this node
 * announces, in `recordAnnotation`, so peers can keep a current owner (anti-flap).
 *
 * Renewals start every `renewMs`, counted from the start of the previous one, so a slow API
 * server stretches the period to the request time, not to request time plus `renewMs`.
 *
 * `aliveUntil()` is how long this node may still count itself alive by its own clock: one
 * duration from the moment the last successful renewal was stored. We cannot see that moment,
 * only that it lies between the request's start and its answer. Peers count from when they saw
 * the write, which is no earlier than it was stored. So we count from the start, or, for a slow
 * answer, from `answerGraceMs` before the answer arrived: a slow API server is slow before it
 * stores (queueing, etcd), and answers right after. Counting from the start alone would leave an
 * owner silent for part of every renewal once requests take more than half a duration (2 s of
 * latency with the 3 s default), although its peers see it alive all along (docs/speaker.md).
 */
export class NodeLease {
  // the Lease as last stored by the API server (its resourceVersion is what the next PUT carries)
  private cached: k8s.V1Lease | undefined;
  // local time from which the last successful renewal counts (see the class comment)
  private storedAt: number | undefined;
  private record = '';
  private readonly alarm: Alarm;
  private failures = 0;
  private readonly log: Logger;

  constructor(private readonly deps: NodeLeaseDeps) {
    this.log = deps.logger.child({ component: 'membership', lease: deps.name });
    this.alarm = createAlarm({ clock: deps.clock });
  }

  /** Local time until which this node counts as alive; undefined before the first renewal or once released. */
  aliveUntil(): number | undefined {
    return this.storedAt === undefined ? undefined : this.storedAt + this.deps.durationMs;
  }

  /** Sets the announced IPs to record; written at once (not waiting for the next renewal) when it changed. */
  setRecord(ips: readonly string[]): void {
    const text = ips.join(',');
    if (text === this.record) return;
    this.record = text;
    this.alarm.ring();
  }

  /** Renews every `renewMs` until `signal` aborts, then releases the Lease (holder cleared). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Armed before the renewal, so a record change while the PUT is in flight is written right after it.
      this.alarm.arm();
      const start = this.deps.clock.now();
      await this.renew(signal);
      if (this.alarm.rung) continue;
      await this.alarm.wait(signal, start + this.deps.renewMs - this.deps.clock.now());
    }
    await this.release();
  }

  /** One renewal; failures are logged and counted, never thrown. */
  async renew(signal?: AbortSignal): Promise<boolean> {
    const start = this.deps.clock.now();
    try {
      const stored = await this.withTimeout(this.write(start), this.deps.durationMs, signal);
      const answered = this.deps.clock.now();
      // Alive right up to this answer? If we lapsed while it was in flight, the speaker has
      // withdrawn and must hear that it is back.
      const until = this.aliveUntil();
      const wasAlive = until !== undefined && answered < until;
      this.cached = stored;
      this.storedAt = Math.max(start, answered - answerGraceMs);
      if (!wasAlive) this.deps.onAlive?.();
      if (this.failures > 0) this.log.info({ event: 'leaseRenewed', after: this.failures }, 'renewing the Lease again');
      this.failures = 0;
      this.deps.metrics?.renewal('ok');
      return true;
    } catch (e: unknown) {
      this.failures += 1;
      this.deps.metrics?.renewal('failed');
      // One line per failure streak at warn, the rest at debug: a partition must not flood the log.
      const level = this.failures === 1 ? 'warn' : 'debug';
      this.log[level]({ event: 'leaseRenewFailed', status: httpStatusOf(e), failures: this.failures, err: e }, 'could not renew the Lease');
      return false;
    }
  }

  /** Clears the holder (and the record) so peers take over at once. Best effort, bounded by `releaseTimeoutMs`. */
  async release(): Promise<void> {
    this.storedAt = undefined;
    const current = this.cached;
    if (current === undefined) return;
    try {
      const stored = await this.withTimeout(this.clearHolder(current), releaseTimeoutMs);
      if (stored !== undefined) this.cached = stored;
      this.log.info({ event: 'leaseReleased' }, 'released the Lease');
    } catch (e: unknown) {
      this.log.warn({ event: 'leaseReleaseFailed', status: httpStatusOf(e), err: e }, 'could not release the Lease; peers take over when it expires');
    }
  }

  /**
   * Writes the Lease with no holder. A renewal abandoned at SIGTERM may still have landed and
   * moved the resourceVersion on: on a 409, read it once and retry if it is still ours.
   */
  private async clearHolder(current: k8s.V1Lease): Promise<k8s.V1Lease | undefined> {
    const released = (lease: k8s.V1Lease): k8s.V1Lease => ({
      ...lease,
      metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [this.deps.recordAnnotation]: '' } },
      spec: { ...lease.spec, holderIdentity: '', renewTime: this.deps.clock.wallTime() },
    });
    const first = await this.deps.writer.replace(released(current));
    if (first !== 'conflict') return first;
    const fresh = await this.deps.writer.get(this.deps.name);
    if (fresh?.spec?.holderIdentity !== this.deps.identity) return fresh; // someone else's now: nothing to release
    const again = await this.deps.writer.replace(released(fresh));
    if (again === 'conflict') throw new Error('the Lease kept changing under us (409)');
    return again;
  }

  private async write(start: number): Promise<k8s.V1Lease> {
    const base = this.cached ?? (await this.deps.writer.get(this.deps.name));
    if (base === undefined) {
      const created = await this.deps.writer.create(this.next(undefined, start));
      if (created !== 'conflict') return created;
    } else {
      const stored = await this.deps.writer.replace(this.next(base, start));
      if (stored !== 'conflict') return stored;
    }
    // Someone else wrote it (our previous life, a retry that landed late): read once, try once more.
    const fresh = await this.deps.writer.get(this.deps.name);
    const again = fresh === undefined ? await this.deps.writer.create(this.next(undefined, start)) : await this.deps.writer.replace(this.next(fresh, start));
    if (again === 'conflict') throw new Error('the Lease kept changing under us (409)');
    return again;
  }

  private next(current: k8s.V1Lease | undefined, start: number): k8s.V1Lease {
    const spec = current?.spec ?? {};
    const now = this.deps.clock.wallTime();
    const holding = spec.holderIdentity === this.deps.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...current?.metadata,
        name: this.deps.name,
        annotations: { ...current?.metadata?.annotations, [this.deps.recordAnnotation]: this.record },
      },
      spec: {
        holderIdentity: this.deps.identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.deps.durationMs / 1000)),
        acquireTime: this.continuous(holding, start) ? (spec.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: transitions(current, holding),
      },
    };
  }

  /** Whether our renewals had no gap longer than the duration (else peers saw us die: a new acquisition). */
  private continuous(holding: boolean, start: number): boolean {
    return holding && this.storedAt !== undefined && start - this.storedAt <= this.deps.durationMs;
  }

  /** `work`, or a rejection once `limitMs` passed or `signal` aborted (the request itself is abandoned). */
  private async withTimeout<T>(work: Promise<T>, limitMs: number, signal?: AbortSignal): Promise<T> {
    const timer = new AbortController();
    const both = signal === undefined ? timer.signal : AbortSignal.any([signal, timer.signal]);
    const timeout = new Promise<never>((_, reject) => {
      this.deps.clock.sleep(limitMs, both).then(
        () => { reject(new Error(`no answer within ${limitMs} ms`)); },
        () => { if (signal?.aborted === true) reject(new Error('stopped')); },
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      timer.abort();
    }
  }
}
