import { describe, expect, it } from 'vitest';
import { createWorkQueue, type SyncHandler, type WorkQueue } from '../../src/shared/work-queue.js';
import type { SyncResult } from '../../src/shared/sync-result.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

const policy = { baseMs: 100, maxMs: 1000, jitter: 0 };

/** A handler whose calls stay open until the test settles them. */
class GatedHandler {
  readonly calls: string[] = [];
  private readonly gates: { key: string; resolve: (r: SyncResult) => void }[] = [];
  active = 0;
  maxActive = 0;

  readonly handle: SyncHandler<string> = (key) => {
    this.calls.push(key);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise<SyncResult>((resolve) => {
      this.gates.push({
        key,
        resolve: (r) => {
          this.active -= 1;
          resolve(r);
        },
      });
    });
  };

  async finish(key: string, result: SyncResult = 'ok'): Promise<void> {
    const i = this.gates.findIndex((g) => g.key === key);
    if (i < 0) throw new Error(`no open call for ${key}`);
    const [gate] = this.gates.splice(i, 1);
    gate!.resolve(result);
    await flushPromises();
  }

  get open(): string[] {
    return this.gates.map((g) => g.key);
  }
}

function setup(allKeys: string[] = []): { clock: FakeClock; queue: WorkQueue<string>; handler: GatedHandler; stop: AbortController } {
  const clock = new FakeClock();
  const queue = createWorkQueue<string>({ clock, random: () => 0.5, listAllKeys: () => allKeys, backoff: policy });
  return { clock, queue, handler: new GatedHandler(), stop: new AbortController() };
}

