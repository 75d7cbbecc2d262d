import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../src/k8s/leader-election.js';
import type { LeaseWriter } from '../../src/k8s/lease-api.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

/** One namespace's Leases in memory, with resourceVersions and 409s as the API server has them. */
class MemoryLeases implements LeaseWriter {
  private readonly leases = new Map<string, k8s.V1Lease>();
  private rv = 0;
  /** While set, every call fails as an unreachable API server would. */
  down = false;
  writes = 0;

  put(lease: k8s.V1Lease): void {
    this.store(lease);
  }

  peek(name: string): k8s.V1Lease | undefined {
    return this.leases.get(name);
  }

  get(name: string): Promise<k8s.V1Lease | undefined> {
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    return Promise.resolve(this.leases.get(name));
  }

  create(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    if (this.leases.has(lease.metadata?.name ?? '')) return Promise.resolve('conflict');
    return Promise.resolve(this.store(lease));
  }

  replace(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const stored = this.leases.get(lease.metadata?.name ?? '');
    if (stored?.metadata?.resourceVersion !== lease.metadata?.resourceVersion) return Promise.resolve('conflict');
    return Promise.resolve(this.store(lease));
  }

  private store(lease: k8s.V1Lease): k8s.V1Lease {
    this.writes += 1;
    const stored = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    this.leases.set(lease.metadata?.name ?? '', stored);
    return stored;
  }
}

const name = 'ironlb-controller';
// client-go's defaults
const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

interface Run {
  readonly stop: AbortController;
  readonly done: Promise<void>;
  /** The leadership signals handed to `lead`, in order. */
  readonly terms: AbortSignal[];
}

function elect(leases: MemoryLeases, identity: string, clock: FakeClock): Run {
  const elector = new LeaderElector({ store: leases, name, identity, timings, clock, logger: pino({ level: 'silent' }) });
  const stop = new AbortController();
  const terms: AbortSignal[] = [];
  const done = elector.run(stop.signal, async (leader) => {
    terms.push(leader);
    await new Promise<void>((resolve) => { leader.addEventListener('abort', () => { resolve(); }, { once: true }); });
  });
  return { stop, done, terms };
}

const leading = (run: Run): boolean => run.terms.some((s) => !s.aborted);

function heldBy(holder: string, renewTime: Date): k8s.V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: renewTime, renewTime, leaseTransitions: 3 },
  };
}

describe('leader election (fake clock)', () => {
  it('stops leading the moment the renew deadline passes without a renewal, and writes nothing more', async () => {
    const clock = new FakeClock();
    const leases = new MemoryLeases();
    const a = elect(leases, 'a', clock);
    await flushPromises();
    expect(leading(a)).toBe(true);
    leases.down = true; // renewals from t=2 s on fail
    await clock.advance(10_000);
    expect(leading(a)).toBe(true); // 10 s since the last renewal: not past the deadline yet
    await clock.advance(2_000);
    expect(a.terms).toHaveLength(1);
    expect(a.terms[0]?.aborted).toBe(true); // 12 s > 10 s: the leader's signal aborted at once
    const writes = leases.writes;
    await clock.advance(20_000); // still unreachable: no write lands, no new term
    expect(leases.writes).toBe(writes);
    expect(a.terms).toHaveLength(1);
    a.stop.abort();
    await clock.advance(0);
    await a.done;
  });

  it('releases the Lease on shutdown, so another replica takes it at once', async () => {
    const clock = new FakeClock();
    const leases = new MemoryLeases();
    const a = elect(leases, 'a', clock);
    await flushPromises();
    expect(leading(a)).toBe(true);
    a.stop.abort();
    await a.done;
    expect(a.terms[0]?.aborted).toBe(true);
    expect(leases.peek(name)?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const b = elect(leases, 'b', clock);
    await flushPromises();
    expect(leading(b)).toBe(true);
    expect(leases.peek(name)?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    b.stop.abort();
    await b.done;
  });

  it('takes over a Lease only once it has not changed for a whole duration, by its own clock', async () => {
    const clock = new FakeClock();
    const leases = new MemoryLeases();
    leases.put(heldBy('a', new Date(0))); // renewTime far in the past: ignored, only change is judged
    const b = elect(leases, 'b', clock);
    await flushPromises();
    expect(leading(b)).toBe(false);
    await clock.advance(14_000);
    expect(leading(b)).toBe(false); // observed unchanged for 14 s < 15 s
    await clock.advance(2_000);
    expect(leading(b)).toBe(true);
    expect(leases.peek(name)?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    b.stop.abort();
    await b.done;
  });

  it('does not take over while the holder keeps renewing', async () => {
    const clock = new FakeClock();
    const leases = new MemoryLeases();
    leases.put(heldBy('a', clock.wallTime()));
    const b = elect(leases, 'b', clock);
    for (let t = 0; t < 40_000; t += 5_000) {
      leases.put(heldBy('a', clock.wallTime())); // a renews: a new resourceVersion
      await clock.advance(5_000);
      expect(leading(b)).toBe(false);
    }
    b.stop.abort();
    await b.done;
  });

  it('re-acquires at once after a restart under the same identity, keeping acquireTime and transitions', async () => {
    const clock = new FakeClock(60_000);
    const leases = new MemoryLeases();
    const acquired = new Date(Date.UTC(2026, 0, 1) + 1_000);
    leases.put({ ...heldBy('a', acquired), spec: { ...heldBy('a', acquired).spec, renewTime: clock.wallTime() } }); // our previous life, not released
    const a = elect(leases, 'a', clock);
    await flushPromises();
    expect(leading(a)).toBe(true);
    expect(leases.peek(name)?.spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 3, acquireTime: acquired });
    a.stop.abort();
    await a.done;
  });
});
