import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { LeaseWriter } from '../../src/k8s/lease-api.js';
import { answerGraceMs, NodeLease } from '../../src/k8s/node-lease.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

/** An in-memory Lease store with optimistic concurrency, recording every call. */
class FakeLeaseWriter implements LeaseWriter {
  stored: k8s.V1Lease | undefined;
  calls: string[] = [];
  private rv = 0;
  failNext = 0;
  /** Every write waits this long on the clock before it is stored and answered (a slow API server). */
  latencyMs = 0;
  /** Clock times at which PUTs started. */
  putStarts: number[] = [];

  constructor(private readonly clock: FakeClock) {}

  get(name: string): Promise<k8s.V1Lease | undefined> {
    this.calls.push(`get ${name}`);
    return Promise.resolve(this.stored);
  }

  async create(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    this.calls.push('create');
    if (this.latencyMs > 0) await this.clock.sleep(this.latencyMs);
    if (this.stored !== undefined) return 'conflict';
    return this.store(lease);
  }

  async replace(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'> {
    this.calls.push(`put rv=${lease.metadata?.resourceVersion ?? ''}`);
    this.putStarts.push(this.clock.now());
    if (this.latencyMs > 0) await this.clock.sleep(this.latencyMs);
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
  const writer = new FakeLeaseWriter(clock);
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
  it('declares its duration but abandons a request after requestTimeoutMs (the split membership Lease: 2 h declared, 40 s wait)', async () => {
    const clock = new FakeClock(1000);
    const writer = new FakeLeaseWriter(clock);
    const lease = new NodeLease({ writer, name: 'ironlb-speaker-a', identity: 'a', durationMs: 7_200_000, requestTimeoutMs: 40_000, renewMs: 3_600_000, clock, logger: pino({ level: 'silent' }) });
    await lease.renew();
    expect(writer.stored?.spec?.leaseDurationSeconds).toBe(7200);
    writer.latencyMs = 60_000;
    let settled: boolean | undefined;
    void lease.renew().then((ok) => { settled = ok; });
    await clock.advance(40_000);
    await flushPromises();
    expect(settled).toBe(false);
  });

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

  it('counts a slow answer from shortly before it arrived, a fast one from the start of the request', async () => {
    const { clock, writer, lease } = setup();
    await lease.renew();
    writer.latencyMs = 300;
    const fast = lease.renew();
    await clock.advance(300);
    await fast;
    expect(lease.aliveUntil()).toBe(1000 + 3000);
    writer.latencyMs = 2000;
    const slow = lease.renew();
    await clock.advance(2000);
    await slow;
    expect(lease.aliveUntil()).toBe(1300 + 2000 - answerGraceMs + 3000);
  });

  it('says it is alive again when it lapsed while a renewal was in flight', async () => {
    const { clock, writer, lease, alive } = setup();
    await lease.renew(); // alive until 4000
    await clock.advance(2500);
    writer.latencyMs = 1000;
    const late = lease.renew(); // starts at 3500, answered at 4500: dead from 4000 to 4500
    await clock.advance(1000);
    expect(await late).toBe(true);
    expect(alive).toEqual(['alive@1000', 'alive@4500']);
  });

  // 3 s Lease, 1 s renewals: once requests are slow, up to 2.5 s each, the node never counts itself
  // dead (the first slow one after fast ones must be answered within 2 s: docs/speaker.md).
  it.each([
    { latencyMs: 500, period: 1000, lapses: false },
    { latencyMs: 2000, period: 2000, lapses: false },
    { latencyMs: 2400, period: 2400, lapses: false },
    { latencyMs: 2600, period: 2600, lapses: true },
  ])('with $latencyMs ms per request renews every $period ms, start to start; lapses: $lapses', async ({ latencyMs, period, lapses: expectLapses }) => {
    const { clock, writer, lease } = setup();
    writer.latencyMs = latencyMs;
    const ac = new AbortController();
    const running = lease.run(ac.signal);
    await clock.advance(latencyMs); // the first write (a create) answers: slow from the start
    const lapses: number[] = [];
    for (let t = 0; t < 12_000; t += 100) {
      await clock.advance(100);
      if (!(clock.now() < (lease.aliveUntil() ?? 0))) lapses.push(clock.now());
    }
    expect(lapses.length > 0).toBe(expectLapses);
    const gaps = writer.putStarts.slice(1).map((t, i) => t - (writer.putStarts[i] ?? 0));
    expect(new Set(gaps)).toEqual(new Set([period]));
    ac.abort();
    await clock.advance(latencyMs);
    await running;
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

  it('sets another annotation (the interfaces record): a change is written at once, an unchanged value costs no write', async () => {
    const { clock, writer, lease } = setup();
    lease.setAnnotation('ironlb.io/interfaces', 'eth0=02:00:00:00:00:01;192.0.2.0/24');
    const ac = new AbortController();
    const running = lease.run(ac.signal);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/interfaces']).toBe('eth0=02:00:00:00:00:01;192.0.2.0/24');
    const writes = writer.calls.length;
    lease.setAnnotation('ironlb.io/interfaces', 'eth0=02:00:00:00:00:01;192.0.2.0/24');
    await flushPromises();
    expect(writer.calls.length).toBe(writes);
    lease.setAnnotation('ironlb.io/interfaces', 'eth0=02:00:00:00:00:01;192.0.2.0/24,2001:db8::/64');
    await flushPromises();
    expect(writer.calls.length).toBe(writes + 1);
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/interfaces']).toBe('eth0=02:00:00:00:00:01;192.0.2.0/24,2001:db8::/64');
    expect(writer.stored?.metadata?.annotations?.['ironlb.io/announcing']).toBe('');
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

describe('NodeLease: a record another client wrote is written again (split liveness writes on change only)', () => {
  const key = 'ironlb.io/announcing';

  /** A split membership Lease: rewritten hourly, a failed write retried after 1 s. */
  function split(): { clock: FakeClock; writer: FakeLeaseWriter; lease: NodeLease; puts: () => number; run: () => () => Promise<void> } {
    const clock = new FakeClock(1000);
    const writer = new FakeLeaseWriter(clock);
    const lease = new NodeLease({ writer, name: 'ironlb-speaker-a', identity: 'a', durationMs: 7_200_000, requestTimeoutMs: 40_000, renewMs: 3_600_000, retryMs: 1000, recordAnnotation: key, clock, logger: pino({ level: 'silent' }) });
    const run = (): (() => Promise<void>) => {
      const ac = new AbortController();
      const running = lease.run(ac.signal);
      return async () => { ac.abort(); await running; };
    };
    return { clock, writer, lease, puts: () => writer.calls.filter((c) => c.startsWith('put')).length, run };
  }

  /** Another client (kubectl annotate, an older speaker) sets the record on the stored Lease; returns the echo the watch delivers. */
  function edit(writer: FakeLeaseWriter, value: string): { version: string; announcing: string[]; holderIdentity: string | undefined } {
    const stored = writer.stored;
    if (stored === undefined) throw new Error('nothing stored');
    writer.stored = { ...stored, metadata: { ...stored.metadata, annotations: { ...stored.metadata?.annotations, [key]: value } } };
    writer.bump();
    return { version: writer.stored.metadata?.resourceVersion ?? '', announcing: value.split(',').filter((s) => s !== ''), holderIdentity: writer.stored.spec?.holderIdentity };
  }

  /** The echo of what is stored now. */
  function echoOf(writer: FakeLeaseWriter): { version: string; announcing: string[]; holderIdentity: string | undefined } {
    return { version: writer.stored?.metadata?.resourceVersion ?? '', announcing: (writer.stored?.metadata?.annotations?.[key] ?? '').split(',').filter((s) => s !== ''), holderIdentity: writer.stored?.spec?.holderIdentity };
  }

  it('writes its record again once the next election has judged an echo that claims an IP it does not announce; once, and not for the echo of that write', async () => {
    const { writer, lease, puts, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    const claim = edit(writer, '192.0.2.1,192.0.2.9');
    const before = puts();
    lease.echoed(claim);
    await flushPromises();
    // Not judged yet: the speaker may win the claimed IP by the tie rule and take it (the claim comes true).
    expect(puts(), 'no write before the election judged the echo').toBe(before);
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.[key]).toBe('192.0.2.1');
    expect(writer.calls.slice(-3), 'a 409 on the stale resourceVersion, one read, one write').toEqual([`put rv=${String(Number(claim.version) - 1)}`, 'get ironlb-speaker-a', `put rv=${claim.version}`]);
    const after = puts();
    // More elections with the same echo, and the rewrite's own echo: nothing more.
    lease.setRecord(['192.0.2.1']);
    lease.echoed(claim);
    lease.setRecord(['192.0.2.1']);
    lease.echoed(echoOf(writer));
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    expect(puts()).toBe(after);
    await stop();
  });

  it('an edit that drops an IP it announces is written again too (peers would hash that IP elsewhere)', async () => {
    const { writer, lease, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1', '192.0.2.2']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    lease.echoed(edit(writer, '192.0.2.2'));
    lease.setRecord(['192.0.2.1', '192.0.2.2']);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.[key]).toBe('192.0.2.1,192.0.2.2');
    await stop();
  });

  it('a rewrite that cannot land is not repeated per election: the loop retries it once a second like any failed write', async () => {
    const { clock, writer, lease, puts, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    const claim = edit(writer, '192.0.2.1,192.0.2.9');
    lease.echoed(claim);
    writer.failNext = 1_000;
    const before = puts();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    expect(puts()).toBe(before + 1);
    for (let i = 0; i < 20; i += 1) {
      lease.setRecord(['192.0.2.1']);
      lease.echoed(claim);
      lease.setRecord(['192.0.2.1']);
      await flushPromises();
    }
    expect(puts(), 'elections and repeated echoes ask for no write of their own').toBe(before + 1);
    await clock.advance(5000);
    expect(puts() - before, 'the failed write retried every second').toBeLessThanOrEqual(6);
    writer.failNext = 0;
    await clock.advance(1000);
    expect(writer.stored?.metadata?.annotations?.[key]).toBe('192.0.2.1');
    await stop();
  });

  it('an echo of its own earlier write, delivered after a later write was stored, is no reason to write', async () => {
    const { writer, lease, puts, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    const first = echoOf(writer);
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    const second = echoOf(writer);
    const before = puts();
    lease.echoed(first);
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    expect(puts()).toBe(before);
    lease.echoed(second);
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    expect(puts()).toBe(before);
    await stop();
  });

  it('an edit stored after its in-flight write, echoed before that write is answered, is written over once the answer comes', async () => {
    const { writer, lease, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    // The next write is stored, then its answer waits while the watch delivers it and an edit after it.
    let answer: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { answer = resolve; });
    const replace = writer.replace.bind(writer);
    let hold = true;
    writer.replace = async (l) => { const r = await replace(l); if (hold) { hold = false; await held; } return r; };
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    lease.echoed(edit(writer, '192.0.2.2,192.0.2.9'));
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.[key], 'in flight: judged when it is answered').toBe('192.0.2.2,192.0.2.9');
    answer();
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.[key]).toBe('192.0.2.2');
    await stop();
  });

  it('an edit stored before its in-flight write is overwritten by that write: no second write', async () => {
    const { writer, lease, puts, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const replace = writer.replace.bind(writer);
    writer.replace = async (l) => { await gate; return replace(l); };
    const before = puts();
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    lease.echoed(edit(writer, '192.0.2.1,192.0.2.9'));
    lease.setRecord(['192.0.2.2']);
    open();
    await flushPromises();
    expect(writer.stored?.metadata?.annotations?.[key]).toBe('192.0.2.2');
    lease.echoed(echoOf(writer));
    lease.setRecord(['192.0.2.2']);
    await flushPromises();
    expect(puts() - before, 'its write (a 409 on the edit, then stored): nothing after').toBe(2);
    await stop();
  });

  it('a Lease without a holder (reaped, keeping the record) is not rewritten: peers ignore its record, and taking it back writes the record anyway', async () => {
    const { clock, writer, lease, puts, run } = split();
    const stop = run();
    lease.setRecord(['192.0.2.1']);
    await flushPromises();
    lease.echoed(echoOf(writer));
    const stored = writer.stored!;
    writer.stored = { ...stored, spec: { ...stored.spec, holderIdentity: '' } };
    writer.bump();
    const before = puts();
    lease.echoed(echoOf(writer));
    // The write that takes it back fails (the API unreachable): retried after 1 s, not at once for the reaped echo.
    writer.failNext = 1;
    lease.setRecord([]);
    await flushPromises();
    lease.setRecord([]);
    await flushPromises();
    expect(puts() - before).toBe(1);
    await clock.advance(1000);
    expect(writer.stored.spec?.holderIdentity).toBe('a');
    await stop();
  });
});
