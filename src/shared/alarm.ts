import type { Clock } from './clock.js';

/**
 * A wake-up call for a loop that sleeps between turns of work. The loop `arm`s it before it
 * looks at its work, others `ring` it when there is more, and `wait` returns at once if it
 * rang since the last `arm`. A wait also ends when its (long-lived) stop signal aborts or its
 * time is up, and always removes the listener it put on that signal: a process-lifetime
 * signal must not collect one listener per turn (undici's rule; `{ once: true }` removes a
 * listener only when it fires). No `AbortSignal.any` per turn either.
 */
export interface Alarm {
  /** Forgets earlier rings: only a ring after this call cuts the next wait short. */
  arm(): void;
  /** Ends the current wait, or the next one if none is running. */
  ring(): void;
  /** Whether it rang since the last `arm`. */
  readonly rung: boolean;
  /**
   * Resolves when it rings, `signal` aborts or, with `ms`, that long passed on the clock
   * (without `ms`, only a ring or the signal ends it). Never rejects.
   */
  wait(signal: AbortSignal, ms?: number): Promise<void>;
}

export interface AlarmDeps {
  readonly clock: Clock;
}

/** Creates an alarm, armed. */
export function createAlarm(deps: AlarmDeps): Alarm {
  let rung = false;
  // ends the wait in progress, if any
  let stopWaiting: (() => void) | undefined;

  return {
    arm() {
      rung = false;
    },
    ring() {
      rung = true;
      stopWaiting?.();
    },
    get rung() {
      return rung;
    },
    async wait(signal, ms) {
      if (rung || signal.aborted) return;
      const turn = new AbortController();
      const stop = (): void => { turn.abort(); };
      signal.addEventListener('abort', stop);
      stopWaiting = stop;
      try {
        await (ms === undefined ? untilAborted(turn.signal) : deps.clock.sleep(Math.max(0, ms), turn.signal).catch(() => undefined));
      } finally {
        signal.removeEventListener('abort', stop);
        stopWaiting = undefined;
        turn.abort(); // drops the clock's timer when the wait ended otherwise
      }
    },
  };
}

/** Resolves when `signal` (owned by one wait, then dropped) aborts. */
async function untilAborted(signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    signal.addEventListener('abort', () => { resolve(); }, { once: true });
  });
}
