import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { httpStatusOf } from './client.js';
import { renewedLease, type LeaseWriter } from './lease-api.js';

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
class LeaseClaimer {
  private observed: Observation | undefined;

  constructor(
    private readonly store: LeaseWriter,
    private readonly name: string,
    private readonly identity: string,
    private readonly timings: LeaseTimings,
    private readonly clock: Clock,
  ) {}

  /** Returns true when `identity` holds the Lease after this call. Throws on API errors other than conflicts. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const current = await this.store.get(this.name);
    if (current === undefined) return (await this.store.create(this.renewed(undefined))) !== 'conflict';
    if (this.heldByLiveOther(current, now)) return false;
    // A replace of a Lease that is gone is a conflict too: the next round reads it as absent and creates it.
    return (await this.store.replace(this.renewed(current))) !== 'conflict';
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
      spec: { ...current.spec, holderIdentity: '', renewTime: this.clock.wallTime(), leaseDurationSeconds: 1 },
    });
  }

  private renewed(current: k8s.V1Lease | undefined): k8s.V1Lease {
    return renewedLease(current, {
      name: this.name,
      identity: this.identity,
      durationMs: this.timings.leaseDurationMs,
      now: this.clock.wallTime(),
      continuous: true,
    });
  }
}

export interface LeaderElectorDeps {
  readonly store: LeaseWriter;
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
