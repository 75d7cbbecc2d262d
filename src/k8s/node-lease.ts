import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createAlarm, type Alarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import { httpStatusOf } from './kube-rest.js';
import { LeaseConflictError, LeaseRequestAbandonedError, renewedLease, type LeaseWriter } from './lease-api.js';

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
  /**
   * A request that gets no answer within this long is abandoned; default `durationMs`. The split
   * membership Lease declares a duration of hours (docs/speaker.md, "Mixed modes") but must not
   * wait that long on a hung PUT.
   */
  readonly requestTimeoutMs?: number;
  /** Annotation that records what this node announces (docs/speaker.md); absent: none (the heartbeat Lease). */
  readonly recordAnnotation?: string;
  /** Labels the Lease carries (`ironlb.io/lease`, `ironlb.io/node`: docs/election.md "1,000 nodes"). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Whether this node has been up without a gap, so a write keeps `acquireTime`. Default: no
   * gap in this Lease's own renewals longer than its duration. The split design's membership
   * Lease is written only on change, so it asks the heartbeat instead.
   */
  readonly continuous?: (start: number) => boolean;
  /** After a failed write, the next try comes this soon if `renewMs` is longer (the split membership Lease: an hour). */
  readonly retryMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: NodeLeaseMetrics;
  /** Called when a renewal makes this node alive again (the first one, or the first after a gap). */
  readonly onAlive?: () => void;
}

/**
 * The release gets at most this long: the speaker must exit within 2 s of SIGTERM (docs/speaker.md);
 * if the API does not answer, peers take over when the Lease expires instead.
 */
const releaseTimeoutMs = 1000;

/** How long before a slow renewal's answer we assume the write was stored (see NodeLease). */
export const answerGraceMs = 500;

/** This node's own Lease as its watch delivered it, as far as NodeLease reads it (speaker/lease-view.ts SpeakerLeaseView). */
export interface LeaseEcho {
  /** `metadata.resourceVersion` */
  readonly version: string;
  /** The IPs its `recordAnnotation` holds. */
  readonly announcing: readonly string[];
  /** `spec.holderIdentity`: peers read the record of a held Lease only. */
  readonly holderIdentity: string | undefined;
}

