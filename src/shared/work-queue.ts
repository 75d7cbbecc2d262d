import { backoffDelay, defaultBackoff, type BackoffPolicy } from './backoff.js';
import type { Clock } from './clock.js';
import type { SyncResult } from './sync-result.js';

/** What the queue needs from outside. */
export interface WorkQueueDeps<K extends string> {
  readonly clock: Clock;
  /** 0 <= r < 1, for backoff jitter. */
  readonly random: () => number;
  /** Every key there is, for `reprocessAll` (e.g. all Services in the informer cache). */
  readonly listAllKeys: () => Iterable<K>;
  readonly backoff?: BackoffPolicy;
}

/** Handles one key. `signal` aborts when the queue stops; the handler should then return soon. */
export type SyncHandler<K extends string> = (key: K, signal: AbortSignal) => Promise<SyncResult>;

/** Plain counters for metrics (wired to prom-client by the caller). */
export interface WorkQueueStats {
  /** Keys waiting to be processed. */
  readonly depth: number;
  /** Keys being processed now. */
  readonly inFlight: number;
  /** Keys waiting out a backoff before they are queued again. */
  readonly delayed: number;
  /** Total keys handled. */
  readonly processed: number;
  /** Total `retry` results (including handlers that threw). */
  readonly retries: number;
  /** Total `giveUp` results. */
  readonly giveUps: number;
  /** Total handler calls that threw (a bug in the handler; counted as retry). */
  readonly handlerErrors: number;
}

/**
 * One keyed, deduplicating work queue, like client-go's rate-limited workqueue:
 * - `add(key)` is a no-op while the key is queued; a key is never processed by two workers at
 *   once: added while in flight, it is queued again once the handler returns;
 * - `addRateLimited(key)` queues after a per-key exponential backoff (capped); `forget` resets it;
 * - `run` turns handler results (SyncResult) into requeues and resyncs.
 * Informer callbacks only call `add`; everything else happens in `run`.
 */
export interface WorkQueue<K extends string> {
  add(key: K): void;
  addRateLimited(key: K): void;
  forget(key: K): void;
  /** How many times in a row `key` was rate-limited since it was last forgotten. */
  failures(key: K): number;
  /**
   * Processes keys with `concurrency` workers until `signal` aborts; settles once every
   * in-flight handler has returned and pending backoffs are cancelled. Callable once.
   */
  run(signal: AbortSignal, handler: SyncHandler<K>, concurrency?: number): Promise<void>;
  stats(): WorkQueueStats;
}

/** Creates a work queue; nothing starts until `run`. */
export function createWorkQueue<K extends string>(deps: WorkQueueDeps<K>): WorkQueue<K> {
  return new KeyedWorkQueue(deps);
}

class KeyedWorkQueue<K extends string> implements WorkQueue<K> {
  private readonly policy: BackoffPolicy;
  // FIFO of keys to process; every key in it is also in `dirty`.
  private queue: K[] = [];
  // keys that need processing (queued, or re-added while in flight)
  private readonly dirty = new Set<K>();
  // keys a worker is handling now
  private readonly processing = new Set<K>();
  // key -> consecutive rate-limited adds, for the backoff exponent
  private readonly failureCounts = new Map<K, number>();
  // key -> local time at which its pending backoff ends
  private readonly waiting = new Map<K, number>();
  // workers parked until a key arrives or the queue stops
  private wakers: (() => void)[] = [];
  // cancels pending backoff sleeps when the queue stops
  private readonly timers = new AbortController();
  private started = false;
  private stopping = false;
  private counters = { processed: 0, retries: 0, giveUps: 0, handlerErrors: 0 };

  constructor(private readonly deps: WorkQueueDeps<K>) {
    this.policy = deps.backoff ?? defaultBackoff;
  }

  add(key: K): void {
    if (this.stopping || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued when its handler returns
    this.queue.push(key);
    this.wakers.shift()?.();
  }

  addRateLimited(key: K): void {
    if (this.stopping) return;
    const attempt = this.failureCounts.get(key) ?? 0;
    this.failureCounts.set(key, attempt + 1);
    const delay = backoffDelay(this.policy, attempt, this.deps.random());
    const readyAt = this.deps.clock.now() + delay;
    const pending = this.waiting.get(key);
    if (pending !== undefined && pending <= readyAt) return; // an earlier wake-up is already set
    this.waiting.set(key, readyAt);
    this.deps.clock.sleep(delay, this.timers.signal).then(
      () => {
        if (this.waiting.get(key) !== readyAt) return; // superseded by an earlier one
        this.waiting.delete(key);
        this.add(key);
      },
      () => undefined, // cancelled at stop
    );
  }

  forget(key: K): void {
    this.failureCounts.delete(key);
  }

  failures(key: K): number {
    return this.failureCounts.get(key) ?? 0;
  }

  stats(): WorkQueueStats {
    return { depth: this.queue.length, inFlight: this.processing.size, delayed: this.waiting.size, ...this.counters };
  }

  async run(signal: AbortSignal, handler: SyncHandler<K>, concurrency = 1): Promise<void> {
    if (this.started) throw new Error('bug: WorkQueue.run called twice');
    this.started = true;
    const stop = (): void => {
      this.stopping = true;
      for (const wake of this.wakers) wake();
      this.wakers = [];
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    try {
      const workers = Array.from({ length: Math.max(1, concurrency) }, () => this.work(signal, handler));
      await Promise.all(workers);
    } finally {
      signal.removeEventListener('abort', stop);
      this.timers.abort();
      this.waiting.clear();
      this.queue = [];
      this.dirty.clear();
    }
  }

  private async work(signal: AbortSignal, handler: SyncHandler<K>): Promise<void> {
    for (let key = await this.next(); key !== undefined; key = await this.next()) {
      const result = await this.call(handler, key, signal);
      this.counters.processed += 1;
      this.apply(key, result);
      this.done(key);
    }
  }

  private async call(handler: SyncHandler<K>, key: K, signal: AbortSignal): Promise<SyncResult> {
    try {
      return await handler(key, signal);
    } catch {
      // A handler is expected to return a SyncResult; a throw is its bug. Retrying with
      // backoff keeps the worker alive and the key from being lost.
      this.counters.handlerErrors += 1;
      return 'retry';
    }
  }

  private apply(key: K, result: SyncResult): void {
    switch (result) {
      case 'ok':
        this.forget(key);
        return;
      case 'retry':
        this.counters.retries += 1;
        this.addRateLimited(key);
        return;
      case 'reprocessAll':
        this.forget(key);
        for (const k of this.deps.listAllKeys()) this.add(k);
        return;
      case 'giveUp':
        this.counters.giveUps += 1;
        this.forget(key);
        return;
    }
  }

  private done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.stopping) {
      this.queue.push(key);
      this.wakers.shift()?.();
    }
  }

  private async next(): Promise<K | undefined> {
    while (!this.stopping) {
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
    return undefined;
  }
}
