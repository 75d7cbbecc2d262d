import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { NodeLease, type LeaseWriter } from '../../src/k8s/lease.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

/** An in-memory Lease store with optimistic concurrency, recording every call. */
class FakeLeaseWriter implements LeaseWriter {
  stored: k8s.V1Lease | undefined;
  calls: string[] = [];
  private rv = 0;
  failNext = 0;

  get(name: string): Promise<k8s.V1Lease | undefined> {
    this.calls.push(`get ${name}`);
    return Promise.resolve(this.stored);
  }

  create(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    this.calls.push('create');
    if (this.stored !== undefined) return Promise.resolve('conflict');
    return Promise.resolve(this.store(lease));
  }

  replace(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    this.calls.push(`put rv=${lease.metadata?.resourceVersion ?? ''}`);
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('connection refused'));
    }
    if (this.stored === undefined || this.stored.metadata?.resourceVersion !== lease.metadata?.resourceVersion) return Promise.resolve('conflict');
    return Promise.resolve(this.store(lease));
  }

  /** Another writer (our previous life) changes the Lease. */
  bump(): void {
    if (this.stored !== undefined) this.stored = { ...this.stored, metadata: { ...this.stored.metadata, resourceVersion: String(++this.rv) } };
  }

  private store(lease: k8s.V1Lease): k8s.V1Lease {
    this.stored = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return this.stored;
  }
}

function setup(): { clock: FakeClock; writer: FakeLeaseWriter; lease: NodeLease; alive: string[] } {
  const clock = new FakeClock(1000);
  const writer = new FakeLeaseWriter();
  const alive: string[] = [];
  const lease = new NodeLease({
    writer,
    name: 'ironlb-speaker-a',
    identity: 'a',
    durationMs: 3000,
    renewMs: 1000,
    recordAnnotation: 'ironlb.io/announcing',
    clock,
    logger: pino({ level: 'silent' }),
    onAlive: () => alive.push(`alive@${clock.now()}`),
  });
  return { clock, writer, lease, alive };
}

describe('NodeLease', () => {
  it('creates the Lease once, then renews with one PUT carrying the cached resourceVersion (no GET)', async () => {
    const { writer, lease } = setup();
    await lease.renew();
    await lease.renew();
    await lease.renew();
    expect(writer.calls).toEqual(['get ironlb-speaker-a', 'create', 'put rv=1', 'put rv=2']);
    expect(writer.stored?.spec?.holderIdentity).toBe('a');
    expect(writer.stored?.spec?.leaseDurationSeconds).toBe(3);
  });

  it('after a conflict reads once and retries once', async () => {
    const { writer, lease } = setup();
    await lease.renew();
    writer.bump();
    writer.calls = [];
    expect(await lease.renew()).toBe(true);
    expect(writer.calls).toEqual(['put rv=1', 'get ironlb-speaker-a', 'put rv=2']);
  });

  it.each([
    { name: 'renewals without a gap keep acquireTime', gapMs: 1000, keeps: true },
    { name: 'a gap longer than the duration starts a new acquisition', gapMs: 5000, keeps: false },
  ])('$name', async ({ gapMs, keeps }) => {
    const { clock, writer, lease } = setup();
    await lease.renew();
    const acquired = writer.stored?.spec?.acquireTime?.getTime();
    await clock.advance(gapMs);
    await lease.renew();
    expect(writer.stored?.spec?.acquireTime?.getTime() === acquired).toBe(keeps);
    expect(writer.stored?.spec?.renewTime?.getTime()).toBe(clock.wallTime().getTime());
  });

  it('counts itself alive for one duration from the start of the last good renewal, and says when it becomes alive', async () => {
    const { clock, writer, lease, alive } = setup();
    expect(lease.aliveUntil()).toBeUndefined();
    await lease.renew();
    expect(lease.aliveUntil()).toBe(4000);
    writer.failNext = 5;
    await clock.advance(1000);
    expect(await lease.renew()).toBe(false);
    expect(lease.aliveUntil()).toBe(4000);
    await clock.advance(4000);
    writer.failNext = 0;
    await lease.renew();
    expect(alive).toEqual(['alive@1000', 'alive@6000']);
  });

  it('records the announced IPs in the annotation and writes a change at once', async () => {
    const { clock, writer, lease } = setup();
    const ac = new AbortController();
    const running = lease.run(ac.signal);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/announcing']).toBe('');
    lease.setRecord(['192.0.2.1', '2001:db8::1']);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/announcing']).toBe('192.0.2.1,2001:db8::1');
    expect(clock.now()).toBe(1000);
    ac.abort();
    await running;
  });

  it('a record change during an in-flight renewal is written right after it, not a period later', async () => {
    const { clock, writer, lease } = setup();
    await lease.renew();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const replace = writer.replace.bind(writer);
    writer.replace = async (l) => { await gate; return replace(l); };
    const ac = new AbortController();
    const running = lease.run(ac.signal);
    await flushPromises();
    lease.setRecord(['192.0.2.7']);
    open();
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/announcing']).toBe('192.0.2.7');
    expect(clock.now()).toBe(1000);
    ac.abort();
    await running;
  });

  it('releases on stop: holder and record cleared, not alive any more', async () => {
    const { writer, lease } = setup();
    const ac = new AbortController();
    lease.setRecord(['192.0.2.1']);
    const running = lease.run(ac.signal);
    await flushPromises();
    ac.abort();
    await running;
    expect(writer.stored?.spec?.holderIdentity).toBe('');
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/announcing']).toBe('');
    expect(lease.aliveUntil()).toBeUndefined();
  });

  it('releases even when an abandoned renewal landed after all (a 409 on release: read once, retry)', async () => {
    const { writer, lease } = setup();
    await lease.renew();
    writer.bump(); // the renewal in flight at SIGTERM reached the server
    writer.calls = [];
    await lease.release();
    expect(writer.stored?.spec?.holderIdentity).toBe('');
    expect(writer.calls).toEqual([`put rv=1`, 'get ironlb-speaker-a', 'put rv=2']);
  });
});