describe('WorkQueue', () => {
  it('deduplicates keys while they are queued', async () => {
    const { queue, handler, stop } = setup();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.stats().depth).toBe(2);
    const running = queue.run(stop.signal, handler.handle);
    await flushPromises();
    await handler.finish('a');
    await handler.finish('b');
    expect(handler.calls).toEqual(['a', 'b']);
    stop.abort();
    await running;
  });

  it('never processes one key concurrently; a key added during processing runs again after', async () => {
    const { queue, handler, stop } = setup();
    const running = queue.run(stop.signal, handler.handle, 3);
    queue.add('a');
    await flushPromises();
    queue.add('a');
    queue.add('a');
    await flushPromises();
    expect(handler.open).toEqual(['a']);
    await handler.finish('a');
    expect(handler.open).toEqual(['a']);
    await handler.finish('a');
    expect(handler.calls).toEqual(['a', 'a']);
    expect(handler.maxActive).toBe(1);
    stop.abort();
    await running;
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    const { queue, handler, stop } = setup();
    for (const key of ['a', 'b', 'c']) queue.add(key);
    const running = queue.run(stop.signal, handler.handle, 2);
    await flushPromises();
    expect(handler.open).toEqual(['a', 'b']);
    await handler.finish('a');
    expect(handler.open).toEqual(['b', 'c']);
    stop.abort();
    await handler.finish('b');
    await handler.finish('c');
    await running;
  });

  it.each<{ name: string; results: SyncResult[]; advance: number; wantCalls: number; wantFailures: number }>([
    { name: 'retry comes back after the base delay', results: ['retry', 'retry'], advance: 100, wantCalls: 2, wantFailures: 2 },
    { name: 'retry does not come back early', results: ['retry'], advance: 99, wantCalls: 1, wantFailures: 1 },
    { name: 'second retry waits twice as long', results: ['retry', 'retry'], advance: 299, wantCalls: 2, wantFailures: 2 },
    { name: 'second retry after 100 + 200 ms', results: ['retry', 'retry', 'retry'], advance: 300, wantCalls: 3, wantFailures: 3 },
    { name: 'ok forgets the backoff', results: ['retry', 'ok'], advance: 100, wantCalls: 2, wantFailures: 0 },
    { name: 'giveUp drops the key', results: ['giveUp'], advance: 10_000, wantCalls: 1, wantFailures: 0 },
  ])('$name', async ({ results, advance, wantCalls, wantFailures }) => {
    const { clock, queue, stop } = setup();
    const calls: number[] = [];
    const running = queue.run(stop.signal, () => {
      calls.push(clock.now());
      return Promise.resolve(results[calls.length - 1] ?? 'ok');
    });
    queue.add('a');
    await flushPromises();
    // Step through time so every requeue happens at its own deadline.
    for (let t = 0; t < advance; t += 50) await clock.advance(Math.min(50, advance - t));
    expect(calls.length).toBe(wantCalls);
    expect(queue.failures('a')).toBe(wantFailures);
    stop.abort();
    await running;
  });

  it('caps the backoff at maxMs and forget resets it', async () => {
    const { clock, queue } = setup();
    for (let i = 0; i < 10; i++) queue.addRateLimited('a');
    // attempts 0..9: the earliest wake-up (100 ms) wins; the exponent still grew.
    expect(queue.failures('a')).toBe(10);
    expect(queue.stats().delayed).toBe(1);
    await clock.advance(100);
    expect(queue.stats()).toMatchObject({ delayed: 0, depth: 1 });
    queue.addRateLimited('a'); // attempt 10: 100 * 2^10 capped at 1000 ms
    await clock.advance(999);
    expect(queue.stats().delayed).toBe(1);
    await clock.advance(1);
    expect(queue.stats()).toMatchObject({ delayed: 0, depth: 1 });
    queue.forget('a');
    expect(queue.failures('a')).toBe(0);
    queue.addRateLimited('a'); // back to the base delay
    await clock.advance(99);
    expect(queue.stats().delayed).toBe(1);
    await clock.advance(1);
    expect(queue.stats().delayed).toBe(0);
  });

  it('reprocessAll enqueues every key from listAllKeys', async () => {
    const { queue, stop } = setup(['x', 'y', 'cfg']);
    const seen: string[] = [];
    const running = queue.run(stop.signal, (key) => {
      seen.push(key);
      return Promise.resolve(key === 'cfg' && seen.length === 1 ? 'reprocessAll' : 'ok');
    });
    queue.add('cfg');
    await flushPromises();
    expect(seen).toEqual(['cfg', 'x', 'y', 'cfg']);
    stop.abort();
    await running;
  });

  it('a handler that throws is retried and counted', async () => {
    const { clock, queue, stop } = setup();
    let n = 0;
    const running = queue.run(stop.signal, () => {
      n += 1;
      return n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve('ok');
    });
    queue.add('a');
    await clock.advance(100);
    expect(n).toBe(2);
    expect(queue.stats()).toMatchObject({ handlerErrors: 1, retries: 1, processed: 2 });
    stop.abort();
    await running;
  });

  it('run settles only after in-flight handlers finish, and cancels pending backoffs', async () => {
    const { clock, queue, handler, stop } = setup();
    const running = queue.run(stop.signal, handler.handle);
    let settled = false;
    void running.then(() => (settled = true));
    queue.add('a');
    queue.addRateLimited('later');
    await flushPromises();
    stop.abort();
    await flushPromises();
    expect(settled).toBe(false);
    queue.add('b'); // ignored once stopping
    await handler.finish('a', 'retry'); // no requeue once stopping
    await running;
    expect(settled).toBe(true);
    expect(handler.calls).toEqual(['a']);
    expect(clock.pending).toBe(0);
    expect(queue.stats()).toMatchObject({ depth: 0, inFlight: 0, delayed: 0 });
  });

  it('an already-aborted signal settles at once without processing', async () => {
    const { queue, handler } = setup();
    queue.add('a');
    await queue.run(AbortSignal.abort(), handler.handle);
    expect(handler.calls).toEqual([]);
  });

  it('run may be called once', async () => {
    const { queue, handler } = setup();
    await queue.run(AbortSignal.abort(), handler.handle);
    await expect(queue.run(AbortSignal.abort(), handler.handle)).rejects.toThrow(/twice/);
  });

  it('reports depth for metrics', () => {
    const { queue } = setup();
    queue.add('a');
    queue.add('b');
    queue.addRateLimited('c');
    expect(queue.stats()).toEqual({ depth: 2, inFlight: 0, delayed: 1, processed: 0, retries: 0, giveUps: 0, handlerErrors: 0 });
  });
});