/** How many delivered resourceVersions are kept to tell whether our latest write has come back (see `echoed`). */
const echoVersionsKept = 16;

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
  // annotation -> value this node records on its Lease (the announced IPs, the conflicts seen)
  private readonly record = new Map<string, string>();
  private readonly alarm: Alarm;
  private failures = 0;
  private readonly log: Logger;
  // A write is in flight (`renew`): with `alarm.rung`, a write of ours is pending.
  private writing = false;
  private released = false;
  // resourceVersions the watch delivered of this Lease, newest last (at most echoVersionsKept)
  private readonly echoVersions: string[] = [];
  // The latest echo; `judged` once the record was set after it came (the speaker elected with it in view).
  private echo: { readonly version: string; readonly announcing: readonly string[]; readonly held: boolean; judged: boolean } | undefined;
  // The resourceVersion of the last echo a rewrite was asked for (at most one per version, however often it is delivered).
  private rewrittenFor: string | undefined;

  constructor(private readonly deps: NodeLeaseDeps) {
    this.log = deps.logger.child({ component: 'membership', lease: deps.name });
    this.alarm = createAlarm({ clock: deps.clock });
  }

  /** Local time until which this node counts as alive; undefined before the first renewal or once released. */
  aliveUntil(): number | undefined {
    return this.storedAt === undefined ? undefined : this.storedAt + this.deps.durationMs;
  }

  /**
   * Sets the announced IPs to record; written at once (not waiting for the next renewal) when it
   * changed, and written again when the latest echo records something else (see `echoed`).
   */
  setRecord(ips: readonly string[]): void {
    if (this.deps.recordAnnotation === undefined) return;
    this.setAnnotation(this.deps.recordAnnotation, ips.join(','));
    if (this.echo !== undefined) this.echo.judged = true;
    this.rewriteFalseRecord();
  }

  /**
   * This Lease as the watch delivered it. Written on change only (split liveness), a record that
   * another client wrote (a Lease edited by hand or by an older speaker, a write of ours abandoned
   * and landed late) would stand until this node happened to write again, and every peer would
   * keep it as the current owner meanwhile. So when the latest echo came after our latest write
   * (the watch delivers one object's writes in order: its resourceVersion came before this one),
   * records other IPs than this node does now, and no write of ours is pending, the record is
   * written again. Once per echoed version (a relist delivers one again): a rewrite that cannot land is retried by the renewal loop as
   * any failed write, and one that lands comes back as ours. Judged only after the next
   * `setRecord`: a node that wins a claimed IP by the tie rule takes it (the claim comes true)
   * rather than erasing the claim its peers acted on.
   */
  echoed(echo: LeaseEcho): void {
    this.echoVersions.push(echo.version);
    if (this.echoVersions.length > echoVersionsKept) this.echoVersions.shift();
    const before = this.echo;
    // The same record as the echo before: the speaker has no reason to elect again, so what it judged then holds.
    const judged = before !== undefined && before.judged && sameIps(before.announcing, echo.announcing);
    this.echo = { version: echo.version, announcing: echo.announcing, held: echo.holderIdentity === this.deps.identity, judged };
    this.rewriteFalseRecord();
  }

  /** Asks for one write when the latest judged echo, newer than our latest write, records other IPs than this node does. */
  private rewriteFalseRecord(): void {
    const echo = this.echoToJudge();
    const key = this.deps.recordAnnotation;
    if (echo === undefined || key === undefined) return;
    const recorded = (this.record.get(key) ?? '').split(',').filter((ip) => ip !== '');
    if (sameIps(recorded, echo.announcing)) return;
    this.rewrittenFor = echo.version;
    this.log.info({ event: 'recordRewritten', version: echo.version, leaseRecords: echo.announcing.join(','), announcing: recorded.join(',') }, 'this node\'s Lease records IPs other than those it announces (written by another client): writing its record again');
    this.alarm.ring();
  }

  /** The latest echo, if held by this node, the election judged it, no rewrite was asked for it yet, and it came after our latest write with none of ours pending. */
  private echoToJudge(): { readonly version: string; readonly announcing: readonly string[] } | undefined {
    const echo = this.echo;
    const own = this.storedVersion();
    // Not held (reaped, released): peers ignore its record, and taking it back writes ours anyway.
    if (echo === undefined || !echo.held || !echo.judged || echo.version === this.rewrittenFor || own === undefined || this.released) return undefined;
    // A write of ours pending, or the echo from before our latest write (that write's own echo will tell).
    if (this.writing || this.alarm.rung || !this.echoVersions.includes(own)) return undefined;
    return echo;
  }

  /**
   * Writes the Lease now rather than at the next renewal: to show the hold-down passed, or to
   * take the Lease back after a peer reaped it (the write meets a 409, reads, and acquires anew).
   */
  touch(): void {
    this.alarm.ring();
  }

  /** The resourceVersion of the Lease as we last stored it, if any. */
  storedVersion(): string | undefined {
    return this.cached?.metadata?.resourceVersion;
  }

  /** Sets another annotation this node keeps on its Lease (e.g. the conflicts it sees); written at once when it changed, cleared on release. */
  setAnnotation(key: string, value: string): void {
    if ((this.record.get(key) ?? '') === value) return;
    this.record.set(key, value);
    this.alarm.ring();
  }

  private annotations(): Record<string, string> {
    const record = this.deps.recordAnnotation === undefined ? {} : { [this.deps.recordAnnotation]: '' };
    return { ...record, ...Object.fromEntries(this.record) };
  }

  /** Renews every `renewMs` until `signal` aborts, then releases the Lease (holder cleared). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Armed before the renewal, so a record change while the PUT is in flight is written right after it.
      this.alarm.arm();
      const start = this.deps.clock.now();
      const renewed = await this.renew(signal);
      if (this.alarm.rung) continue;
      const period = renewed ? this.deps.renewMs : Math.min(this.deps.renewMs, this.deps.retryMs ?? this.deps.renewMs);
      await this.alarm.wait(signal, start + period - this.deps.clock.now());
    }
    await this.release();
  }

  /** One renewal; failures are logged and counted, never thrown. */
  async renew(signal?: AbortSignal): Promise<boolean> {
    const start = this.deps.clock.now();
    this.writing = true;
    try {
      const stored = await this.withTimeout(this.write(start), this.deps.requestTimeoutMs ?? this.deps.durationMs, signal);
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
    } finally {
      this.writing = false;
      // An echo judged while this write was in flight.
      this.rewriteFalseRecord();
    }
  }

  /** Clears the holder (and the record) so peers take over at once. Best effort, bounded by `releaseTimeoutMs`. */
  async release(): Promise<void> {
    this.storedAt = undefined;
    this.released = true;
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
      metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, ...Object.fromEntries(Object.keys(this.annotations()).map((k) => [k, ''])) } },
      spec: { ...lease.spec, holderIdentity: '', renewTime: this.deps.clock.wallTime() },
    });
    const first = await this.deps.writer.replace(released(current));
    if (first !== 'conflict') return first;
    const fresh = await this.deps.writer.get(this.deps.name);
    if (fresh?.spec?.holderIdentity !== this.deps.identity) return fresh; // someone else's now: nothing to release
    const again = await this.deps.writer.replace(released(fresh));
    if (again === 'conflict') throw new LeaseConflictError(this.deps.name);
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
    if (again === 'conflict') throw new LeaseConflictError(this.deps.name);
    return again;
  }

  private next(current: k8s.V1Lease | undefined, start: number): k8s.V1Lease {
    return renewedLease(current, {
      name: this.deps.name,
      identity: this.deps.identity,
      durationMs: this.deps.durationMs,
      now: this.deps.clock.wallTime(),
      // No gap in our renewals longer than the duration (else peers saw us die: a new acquisition).
      continuous: this.deps.continuous?.(start) ?? (this.storedAt !== undefined && start - this.storedAt <= this.deps.durationMs),
      annotations: this.annotations(),
      ...(this.deps.labels === undefined ? {} : { labels: this.deps.labels }),
    });
  }

  /** `work`, or a rejection once `limitMs` passed or `signal` aborted (the request itself is abandoned). */
  private async withTimeout<T>(work: Promise<T>, limitMs: number, signal?: AbortSignal): Promise<T> {
    const timer = new AbortController();
    const both = signal === undefined ? timer.signal : AbortSignal.any([signal, timer.signal]);
    const timeout = new Promise<never>((_, reject) => {
      this.deps.clock.sleep(limitMs, both).then(
        () => { reject(new LeaseRequestAbandonedError(`no answer within ${limitMs} ms`)); },
        () => { if (signal?.aborted === true) reject(new LeaseRequestAbandonedError('stopped')); },
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      timer.abort();
    }
  }
}

/** Whether two lists hold the same IPs, in any order (peers read a record as a set). */
function sameIps(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((ip) => set.has(ip));
}
