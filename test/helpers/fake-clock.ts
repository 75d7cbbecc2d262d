import type { Clock } from '../../src/shared/clock.js';

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

/** Lets pending promise callbacks (and the ones they schedule) run. */
export async function flushPromises(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A Clock that moves only when told. `sleep` resolves when `advance` passes its deadline, or
 * rejects with the signal's reason when the signal aborts first. Records nothing else.
 */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private sleepers: Sleeper[] = [];

  constructor(start = 0, private readonly epochMs = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  wallTime(): Date {
    return new Date(this.epochMs + this.time);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const sleeper: Sleeper = {
        at: this.time + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** Sleeps not yet resolved or aborted. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** Moves time forward by `ms`, waking due sleepers in deadline order and letting them run. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await flushPromises(); // let work started before the call register its sleeps
    for (;;) {
      const due = this.sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.sleepers = this.sleepers.filter((s) => s !== due);
      this.time = Math.max(this.time, due.at);
      due.resolve();
      await flushPromises();
    }
    this.time = target;
    await flushPromises();
  }
}
